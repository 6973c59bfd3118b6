using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.DiLoCo;

// Trains a tiny byte-level model on generated text with settings from key=value arguments, and prints one JSON line:
// this rank's θ̂ checksum (SHA-256 of the FP32 parameters) and the report's numbers. Used by the MPI tests.
//   mpirun --allow-run-as-root --oversubscribe -np 2 dotnet Microsoft.ML.DiLoCo.MpiRunner.dll transport=mpi steps=40
// Keys: transport (inprocess|mpi), workers, steps, innerSteps, fragments, overlap, algorithm, wire, seed, documents,
// bandwidthBits, latencyMs, layers, embedding, batch, timeout, differOnRank (that rank trains with innerSteps × 2: the mismatch test),
// dieOnRank + dieAfterMs (that rank kills itself), checkpointDir, checkpointInterval, keep (checkpoints; Fit's log goes to
// stderr), cancelAtStep (rank 0 cancels its token after that step), cancelOnRank (that rank's token is cancelled before Fit),
// mode=allgather chunk=N (the collective alone, see AllGatherCheck),
// mode=exchange bytes=N repeats=R [bandwidthBits latencyMs wrap=1] (times R all-gathers of N bytes per rank, see ExchangeTiming),
// mode=peer attack=nan|short|declare|flip [policy=stop|skip] [sealed=1] (a faulty rank 1, see PeerPayloadCheck),
// keyFile=PATH [keyFileOnRank1=PATH] (ExchangeSecurity = Encrypted with that key; rank 1 may hold another),
// finalModel=…, syncWarmup=W syncWarmupInnerSteps=H0 (issue 13's options).
// failOnRank + failAtStep [+ keepRunningMs] (that rank's worker throws at that step; its host catches the exception, prints it
// with the time, and keeps running that long: the job must still end within seconds).
var settings = args.Select(a => a.Split('=', 2)).ToDictionary(p => p[0], p => p.Length > 1 ? p[1] : "", StringComparer.OrdinalIgnoreCase);
string Get(string key, string fallback) => settings.TryGetValue(key, out var v) ? v : fallback;
int Int(string key, int fallback) => int.Parse(Get(key, fallback.ToString(CultureInfo.InvariantCulture)), CultureInfo.InvariantCulture);
double Real(string key, double fallback) => double.Parse(Get(key, fallback.ToString(CultureInfo.InvariantCulture)), CultureInfo.InvariantCulture);

if (Get("mode", "train") == "allgather") return AllGatherCheck.Run(Int("chunk", 1000));
if (Get("mode", "train") == "peer") return PeerPayloadCheck.Run(Get("attack", "nan"), Get("policy", "stop"), Get("sealed", "0") == "1");
if (Get("mode", "train") == "exchange") return ExchangeTiming.Run(Int("bytes", 1 << 20), Int("repeats", 5), Real("bandwidthBits", 0), Real("latencyMs", 0), Get("wrap", "0") == "1");
if (Environment.GetEnvironmentVariable("OMPI_COMM_WORLD_RANK") is { } dyingRank && Get("dieOnRank", "") == dyingRank)
    _ = new Timer(_ => System.Diagnostics.Process.GetCurrentProcess().Kill(), null, Int("dieAfterMs", 1000), Timeout.Infinite); // a rank that dies mid-run

var options = new StreamingDiLoCoTrainer.Options
{
    Transport = Enum.Parse<Transport>(Get("transport", "InProcess"), ignoreCase: true),
    Algorithm = Enum.Parse<TrainingAlgorithm>(Get("algorithm", "StreamingDiLoCo"), ignoreCase: true),
    WireFormat = Enum.Parse<WireFormat>(Get("wire", "Float4E3M0"), ignoreCase: true),
    Model = new TransformerOptions { ContextLength = 32, EmbeddingSize = Int("embedding", 32), NumberOfLayers = Int("layers", 2), NumberOfHeads = 2 },
    NumberOfWorkers = Int("workers", 1),
    InnerSteps = Int("innerSteps", 10),
    NumberOfFragments = Int("fragments", 2),
    OverlapSteps = Int("overlap", 1),
    InnerLearningRate = 3e-3f,
    WarmupSteps = 5,
    BatchSize = Int("batch", 4),
    TrainingSteps = Int("steps", 40),
    Seed = Int("seed", 7),
    ExchangeTimeoutSeconds = Real("timeout", 120),
    LinkBandwidthBitsPerSecond = Real("bandwidthBits", 0),
    LinkLatencyMilliseconds = Real("latencyMs", 0),
    CheckpointDirectory = settings.TryGetValue("checkpointDir", out var checkpointDir) ? checkpointDir : null,
    CheckpointInterval = Int("checkpointInterval", 0),
    KeepCheckpoints = Int("keep", 2),
    FinalModel = Enum.Parse<FinalModel>(Get("finalModel", "OuterParameters"), ignoreCase: true),
    SyncWarmupSteps = Int("syncWarmup", 0),
    SyncWarmupInnerSteps = Int("syncWarmupInnerSteps", 0),
};
using var cancellation = new CancellationTokenSource();
options.CancellationToken = cancellation.Token;
if (Environment.GetEnvironmentVariable("OMPI_COMM_WORLD_RANK") is { } cancellingRank && Get("cancelOnRank", "") == cancellingRank)
    cancellation.Cancel();
