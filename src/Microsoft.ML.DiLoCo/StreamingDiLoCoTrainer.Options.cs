using Microsoft.ML.Data;

namespace Microsoft.ML.DiLoCo;

public sealed partial class StreamingDiLoCoTrainer
{
    /// <summary>
    /// Options of <see cref="StreamingDiLoCoTrainer"/>. Symbols in brackets are the paper's (arXiv 2501.18512).
    /// Defaults follow the paper where it gives a value; every option is checked before training starts.
    /// </summary>
    public sealed partial class Options
    {
        /// <summary>The text column: one row is one document (string or ML.NET text).</summary>
        public string TextColumnName = "Text";

        /// <summary>The tokenizer; its vocabulary size sets the model's embedding.</summary>
        public TokenizerKind Tokenizer = TokenizerKind.Bytes;

        /// <summary>The transformer's shape.</summary>
        public TransformerOptions Model = new();

        /// <summary>Streaming DiLoCo (default), or a baseline: DiLoCo or data-parallel.</summary>
        public TrainingAlgorithm Algorithm = TrainingAlgorithm.StreamingDiLoCo;

        /// <summary>Number of model replicas [M], each on its own thread.</summary>
        public int NumberOfWorkers = 2;

        /// <summary>Devices for the workers, assigned round-robin: "cpu", "cuda", "cuda:0", "cuda:1", … (CUDA needs the CUDA libtorch build).</summary>
        public string[] Devices = { "cpu" };

        /// <summary>
        /// Inner steps between two syncs of the same fragment [H]. Must be a multiple of <see cref="NumberOfFragments"/>. The default, 44,
        /// is the quality study's choice within 300× fewer bytes than data-parallel (with FP4 and <see cref="FinalModel.ReplicaAverage"/>: as
        /// good as the paper's H = 40 with θ̂ on 3 seeds at 800 and 1,600 steps, 0.002 behind it at 3,200, for 8 % fewer bytes; H = 48 was worse; docs/config.md, "Choosing H"). A larger H sends proportionally less and loses quality (H = 100: 753× fewer
        /// bytes, about 2 % more loss at 1,600 steps). A sync warm-up needs an H₀ dividing H with τ &lt; H₀/P: none exists for 44 with P = 4, τ = 1.
        /// </summary>
        public int InnerSteps = 44;

        /// <summary>Total number of fragments [P], the non-block fragment included (see <see cref="NonBlockParameters"/>). 1 = plain DiLoCo.</summary>
        public int NumberOfFragments = 4;

        /// <summary>How blocks are grouped into fragments (the paper uses strided).</summary>
        public FragmentPattern FragmentPattern = FragmentPattern.Strided;

        /// <summary>Where the embeddings, final norm and head are synchronised.</summary>
        public NonBlockParameterPlacement NonBlockParameters = NonBlockParameterPlacement.OwnFragment;

        /// <summary>Inner steps that overlap a fragment's exchange [τ], 0 ≤ τ &lt; H/P.</summary>
        public int OverlapSteps = 1;

        /// <summary>Merge weight on the local side [α] ∈ [0, 1]: θ_m ← α·θ_m + (1 − α)·θ̂. 0 overwrites with the global value.</summary>
        public float MixingAlpha = 0.5f;

        /// <summary>Number format of the pseudo-gradients on the wire (the paper's final method: FP4 E3M0).</summary>
        public WireFormat WireFormat = WireFormat.Float4E3M0;

        /// <summary>Values per FP32 scale in the FP4 format.</summary>
        public int Float4BlockSize = 128;

        /// <summary>Keep each fragment's quantisation error locally and add it to its next pseudo-gradient.</summary>
        public bool ErrorFeedback;

        /// <summary>Outer (Nesterov SGD) learning rate [η].</summary>
        public float OuterLearningRate = 0.7f;

        /// <summary>Outer Nesterov momentum [μ].</summary>
        public float OuterMomentum = 0.9f;

