using System.Runtime.InteropServices;
using System.Text;
using Microsoft.ML.DiLoCo.Communication;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.DiLoCo.Runs;

/// <summary>
/// What every worker must agree on before the first step, checked through the collective itself (in-process
/// threads or MPI ranks alike): the same parameters (names, types, shapes), the same settings and the same
/// fragments; then, optionally, the same θ0 taken from worker 0. Workers that disagreed would exchange payloads of
/// different sizes or deadlock later; here every worker sees every description and fails with the same message.
/// </summary>
internal static class WorkerAgreement
{
    /// <summary>One line per parameter: "name\tdtype [shape]".</summary>
    public static string[] Describe(IReadOnlyList<string> names, IReadOnlyList<Parameter> parameters) =>
        names.Select((n, i) => $"{n}\t{parameters[i].dtype} [{string.Join(", ", parameters[i].shape)}]").ToArray();

    /// <summary>All-gathers (settings, parameter lines) and throws when any worker differs from worker 0.</summary>
    /// <exception cref="ArgumentException">Naming the first parameter that differs (parameter <c>module</c>) or the settings (<c>options</c>).</exception>
    public static void Verify(ICollective collective, string settings, IReadOnlyList<string> parameterLines)
    {
        string mine = settings + "\n" + string.Join("\n", parameterLines);
        var all = collective.AllGatherAsync(Encoding.UTF8.GetBytes(mine)).GetAwaiter().GetResult();
        var reference = Parse(all[0].Span);
        for (int r = 1; r < all.Length; r++)
        {
            var other = Parse(all[r].Span);
            var a = reference.Parameters;
            var b = other.Parameters;
            for (int i = 0; i < Math.Max(a.Length, b.Length); i++)
            {
                if (i < a.Length && i < b.Length && a[i] == b[i]) continue;
                string message = i >= b.Length ? $"parameter '{Name(a[i])}' ({Shape(a[i])}) exists on worker 0 but not on worker {r}"
                    : i >= a.Length ? $"parameter '{Name(b[i])}' ({Shape(b[i])}) exists on worker {r} but not on worker 0"
                    : Name(a[i]) != Name(b[i]) ? $"parameter {i} is '{Name(a[i])}' on worker 0 but '{Name(b[i])}' on worker {r}"
                    : $"parameter '{Name(a[i])}' is {Shape(a[i])} on worker 0 but {Shape(b[i])} on worker {r}";
                throw new ArgumentException(
                    $"The module's trainable parameters differ between workers: {message}. Every worker must build the same model.", "module");
            }
            if (reference.Settings != other.Settings)
                throw new ArgumentException(
                    $"The settings differ between workers: worker 0 has {reference.Settings} but worker {r} has {other.Settings}.", "options");
        }
    }

    /// <summary>
    /// Overwrites every worker's parameters with worker 0's, one all-gather per parameter. The others send nothing, unless
    /// <paramref name="sealedExchanges"/>: a sealed collective carries only equal-length exchanges, so they send zeros of that length.
    /// </summary>
    public static void BroadcastFromRankZero(ICollective collective, IReadOnlyList<Parameter> parameters, bool sealedExchanges = false)
    {
        using var _ = no_grad();
        foreach (var p in parameters)
        {
            byte[] payload = Array.Empty<byte>();
            if (collective.Rank == 0)
            {
                using var values = p.detach().to(ScalarType.Float32).cpu().contiguous();
                payload = MemoryMarshal.AsBytes(values.data<float>().ToArray().AsSpan()).ToArray();
            }
            else if (sealedExchanges) payload = new byte[checked(p.numel() * sizeof(float))];
            var all = sealedExchanges
                ? collective.AllGatherSameLengthAsync(payload).GetAwaiter().GetResult().OrderBy(x => x.Sender).Select(x => x.Bytes).ToArray()
                : collective.AllGatherAsync(payload).GetAwaiter().GetResult();
            if (collective.Rank == 0) continue;
            var received = MemoryMarshal.Cast<byte, float>(all[0].Span).ToArray();
            using var source = tensor(received).reshape(p.shape);
            p.copy_(source);
        }
    }

    private static (string Settings, string[] Parameters) Parse(ReadOnlySpan<byte> bytes)
    {
        var lines = Encoding.UTF8.GetString(bytes).Split('\n');
        return (lines[0], lines.Skip(1).Where(l => l.Length > 0).ToArray());
    }

    private static string Name(string line) => line[..line.IndexOf('\t')];

    private static string Shape(string line) => line[(line.IndexOf('\t') + 1)..];
}
