namespace Microsoft.ML.DiLoCo;

/// <summary>
/// Settings of <see cref="StreamingDiLoCo"/>, the layer for your own TorchSharp model and training loop. Symbols in
/// brackets are the paper's (arXiv 2501.18512). Every worker must use the same settings: they are compared across
/// workers when <see cref="StreamingDiLoCo"/> is constructed.
/// </summary>
public sealed class StreamingDiLoCoOptions
{
    /// <summary>Streaming DiLoCo (default), or a baseline: DiLoCo (one fragment, no overlap, α = 0) or data-parallel.</summary>
    public TrainingAlgorithm Algorithm { get; set; } = TrainingAlgorithm.StreamingDiLoCo;

    /// <summary>Inner steps between two syncs of the same fragment [H]; a multiple of the number of fragments. Default 44, the trainer's
    /// (the quality study: the paper's H = 40 quality at 800 and 1,600 steps, 0.002 behind at 3,200, for 8 % fewer bytes, 325× fewer than data-parallel; docs/config.md).</summary>
    public int InnerSteps { get; set; } = 44;

    /// <summary>
    /// Number of fragments [P] when <see cref="Fragments"/> is null. The default partition takes the module's
    /// top-level names (the first segment of each parameter name, in order of first appearance) and gives fragment
    /// p the names at positions p, p + P, p + 2P, … (strided); allowed range 1 .. number of top-level names.
    /// </summary>
    public int NumberOfFragments { get; set; } = 2;

    /// <summary>
    /// Your own fragments instead of the default partition: fragment p is the list <c>Fragments[p]</c> of parameter
    /// names or module paths as <c>named_parameters()</c> spells them ("lstm" takes every parameter under the child
    /// "lstm"; "head.weight" one parameter). Every trainable parameter must fall in exactly one fragment.
    /// P is then <c>Fragments.Count</c> and <see cref="NumberOfFragments"/> is not used.
    /// </summary>
    public IReadOnlyList<IReadOnlyList<string>>? Fragments { get; set; }

    /// <summary>Inner steps that overlap a fragment's exchange [τ], 0 ≤ τ &lt; H/P.</summary>
    public int OverlapSteps { get; set; } = 1;

    /// <summary>Merge weight on the local side [α] ∈ [0, 1]: θ_m ← α·θ_m + (1 − α)·θ̂. 0 overwrites with the global value.</summary>
    public float MixingAlpha { get; set; } = 0.5f;

    /// <summary>Number format of the pseudo-gradients on the wire (the paper's final method: FP4 E3M0). Data-parallel always sends FP32.</summary>
    public WireFormat WireFormat { get; set; } = WireFormat.Float4E3M0;

    /// <summary>Values per FP32 scale in the FP4 format.</summary>
    public int Float4BlockSize { get; set; } = 128;

    /// <summary>Keep each fragment's quantisation error locally and add it to its next pseudo-gradient.</summary>
    public bool ErrorFeedback { get; set; }

    /// <summary>Outer (Nesterov SGD) learning rate [η].</summary>
    public float OuterLearningRate { get; set; } = 0.7f;

    /// <summary>Outer Nesterov momentum [μ]; 0 gives plain SGD.</summary>
    public float OuterMomentum { get; set; } = 0.9f;

    /// <summary>What <see cref="StreamingDiLoCo.Finish"/> leaves in θ̂: the replicas' average (default, the trainer's), θ̂ as it stands,
    /// or after one more outer step of every fragment (<see cref="Microsoft.ML.DiLoCo.FinalModel"/>).</summary>
    public FinalModel FinalModel { get; set; } = FinalModel.ReplicaAverage;

    /// <summary>Sync warm-up [W]: syncs applied in the first W steps use <see cref="SyncWarmupInnerSteps"/> as H. 0 = none; else a multiple of H.</summary>
    public int SyncWarmupSteps { get; set; }

    /// <summary>H during the sync warm-up [H₀]: a multiple of P that divides <see cref="InnerSteps"/>, with τ &lt; H₀/P.</summary>
    public int SyncWarmupInnerSteps { get; set; }

    /// <summary>
    /// <see cref="ExchangeSecurity.Encrypted"/> seals every exchange (the θ0 broadcast included) with AES-256-GCM under a per-run key
    /// derived from a shared 256-bit secret (<see cref="ExchangeKeyFile"/>, else the <c>DILOCO_EXCHANGE_KEY</c> environment
    /// variable), as the trainer's option of the same name does. Results are bit-identical either way. See docs/security.md.
    /// </summary>
    public ExchangeSecurity ExchangeSecurity { get; set; } = ExchangeSecurity.None;

    /// <summary>The file holding the shared secret (32 raw bytes or 64 hexadecimal characters); null: the environment variable.</summary>
    public string? ExchangeKeyFile { get; set; }

    /// <summary>
    /// At construction, overwrite every worker's parameters with worker 0's (FP32), so all replicas start from the
    /// same θ0 whatever seed each process used (as PyTorch's DistributedDataParallel does).
    /// </summary>
    public bool BroadcastInitialParameters { get; set; } = true;

    /// <summary>Checks every option (the message names it and the allowed range) and resolves them for the algorithm.</summary>
    internal Runs.SyncSettings Resolve()
    {
        Runs.ExchangeSealing.Validate(ExchangeSecurity, ExchangeKeyFile);
        if (Fragments is not null && Fragments.Count == 0 && Algorithm == TrainingAlgorithm.StreamingDiLoCo)
            throw new ArgumentException("Fragments must hold at least one fragment.", nameof(Fragments));
        return Runs.SyncSettings.Resolve(Algorithm, InnerSteps, Fragments?.Count ?? NumberOfFragments, OverlapSteps, MixingAlpha, WireFormat,
            Float4BlockSize, ErrorFeedback, OuterLearningRate, OuterMomentum, FinalModel, SyncWarmupSteps, SyncWarmupInnerSteps);
    }
}