        /// <summary>
        /// What training returns: the replicas' average (default), θ̂ as it stands (the paper's), or θ̂ after one more outer step of every
        /// fragment. The average and the extra step cost one more exchange of each fragment at the end; the average gave a lower loss
        /// than θ̂ on every seed of the quality study (docs/benchmarks.md).
        /// </summary>
        public FinalModel FinalModel = FinalModel.ReplicaAverage;

        /// <summary>
        /// Sync warm-up [W]: the syncs applied in the first W inner steps use <see cref="SyncWarmupInnerSteps"/> instead of
        /// <see cref="InnerSteps"/>, so fragments are synchronised more often while the replicas drift most. 0 (default) = none;
        /// otherwise a multiple of H.
        /// </summary>
        public int SyncWarmupSteps;

        /// <summary>H during the sync warm-up [H₀]: a multiple of <see cref="NumberOfFragments"/> that divides <see cref="InnerSteps"/>, with τ &lt; H₀/P.</summary>
        public int SyncWarmupInnerSteps;

        /// <summary>Peak inner AdamW learning rate (after warmup; cosine decay to <see cref="MinimumLearningRateRatio"/> of it).</summary>
        public float InnerLearningRate = 1e-3f;

        /// <summary>Linear warmup steps of the inner learning rate.</summary>
        public int WarmupSteps = 100;

        /// <summary>Final inner learning rate as a fraction of the peak.</summary>
        public float MinimumLearningRateRatio = 0.1f;

        /// <summary>AdamW β1.</summary>
        public float Beta1 = 0.9f;

        /// <summary>AdamW β2 (the paper: 0.95).</summary>
        public float Beta2 = 0.95f;

        /// <summary>AdamW decoupled weight decay on matrices (the paper: 0.1).</summary>
        public float WeightDecay = 0.1f;

        /// <summary>Gradient clipping by global norm; 0 turns it off.</summary>
        public float GradientClipNorm = 1f;

        /// <summary>Sequences per worker per inner step [B] (the global batch is M·B).</summary>
        public int BatchSize = 16;

        /// <summary>Total inner steps [T].</summary>
        public int TrainingSteps = 1000;

        /// <summary>Optional held-out text (same column name) scored on the outer parameters θ̂ during training.</summary>
        public IDataView? ValidationSet;

        /// <summary>Inner steps between two validation evaluations (and one at the end).</summary>
        public int EvaluationInterval = 100;

        /// <summary>At most this many validation tokens are scored per evaluation (evenly spaced windows), to bound its cost.</summary>
        public int MaximumValidationTokens = 65536;

        /// <summary>Seed of initialisation, sharding and sampling; null takes the MLContext's random source.</summary>
        public int? Seed;

        /// <summary>Bit-identical results run to run for a given seed (CPU; dropout must then be 0 with several workers).</summary>
        public bool Deterministic = true;

        /// <summary>
        /// Folder of training checkpoints; null (default) writes none. When it holds a valid checkpoint, <c>Fit</c> resumes from the
        /// newest one (same options required, except <see cref="NumberOfWorkers"/>: see docs/reliability.md). In-process only in this version.
        /// </summary>
        public string? CheckpointDirectory;

        /// <summary>Inner steps between two checkpoints; a multiple of H/P (<see cref="InnerSteps"/> / <see cref="NumberOfFragments"/>)
        /// so that each is taken right after a fragment is applied, with no exchange in flight. 0 (default) = H.</summary>
        public int CheckpointInterval;

        /// <summary>Number of checkpoints kept in <see cref="CheckpointDirectory"/> (the newest ones); at least 1.</summary>
        public int KeepCheckpoints = 2;

        /// <summary>What to do when a worker's loss, gradient or pseudo-gradient holds NaN or infinity.</summary>
        public NonFiniteValuePolicy NonFiniteValuePolicy = NonFiniteValuePolicy.Stop;