if (Int("cancelAtStep", 0) is > 0 and var cancelAt) // progress reaches rank 0 only (one voice per job)
    options.Progress = new StepObserver(step => { if (step >= cancelAt) cancellation.Cancel(); });
if (Environment.GetEnvironmentVariable("OMPI_COMM_WORLD_RANK") is { } worldRank && Get("differOnRank", "") == worldRank)
    options.InnerSteps *= 2;
if (settings.TryGetValue("keyFile", out var keyFile)) // exchanges sealed with this key; keyFileOnRank1 gives rank 1 another
{
    options.ExchangeSecurity = ExchangeSecurity.Encrypted;
    options.ExchangeKeyFile = Environment.GetEnvironmentVariable("OMPI_COMM_WORLD_RANK") == "1" ? Get("keyFileOnRank1", keyFile) : keyFile;
}
if (Environment.GetEnvironmentVariable("OMPI_COMM_WORLD_RANK") is { } failingRank && Get("failOnRank", "") == failingRank)
    options.InjectedWorkerFault = (_, step) => step == Int("failAtStep", 5) ? new InvalidOperationException("injected fault") : null;

try
{
    var ml = new MLContext(seed: 1);
    ml.Log += (_, e) =>
    {
        if (e.Source.StartsWith(nameof(StreamingDiLoCoTrainer), StringComparison.Ordinal) && e.Kind == Microsoft.ML.Runtime.ChannelMessageKind.Info)
            Console.Error.WriteLine("log: " + e.RawMessage);
    };
    var train = ml.Data.LoadFromEnumerable(GeneratedText.Documents(Int("documents", 40), 10, seed: 1));
    var model = ml.LanguageModeling().Trainers.StreamingDiLoCo(options).Fit(train);
    var report = model.TrainingReport!;
    using var sha = SHA256.Create();
    foreach (var p in model.Model.parameters())
    {
        var values = p.detach().cpu().data<float>().ToArray();
        var bytes = new byte[values.Length * sizeof(float)];
        Buffer.BlockCopy(values, 0, bytes, 0, bytes.Length);
        sha.TransformBlock(bytes, 0, bytes.Length, null, 0);
    }
    sha.TransformFinalBlock(Array.Empty<byte>(), 0, 0);
    RankOutput.WriteLine(JsonSerializer.Serialize(new
    {
        rank = report.Rank,
        ranks = report.Ranks,
        isRoot = report.IsRoot,
        workers = report.NumberOfWorkers,
        checksum = Convert.ToHexString(sha.Hash!),
        lastLoss = report.MeanInnerLoss[^1],
        losses = report.InnerLossPerWorker,
        bytesSent = report.BytesSentPerWorker,
        bytesReceived = report.BytesReceivedPerWorker,
        syncs = report.Syncs.Count,
        fragmentSizes = report.FragmentSizes,
        syncFragments = report.Syncs.Select(s => s.Fragment).ToArray(),
        exchangeSeconds = report.Syncs.Select(s => s.ExchangeSeconds).ToArray(),
        waitSeconds = report.Syncs.Select(s => s.WaitSeconds).ToArray(),
        computeUtilisation = report.ComputeUtilisation,
        wallSeconds = report.WallSeconds,
        tokensPerSecond = report.TokensPerSecond,
    }));
    return 0;
}
catch (Exception e)
{
    RankOutput.WriteLine(JsonSerializer.Serialize(new { error = e.GetType().Name, message = e.Message,
        rank = Environment.GetEnvironmentVariable("OMPI_COMM_WORLD_RANK"), atUnixMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() }));
    if (Int("keepRunningMs", 0) is > 0 and var keepRunning) Thread.Sleep(keepRunning); // a host that catches the failure and goes on
    return e is OperationCanceledException ? 130 : 3;
}

/// <summary>Progress seen on the training thread itself (System.Progress would post it elsewhere, too late to pick the step).</summary>
internal sealed class StepObserver(Action<long> onStep) : IProgress<TrainingProgressUpdate>
{
    public void Report(TrainingProgressUpdate value) => onStep(value.Step);
}

/// <summary>Sentences from a small grammar (the same kind as the tests' SyntheticText).</summary>
internal static class GeneratedText
{
    private static readonly string[] Subjects = { "the cat", "a dog", "my friend", "the old king", "our teacher" };
    private static readonly string[] Verbs = { "sees", "likes", "finds", "paints", "follows" };
    private static readonly string[] Objects = { "the red ball", "a small house", "the river", "some bread", "the moon" };

