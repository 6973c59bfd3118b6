using System.Security.Cryptography;
using static TorchSharp.torch;

namespace Microsoft.ML.DiLoCo.Training;

/// <summary>
/// SHA-256 over parameters' FP32 values in order: names the starting weights of a fine-tuning run in the rank-consistency
/// description and the checkpoint fingerprint (every rank must start from the same weights, and a resume from the same run).
/// </summary>
internal static class ParameterDigest
{
    public static string Of(IEnumerable<Tensor> parameters)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var p in parameters)
        {
            using var values = p.detach().to(ScalarType.Float32, CPU).contiguous();
            hash.AppendData(values.bytes);
        }
        return Convert.ToHexString(hash.GetHashAndReset());
    }
}
