using System.Security.Cryptography;
using Microsoft.ML.DiLoCo.Model;
using static TorchSharp.torch;

namespace Microsoft.ML.DiLoCo.Persistence;

/// <summary>
/// The <c>Weights.bin</c> entry: every parameter in <c>named_parameters()</c> order, row-major, little-endian,
/// FP32 or BF16, back to back with no padding; a SHA-256 of the whole entry goes into the manifest.
/// </summary>
internal static class ModelWeights
{
    /// <summary>Writes the weights and returns where each tensor lies, the total length and the SHA-256 (hex).</summary>
    public static (TensorEntry[] Tensors, long Length, string Sha256) Write(TransformerLanguageModel model, WeightPrecision precision, Stream destination)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var entries = new List<TensorEntry>();
        long offset = 0;
        using var noGrad = no_grad();
        foreach (var (name, parameter) in model.named_parameters())
        {
            using var scope = NewDisposeScope();
            var stored = parameter.detach().to(precision == WeightPrecision.BFloat16 ? ScalarType.BFloat16 : ScalarType.Float32, CPU).contiguous();
            var bytes = stored.bytes;
            if (!BitConverter.IsLittleEndian)
                throw new PlatformNotSupportedException("Model files are little-endian; this machine is not.");
            destination.Write(bytes);
            hash.AppendData(bytes);
            entries.Add(new TensorEntry(name, parameter.shape.ToArray(), offset, bytes.Length));
            offset += bytes.Length;
        }
        return (entries.ToArray(), offset, Convert.ToHexStringLower(hash.GetHashAndReset()));
    }

    /// <summary>
    /// Reads weights described by an already validated manifest into <paramref name="model"/> and checks the SHA-256.
    /// </summary>
    /// <exception cref="InvalidDataException">The entry is shorter than the manifest says, or its checksum differs.</exception>
    public static void Read(TransformerLanguageModel model, ModelManifest manifest, WeightPrecision precision, Stream source)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var dtype = precision == WeightPrecision.BFloat16 ? ScalarType.BFloat16 : ScalarType.Float32;
        using var noGrad = no_grad();
        int index = 0;
        foreach (var (name, parameter) in model.named_parameters())
        {
            var entry = manifest.Tensors[index++];
            using var scope = NewDisposeScope();
            // Read straight into a CPU tensor of the stored type, then copy (and widen) into the parameter.
            var stored = empty(entry.Shape, dtype, CPU);
            var bytes = stored.bytes;
            try
            {
                source.ReadExactly(bytes);
            }
            catch (EndOfStreamException)
            {
                throw new InvalidDataException($"The weights entry ends inside tensor '{name}': the model file is truncated.");
            }
            hash.AppendData(bytes);
            parameter.copy_(stored);
        }
        if (source.ReadByte() >= 0)
            throw new InvalidDataException("The weights entry holds more bytes than the manifest's tensors.");
        string actual = Convert.ToHexStringLower(hash.GetHashAndReset());
        if (!string.Equals(actual, manifest.WeightsSha256, StringComparison.Ordinal))
            throw new InvalidDataException($"The weights are corrupted: their SHA-256 is {actual}, the manifest says {manifest.WeightsSha256}.");
    }
}