    public static Row[] Documents(int count, int sentences, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, count).Select(_ => new Row
        {
            Text = string.Join(" ", Enumerable.Range(0, sentences).Select(_ =>
                $"{Subjects[random.Next(Subjects.Length)]} {Verbs[random.Next(Verbs.Length)]} {Objects[random.Next(Objects.Length)]}.")),
        }).ToArray();
    }

    internal sealed class Row
    {
        public string Text { get; set; } = "";
    }
}

/// <summary>
/// The collective alone: rank r all-gathers r·2500 + 1 bytes (rank 1 sends nothing) through chunks of a few bytes, then
/// repeats with the ranks' sizes reversed, checks every byte, passes a barrier, and prints what it received.
/// </summary>
internal static class AllGatherCheck
{
    public static int Run(int chunk)
    {
        using var collective = new Microsoft.ML.DiLoCo.Communication.MpiCollective(TimeSpan.FromSeconds(60), chunk);
        int Length(int r, int round) { int k = round == 0 ? r : collective.Size - 1 - r; return k == 1 ? 0 : k * 2500 + 1; }
        byte[] Payload(int r, int round) => Enumerable.Range(0, Length(r, round)).Select(i => (byte)(r * 31 + i * 7 + round)).ToArray();
        // Both rounds are in flight at once: they must complete in issue order with the right contents.
        var first = collective.AllGatherAsync(Payload(collective.Rank, 0));
        var second = collective.AllGatherAsync(Payload(collective.Rank, 1));
        var rounds = new[] { first.GetAwaiter().GetResult(), second.GetAwaiter().GetResult() };
        bool ok = true;
        for (int round = 0; round < 2; round++)
            for (int r = 0; r < collective.Size; r++)
                ok &= rounds[round][r].Span.SequenceEqual(Payload(r, round));
        collective.BarrierAsync().GetAwaiter().GetResult();
        RankOutput.WriteLine(JsonSerializer.Serialize(new
        {
            rank = collective.Rank,
            size = collective.Size,
            lengths = rounds.Select(g => g.Select(p => p.Length).ToArray()).ToArray(),
            ok,
        }));
        return ok ? 0 : 4;
    }
}

/// <summary>
/// Times all-gathers of a known payload (every rank sends <c>bytes</c>), one after another, and prints each one's seconds
/// beside what the link model predicts for a link of <c>bandwidthBits</c> (0 = no prediction). With <c>wrap=1</c> the MPI
/// collective is wrapped in that link model, so the same mode measures the real collective or the model on top of it.
/// </summary>
internal static class ExchangeTiming
{
    public static int Run(int bytes, int repeats, double bandwidthBits, double latencyMs, bool wrapInLinkModel)
    {
        var mpi = new Microsoft.ML.DiLoCo.Communication.MpiCollective(TimeSpan.FromSeconds(120));
        var link = Microsoft.ML.DiLoCo.Communication.LinkModel.FromBitsPerSecond(bandwidthBits, latencyMs);
        bool wrap = wrapInLinkModel && bandwidthBits > 0;
        using Microsoft.ML.DiLoCo.Communication.ICollective collective = wrap ? new Microsoft.ML.DiLoCo.Communication.LinkModelCollective(mpi, link) : mpi;
        var payload = new byte[bytes];
        new Random(collective.Rank).NextBytes(payload);
        collective.AllGatherAsync(new byte[8]).GetAwaiter().GetResult(); // connections up before timing
        var seconds = new double[repeats];
        for (int i = 0; i < repeats; i++)
        {
            mpi.BarrierAsync().GetAwaiter().GetResult();
            var clock = System.Diagnostics.Stopwatch.StartNew();
            var gathered = collective.AllGatherAsync(payload).GetAwaiter().GetResult();
            seconds[i] = clock.Elapsed.TotalSeconds;
            if (gathered.Length != collective.Size || gathered.Any(g => g.Length != bytes)) return 4;
        }
        long outbound = (long)bytes * (collective.Size - 1);
        double predicted = bandwidthBits > 0 ? link.LatencySeconds + link.SerializationSeconds(outbound) : double.NaN;
        RankOutput.WriteLine(JsonSerializer.Serialize(new
        {
            rank = collective.Rank,
            size = collective.Size,
            bytes,
            wrappedInLinkModel = wrap,
            seconds,
            medianSeconds = seconds.Order().ElementAt(repeats / 2),
            predictedSeconds = double.IsNaN(predicted) ? (double?)null : predicted,
            measuredMegabitsPerSecond = outbound * 8 / seconds.Order().ElementAt(repeats / 2) / 1e6,
        }));
        return 0;
    }
}