        /// <summary>
        /// What to do when a worker's step throws (out of memory, a device error, a <see cref="TrainingDivergedException"/>, …):
        /// <see cref="WorkerFailurePolicy.Fail"/> (default) stops training with an exception naming the worker, the step and the cause;
        /// <see cref="WorkerFailurePolicy.Continue"/> drops that worker and finishes with the others (in-process transport only), listing
        /// it in <see cref="TrainingReport.WorkerFailures"/>. May change when resuming from a checkpoint. See docs/reliability.md.
        /// </summary>
        public WorkerFailurePolicy OnWorkerFailure = WorkerFailurePolicy.Fail;

        /// <summary>Test hook: given (worker, step), an exception that worker's step throws instead of running, or null.</summary>
        internal Func<int, long, Exception?>? InjectedWorkerFault { get; set; }

        /// <summary>
        /// In-process threads (default) or MPI ranks. Under <see cref="Transport.Mpi"/> each rank runs <see cref="NumberOfWorkers"/>
        /// workers (M = ranks × NumberOfWorkers), shards the data by global worker index, and ends with the same θ̂ as every other rank.
        /// </summary>
        public Transport Transport = Transport.InProcess;

        /// <summary>
        /// Under <see cref="Transport.Mpi"/>: the longest one exchange may take before the whole job is aborted (a rank that died or
        /// hung cannot leave the others waiting forever). 0 = wait forever.
        /// </summary>
        public double ExchangeTimeoutSeconds = 600;

        /// <summary>Simulated link bandwidth per direction between each worker and the others, in bits per second; 0 = no simulated link.
        /// Wraps whatever transport is used (see <c>LinkModelCollective</c> for the model).</summary>
        public double LinkBandwidthBitsPerSecond;

        /// <summary>Simulated one-way link latency per message, in milliseconds; 0 = none.</summary>
        public double LinkLatencyMilliseconds;

        /// <summary>
        /// <see cref="ExchangeSecurity.Encrypted"/> seals every exchange with AES-256-GCM under a per-run key derived from a shared 256-bit
        /// secret (<see cref="ExchangeKeyFile"/>, else the <c>DILOCO_EXCHANGE_KEY</c> environment variable). Results are
        /// bit-identical either way. See docs/security.md.
        /// </summary>
        public ExchangeSecurity ExchangeSecurity = ExchangeSecurity.None;

        /// <summary>
        /// The file holding the shared secret: 32 raw bytes (<c>head -c 32 /dev/urandom &gt; key; chmod 600 key</c>) or 64 hexadecimal
        /// characters. Null: the <c>DILOCO_EXCHANGE_KEY</c> environment variable (64 hex characters or base64). Read once at start; the
        /// secret is never logged, reported, checkpointed or saved.
        /// </summary>
        public string? ExchangeKeyFile;

        /// <summary>Stops training between two steps.</summary>
        public CancellationToken CancellationToken;

        /// <summary>
        /// Fine-tuning: start from this fitted model's weights instead of random ones. Its tokenizer must be
        /// <see cref="Tokenizer"/> and its architecture <see cref="Model"/> (an error names what differs). Only read, never changed.
        /// </summary>
        public LanguageModelTransformer? InitialModel;

        /// <summary>Fine-tuning from a saved model file (<c>ml.Model.Save</c> or <c>LanguageModelTransformer.Save</c>); the same checks. Not with <see cref="InitialModel"/>.</summary>
        public string? InitialModelPath;

        /// <summary>
        /// Checks every option as creating the trainer does, without training: an <see cref="ArgumentException"/> names the
        /// option (its <c>ParamName</c>) and the allowed range. Reads <see cref="InitialModelPath"/> and the exchange key if set.
        /// </summary>
        public void Validate() => _ = Plan(this);

        /// <summary>A shallow copy (the model options are cloned too).</summary>
        public Options Clone()
        {
            var copy = (Options)MemberwiseClone();
            copy.Model = Model.Clone();
            copy.Devices = (string[])Devices.Clone();
            return copy;
        }
    }
}
