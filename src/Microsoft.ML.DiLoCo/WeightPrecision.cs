namespace Microsoft.ML.DiLoCo;

/// <summary>How a saved model stores its weights.</summary>
public enum WeightPrecision
{
    /// <summary>IEEE 754 single precision, 4 bytes a weight: a loaded model scores bit-identically.</summary>
    Float32,

    /// <summary>bfloat16 (round to nearest even), 2 bytes a weight: half the file; weights are widened back to FP32 on load.</summary>
    BFloat16,
}
