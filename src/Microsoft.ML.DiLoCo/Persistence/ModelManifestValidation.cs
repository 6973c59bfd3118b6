using System.Globalization;
using Microsoft.ML.DiLoCo.Model;
using Microsoft.ML.DiLoCo.Tokenization;

namespace Microsoft.ML.DiLoCo.Persistence;

/// <summary>
/// Checks a manifest read from a file against what the library can build, before anything is allocated from its
/// sizes: the architecture must be valid, the tokenizer known, and the tensor list must be exactly the layout that
/// architecture implies (names, shapes, contiguous offsets, lengths in the stored precision).
/// </summary>
internal static class ModelManifestValidation
{
    /// <summary>The validated pieces a reader needs.</summary>
    internal sealed record Validated(TransformerOptions Architecture, LanguageModelTokenizer Tokenizer, WeightPrecision Precision);

    /// <exception cref="InvalidDataException">Any field is missing, out of range or inconsistent; the message names it.</exception>
    public static Validated Check(ModelManifest manifest)
    {
        if (manifest.FormatVersion > ModelManifest.CurrentFormatVersion)
            throw new InvalidDataException($"The model file has format version {manifest.FormatVersion}; this library reads versions up to {ModelManifest.CurrentFormatVersion}. Update Microsoft.ML.DiLoCo to load it.");
        if (manifest.FormatVersion < 1)
            throw new InvalidDataException($"The manifest's FormatVersion {manifest.FormatVersion} is invalid (versions start at 1).");

        var architecture = manifest.Architecture ?? throw new InvalidDataException("The manifest has no Architecture.");
        try
        {
            architecture.Validate("Architecture");
        }
        catch (ArgumentException e)
        {
            throw new InvalidDataException($"The manifest's architecture is invalid: {e.Message}", e);
        }

        if (!Enum.TryParse(manifest.Tokenizer, ignoreCase: false, out TokenizerKind kind) || !Enum.IsDefined(kind) || int.TryParse(manifest.Tokenizer, out _))
            throw new InvalidDataException($"The model file names an unknown tokenizer '{manifest.Tokenizer}'; known: {string.Join(", ", Enum.GetNames<TokenizerKind>())}.");
        var tokenizer = LanguageModelTokenizer.Create(kind);
        if (manifest.VocabularySize != tokenizer.VocabularySize)
            throw new InvalidDataException($"The manifest's VocabularySize {manifest.VocabularySize} does not match the {kind} tokenizer's {tokenizer.VocabularySize}.");

        if (!Enum.TryParse(manifest.WeightPrecision, ignoreCase: false, out WeightPrecision precision) || !Enum.IsDefined(precision) || int.TryParse(manifest.WeightPrecision, out _))
            throw new InvalidDataException($"The manifest's WeightPrecision '{manifest.WeightPrecision}' is unknown; known: {string.Join(", ", Enum.GetNames<WeightPrecision>())}.");
        if (string.IsNullOrWhiteSpace(manifest.TextColumnName))
            throw new InvalidDataException("The manifest's TextColumnName is empty.");
        if (manifest.ScoringStride < 1 || manifest.ScoringStride > architecture.ContextLength)
            throw new InvalidDataException($"The manifest's ScoringStride {manifest.ScoringStride} is outside 1..{architecture.ContextLength} (the context length).");
        if (manifest.WeightsSha256 is not { Length: 64 } || !manifest.WeightsSha256.All(char.IsAsciiHexDigitLower))
            throw new InvalidDataException("The manifest's WeightsSha256 is not 64 lower-case hex digits.");

        CheckTensors(manifest, architecture, precision);
        // Last, so that the specific checks above name what is wrong with a hand-edited manifest.
        if (manifest.ModelSha256 is { } modelSha && !string.Equals(modelSha, manifest.ComputeModelSha256(), StringComparison.Ordinal))
            throw new InvalidDataException("The manifest is corrupted: its ModelSha256 does not match its architecture, tokenizer, text column, scoring stride, precision and weights checksum.");
        return new Validated(architecture, tokenizer, precision);
    }

    private static void CheckTensors(ModelManifest manifest, TransformerOptions architecture, WeightPrecision precision)
    {
        IReadOnlyList<(string Name, long[] Shape)> layout;
        try
        {
            layout = ParameterLayout.Of(architecture, manifest.VocabularySize);
            _ = ParameterLayout.ElementCount(layout);
        }
        catch (OverflowException)
        {
            throw new InvalidDataException("The manifest's architecture describes more parameters than a model can hold.");
        }

        var tensors = manifest.Tensors ?? [];
        if (tensors.Length != layout.Count)
            throw new InvalidDataException($"The manifest lists {tensors.Length} tensors; the architecture has {layout.Count} parameters.");
        int bytesPerElement = precision == WeightPrecision.BFloat16 ? 2 : 4;
        long offset = 0;
        for (int i = 0; i < layout.Count; i++)
        {
            var (name, shape) = layout[i];
            var tensor = tensors[i] ?? throw new InvalidDataException($"The manifest's tensor {i} is null.");
            if (tensor.Name != name)
                throw new InvalidDataException($"The manifest's tensor {i} is '{tensor.Name}'; the architecture expects '{name}' there.");
            if (tensor.Shape is null || !tensor.Shape.SequenceEqual(shape))
                throw new InvalidDataException($"Tensor '{name}' has shape [{Join(tensor.Shape)}]; the architecture expects [{Join(shape)}].");
            long length = checked(ParameterLayout.Elements(shape) * bytesPerElement);
            if (tensor.Offset != offset || tensor.Length != length)
                throw new InvalidDataException($"Tensor '{name}' lies at offset {tensor.Offset}, length {tensor.Length}; expected offset {offset}, length {length} ({precision}).");
            offset += length;
        }
        if (manifest.WeightsLength != offset)
            throw new InvalidDataException($"The manifest's WeightsLength {manifest.WeightsLength} differs from the sum of its tensors, {offset}.");
    }

    private static string Join(long[]? shape) => shape is null ? "" : string.Join(", ", shape.Select(d => d.ToString(CultureInfo.InvariantCulture)));
}
