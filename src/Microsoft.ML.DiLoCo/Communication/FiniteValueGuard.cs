using System.Numerics;
using System.Runtime.InteropServices;

namespace Microsoft.ML.DiLoCo.Communication;

/// <summary>Rejects NaN and infinities before they are encoded: one bad value would poison every worker's average.</summary>
internal static class FiniteValueGuard
{
    private const int ExponentMask = 0x7F800000;

    /// <summary>Throws <see cref="ArgumentException"/> naming the index of the first NaN or infinite value.</summary>
    public static void ThrowIfAnyNonFinite(ReadOnlySpan<float> values, string paramName)
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
            if ((bits[i] & ExponentMask) == ExponentMask)
            {
                throw new ArgumentException(
                    $"The value at index {i} is {values[i]}; only finite values (no NaN or infinity) can be encoded.",
                    paramName);
            }
        }
    }
}
