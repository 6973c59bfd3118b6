using System.Numerics;
using System.Runtime.InteropServices;

namespace Microsoft.ML.DiLoCo.Communication;

/// <summary>
/// Finds NaN and infinities: before values are encoded (one bad value would poison every worker's average) and after a payload
/// from another worker is decoded (its bytes are untrusted: FP32 and BF16 can carry NaN and infinity bit patterns).
/// </summary>
internal static class FiniteValueGuard
{
    private const int ExponentMask = 0x7F800000;

    /// <summary>The index of the first NaN or infinite value, or −1 when every value is finite.</summary>
    public static int IndexOfNonFinite(ReadOnlySpan<float> values)
    {
        // A float is NaN or infinite exactly when all its exponent bits are set; scan vectors of raw bits,
        // and only look value by value once a vector holds a bad one.
        ReadOnlySpan<int> bits = MemoryMarshal.Cast<float, int>(values);
        int i = 0;
        if (Vector.IsHardwareAccelerated && bits.Length >= Vector<int>.Count)
        {
            var mask = new Vector<int>(ExponentMask);
            for (; i <= bits.Length - Vector<int>.Count; i += Vector<int>.Count)
            {
                var v = new Vector<int>(bits.Slice(i, Vector<int>.Count));
                if (Vector.EqualsAny(v & mask, mask))
                {
                    break;
                }
            }
        }

        for (; i < bits.Length; i++)
        {
            if ((bits[i] & ExponentMask) == ExponentMask) return i;
        }

        return -1;
    }

    /// <summary>Throws <see cref="ArgumentException"/> naming the index of the first NaN or infinite value (values to encode).</summary>
    public static void ThrowIfAnyNonFinite(ReadOnlySpan<float> values, string paramName)
    {
        int i = IndexOfNonFinite(values);
        if (i >= 0)
        {
            throw new ArgumentException(
                $"The value at index {i} is {values[i]}; only finite values (no NaN or infinity) can be encoded.", paramName);
        }
    }

    /// <summary>Throws <see cref="ArgumentException"/> naming the index of the first NaN or infinite value a payload decoded to
    /// (the message is a clause the engine quotes after the sender's name, so it names no parameter).</summary>
    public static void ThrowIfAnyDecodedNonFinite(ReadOnlySpan<float> decoded)
    {
        int i = IndexOfNonFinite(decoded);
        if (i >= 0)
        {
            throw new ArgumentException($"the value at index {i} decodes to {decoded[i]}, and a payload may carry only finite values.");
        }
    }
}
