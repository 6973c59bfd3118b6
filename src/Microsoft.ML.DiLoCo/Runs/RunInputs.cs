using Microsoft.ML.DiLoCo.Data;
using static TorchSharp.torch;

namespace Microsoft.ML.DiLoCo.Runs;

/// <summary>What the edge hands a run besides its plan: the vocabulary size, the packed data, the seed and the starting weights.</summary>
/// <param name="InitialWeights">Fine-tuning: θ0 in the model's parameter order (shapes checked by the edge); null for random weights.</param>
internal sealed record RunInputs(int VocabularySize, PackedWindows Train, PackedWindows? Validation, int Seed, IReadOnlyList<Tensor>? InitialWeights = null);
