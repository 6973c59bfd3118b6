using Microsoft.ML.DiLoCo.Runs;
using System.Diagnostics;
using Microsoft.ML.DiLoCo;
using Microsoft.ML.DiLoCo.Communication;
using Microsoft.ML.DiLoCo.Data;
using Microsoft.ML.DiLoCo.Model;
using Microsoft.ML.DiLoCo.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace DiLoCo.Benchmarks;

/// <summary>Median and range of one phase of the inner step, in seconds.</summary>
internal sealed record PhaseTiming(string Phase, double Median, double Minimum, double Maximum);

/// <summary>
/// Where one inner step's time goes, on our side: the step cut at the embedding output and at the final norm's output
/// (detached leaves, so the backward of the head, of the blocks and of the embeddings run one by one), every phase
/// timed, alternating with plain steps of the trainer's own worker (<see cref="DiLoCoWorker.InnerStep"/> on a
/// <see cref="TransformerReplica"/>), which check that the cut step costs what a real one does.
/// src/Benchmarks/pytorch/reference_train.py --profile cuts PyTorch's step at the same places, under the same names.
/// </summary>
internal static class SpeedProfile
{
    public const string WholeCut = "whole step (cut)";
    public const string WholePlain = "whole step (plain)";
    public const int ContextLength = 128;

    public static readonly string[] Phases =
    {
        "batch", "embedding forward", "blocks forward", "head + loss forward", "zero grad", "head + loss backward",
        "blocks backward", "embedding backward", "clip", "AdamW", "dispose",
    };

    /// <summary>Seconds of each of <paramref name="steps"/> inner steps of the trainer's worker after <paramref name="warmup"/> untimed ones, on one torch thread.</summary>
    public static List<double> InnerSteps(SpeedCase c, int steps, int warmup)
    {
        torch.set_num_threads(1);
        var (worker, collective, _) = Worker(c, steps + warmup);
        using (collective)
        using (worker)
        {
            var seconds = new List<double>();
            for (int step = 1; step <= steps + warmup; step++)
            {
                long started = Stopwatch.GetTimestamp();
                worker.InnerStep(step);
                if (step > warmup) seconds.Add(Stopwatch.GetElapsedTime(started).TotalSeconds);
            }
            return seconds;
        }
    }

    /// <summary>A worker as the trainer builds it (AdamW with the trainer's defaults, clipping at 1) on random tokens, with no sync in reach.</summary>
    private static (DiLoCoWorker Worker, ICollective Collective, PackedWindows Windows) Worker(SpeedCase c, int steps)
    {
        var random = new Random(1);
        var tokens = new int[(steps * c.Batch + 1) * ContextLength + 1];
        for (int i = 0; i < tokens.Length; i++) tokens[i] = random.Next(c.Vocabulary);
        var packed = new PackedWindows(tokens, ContextLength);
        torch.manual_seed(1);
        var model = new TransformerLanguageModel(Shape(c), c.Vocabulary);
        var names = model.named_parameters().Select(p => p.name).ToArray();
        var settings = new WorkerSettings(TrainingAlgorithm.DiLoCo, new SyncSchedule(int.MaxValue, 1, 0),
            FragmentPlan.ForBlocks(names, TransformerLanguageModel.BlockIndexOf, c.Layers, 1, FragmentPattern.Strided, NonBlockParameterPlacement.OwnFragment),
            1f, WireCodecs.Create(WireFormat.Float32), false, Inner(), OuterOptimization.Nesterov(0.7, 0.9));
        var collective = InProcessCollective.CreateGroup(1)[0];
        var sampler = new BatchSampler(packed, Enumerable.Range(0, packed.Count).ToArray(), c.Batch, 1);
        return (new DiLoCoWorker(0, new TransformerReplica(model, sampler, CPU), collective, settings), collective, packed);
    }

    private static InnerOptimization Inner() =>
        InnerOptimization.AdamW(LearningRateSchedule.Constant(1e-3), 0.9, 0.95, 0.1, 1.0);

    private static TransformerOptions Shape(SpeedCase c) =>
        new() { ContextLength = ContextLength, EmbeddingSize = c.Width, NumberOfLayers = c.Layers, NumberOfHeads = c.Heads };

