using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.DiLoCo;

// Trains a tiny byte-level model on generated text with settings from key=value arguments, and prints one JSON line:
// this rank's θ̂ checksum (SHA-256 of the FP32 parameters) and the report's numbers. Used by the MPI tests.
//   mpirun --allow-run-as-root --oversubscribe -np 2 dotnet Microsoft.ML.DiLoCo.MpiRunner.dll transport=mpi steps=40
// Keys: transport (inprocess|mpi), workers, steps, innerSteps, fragments, overlap, algorithm, wire, seed, documents,
// bandwidthBits, latencyMs, layers, embedding, batch, timeout, differOnRank (that rank trains with innerSteps × 2: the mismatch test).
var settings = args.Select(a => a.Split('=', 2)).ToDictionary(p => p[0], p => p.Length > 1 ? p[1] : "", StringComparer.OrdinalIgnoreCase);
string Get(string key, string fallback) => settings.TryGetValue(key, out var v) ? v : fallback;
int Int(string key, int fallback) => int.Parse(Get(key, fallback.ToString(CultureInfo.InvariantCulture)), CultureInfo.InvariantCulture);
double Real(string key, double fallback) => double.Parse(Get(key, fallback.ToString(CultureInfo.InvariantCulture)), CultureInfo.InvariantCulture);

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
};
if (Environment.GetEnvironmentVariable("OMPI_COMM_WORLD_RANK") is { } worldRank && Get("differOnRank", "") == worldRank)
    options.InnerSteps *= 2;

try
{
    var ml = new MLContext(seed: 1);
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
    Console.WriteLine(JsonSerializer.Serialize(new
    {
        rank = report.Rank,
        ranks = report.Ranks,
        isRoot = report.IsRoot,
        workers = report.NumberOfWorkers,
        checksum = Convert.ToHexString(sha.Hash!),
        lastLoss = report.MeanInnerLoss[^1],
        bytesSent = report.BytesSentPerWorker,
        bytesReceived = report.BytesReceivedPerWorker,
        syncs = report.Syncs.Count,
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
    Console.WriteLine(JsonSerializer.Serialize(new { error = e.GetType().Name, message = e.Message }));
    return 3;
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
