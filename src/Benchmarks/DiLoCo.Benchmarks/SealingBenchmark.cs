using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Microsoft.ML.DiLoCo;
using Microsoft.ML.DiLoCo.Communication;

namespace DiLoCo.Benchmarks;

/// <summary>
/// What ExchangeSecurity = Encrypted costs (issue 16): bytes per message and the time to seal one FP4 fragment payload and open it once
/// per peer, for the quality benchmark's model and a 100M-parameter model, beside the inner-step time it hides behind.
/// </summary>
internal static class SealingBenchmark
{
    // The quality benchmark's model: measured 247 ms per inner step with one worker (this page's "Workers on threads" table).
    private const long MainParameters = 842_624;
    private const double MainStepSeconds = 0.2473;
    private const int Fragments = 4;

    public static string Run(string machine, string commit, int repetitions)
    {
        var keys = ExchangeKeys.Derive(RandomNumberGenerator.GetBytes(32), ExchangeKeys.NewRunId());
        using var sealer = new ExchangeSealer(keys, groupSize: 2, wireFormat: 2);
        var codec = WireCodecs.Create(WireFormat.Float4E3M0);
        var rows = new StringBuilder();
        rows.AppendLine("| model | values per fragment (P = 4) | FP4 payload | sealed (+28 B) | seal + open (ms, median of " + repetitions + ") | GB/s | inner step (ms) | share of compute at H = 100 |");
        rows.AppendLine("|---|---|---|---|---|---|---|---|");
        foreach (var (name, parameters) in new[] { ("quality benchmark, 842,624 parameters", MainParameters), ("100M parameters", 100_000_000L) })
        {
            int values = (int)(parameters / Fragments);
            var payload = RandomNumberGenerator.GetBytes(codec.EncodedLength(values));
            double median = Median(repetitions, () =>
            {
                byte[] sealedPayload = sealer.Seal(payload, 1, 0, new ExchangeLabel(100, 0));
                sealer.Open(sealedPayload, 1, 0, new ExchangeLabel(100, 0));
            });
            // Step time: measured for the quality model; for 100M scaled linearly with parameters from it (a floor: attention and
            // the wider layers only add compute), labelled as an estimate.
            double step = MainStepSeconds * parameters / MainParameters;
            // Each of the P fragments is synced once per H = 100 steps: P seals and P opens (one peer) per 100 inner steps.
            double share = Fragments * median / (100 * step);
            rows.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"| {name} | {values:N0} | {payload.Length:N0} B | {payload.Length + SealedCollective.Overhead:N0} B | {median * 1000:F3} | " +
                $"{2.0 * payload.Length / median / 1e9:F2} | {step * 1000:F0}{(parameters == MainParameters ? "" : " (est.)")} | {share * 100:F4} % |"));
        }
        return $"""
            ## Cost of sealed exchanges (ExchangeSecurity = Encrypted)

            Each sealed message carries **28 bytes more** than in the clear (12-byte nonce + 16-byte AES-GCM tag), whatever its size.
            Time: one worker seals its fragment payload once and opens each peer's (here one peer: 2 workers) with .NET's AesGcm (AES-NI),
            random FP4 payloads of the fragment's size, a fresh array for each sealed and opened payload as in training. Share of compute: P = 4
            fragment syncs per H = 100 inner steps, each one seal + one open, against 100 inner steps; the 100M model's step time is the
            quality model's measured 247 ms scaled by parameter count (an estimate, a lower bound on its real step). θ̂ is bit-identical
            with and without sealing (tests: Security/*). Machine: {machine}. Commit: {commit}. Command: `bash build/bench.sh sealing`.

            {rows.ToString().TrimEnd()}
            """;
    }

    private static double Median(int repetitions, Action action)
    {
        action(); // warm-up
        var times = new double[repetitions];
        for (int i = 0; i < repetitions; i++)
        {
            long start = Stopwatch.GetTimestamp();
            action();
            times[i] = Stopwatch.GetElapsedTime(start).TotalSeconds;
        }
        Array.Sort(times);
        return times[repetitions / 2];
    }
}