    /// <summary>Alternates plain and cut steps (<paramref name="steps"/> timed after <paramref name="warmup"/>) on one torch thread.</summary>
    public static List<PhaseTiming> Measure(SpeedCase c, int steps, int warmup)
    {
        torch.set_num_threads(1);
        var (worker, collective, packed) = Worker(c, steps + warmup);
        using var _ = collective;
        using var __ = worker;

        torch.manual_seed(1);
        using var cutModel = new TransformerLanguageModel(Shape(c), c.Vocabulary);
        var parameters = cutModel.parameters().ToArray();
        using var optimizer = Inner().CreateOptimizer(parameters);
        var sampler = new BatchSampler(packed, Enumerable.Range(0, packed.Count).ToArray(), c.Batch, 1);
        var batch = new long[sampler.BatchTokenCount];
        var shape = new long[] { c.Batch, sampler.WindowLength };
        int contextLength = ContextLength;

        var times = Phases.Append(WholeCut).Append(WholePlain).ToDictionary(p => p, _ => new List<double>());
        var marks = new long[Phases.Length + 1];
        for (int step = 0; step < steps + warmup; step++)
        {
            if (step == warmup) foreach (var list in times.Values) list.Clear();
            if (step % 2 == 0)
            {
                long started = Stopwatch.GetTimestamp();
                worker.InnerStep(step + 1);
                times[WholePlain].Add(Stopwatch.GetElapsedTime(started).TotalSeconds);
                continue;
            }

            int m = 0;
            marks[m++] = Stopwatch.GetTimestamp();
            var scope = NewDisposeScope();
            sampler.NextBatch(batch);
            var windowsTensor = tensor(batch, shape);
            var inputs = windowsTensor.narrow(1, 0, contextLength);
            var targets = windowsTensor.narrow(1, 1, contextLength).reshape(-1);
            marks[m++] = Stopwatch.GetTimestamp();
            var x0 = cutModel.Embed(inputs);
            var x0Leaf = x0.detach().requires_grad_(true);
            marks[m++] = Stopwatch.GetTimestamp();
            var h = cutModel.Body(x0Leaf);
            var hLeaf = h.detach().requires_grad_(true);
            marks[m++] = Stopwatch.GetTimestamp();
            var loss = nn.functional.cross_entropy(cutModel.Head(hLeaf).view(-1, c.Vocabulary), targets);
            marks[m++] = Stopwatch.GetTimestamp();
            optimizer.ZeroGrad();
            marks[m++] = Stopwatch.GetTimestamp();
            loss.backward();
            marks[m++] = Stopwatch.GetTimestamp();
            h.backward(new[] { hLeaf.grad! });
            marks[m++] = Stopwatch.GetTimestamp();
            x0.backward(new[] { x0Leaf.grad! });
            marks[m++] = Stopwatch.GetTimestamp();
            nn.utils.clip_grad_norm_(parameters, 1.0);
            marks[m++] = Stopwatch.GetTimestamp();
            optimizer.Step();
            marks[m++] = Stopwatch.GetTimestamp();
            scope.Dispose();
            marks[m] = Stopwatch.GetTimestamp();
            for (int p = 0; p < Phases.Length; p++)
                times[Phases[p]].Add(Stopwatch.GetElapsedTime(marks[p], marks[p + 1]).TotalSeconds);
            times[WholeCut].Add(Stopwatch.GetElapsedTime(marks[0], marks[^1]).TotalSeconds);
        }
        return times.Select(kv => new PhaseTiming(kv.Key, Statistics.Median(kv.Value), kv.Value.Min(), kv.Value.Max())).ToList();
    }

    /// <summary>
    /// The head's kernels alone at the shapes of one step (rows = batch × context), median seconds over
    /// <paramref name="repetitions"/> rounds after one warm-up round; the names match reference_train.py --kernels.
    /// </summary>
    public static Dictionary<string, double> Kernels(int vocabulary, int width, int rows, int repetitions)
    {
        torch.set_num_threads(1);
        using var scope = NewDisposeScope();
        var h = randn(rows, width);
        using var scale = 0.02f.ToScalar();
        var w = randn(vocabulary, width).mul(scale);
        var targets = randint(0, vocabulary, new long[] { rows });
        var g = randn(rows, vocabulary);
        var logits = h.matmul(w.t()).requires_grad_(true);
        var cases = new (string Name, Func<Tensor?> Run)[]
        {
            ("logits GEMM x·Wᵀ", () => nn.functional.linear(h, w)),
            ("logits GEMM W·xᵀ (transposed)", () => w.matmul(h.t())),
            ("W·xᵀ, then copied to x·Wᵀ's layout", () => w.matmul(h.t()).t().contiguous()),
            ("log-softmax", () => logits.detach().log_softmax(-1)),
            ("cross-entropy forward + backward", () =>
            {
                using var loss = nn.functional.cross_entropy(logits, targets);
                loss.backward();
                var grad = logits.grad;
                logits.grad = null;
                return grad;
            }),
            ("gradient GEMM G·W", () => g.matmul(w)),
            ("gradient GEMM Gᵀ·x", () => g.t().matmul(h)),
        };
        var times = cases.ToDictionary(c => c.Name, _ => new List<double>());
        for (int round = 0; round <= repetitions; round++)
            foreach (var (name, run) in cases)
            {
                long started = Stopwatch.GetTimestamp();
                run()?.Dispose();
                if (round > 0) times[name].Add(Stopwatch.GetElapsedTime(started).TotalSeconds);
            }
        return times.ToDictionary(kv => kv.Key, kv => Statistics.Median(kv.Value));
    }

}
