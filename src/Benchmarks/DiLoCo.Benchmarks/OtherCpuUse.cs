using System.Diagnostics;
using System.Globalization;

namespace DiLoCo.Benchmarks;

/// <summary>
/// How much of the machine's CPU time other processes took (and the hypervisor stole) while a benchmark timed something:
/// the machine's busy time from /proc/stat minus this process's own CPU time. A load average cannot say this, because it
/// counts the benchmark itself.
/// </summary>
/// <param name="OthersShare">Share of all cores' time used by other processes (0..1).</param>
/// <param name="StealShare">Share of all cores' time the hypervisor gave to other virtual machines (0..1).</param>
internal sealed record OtherCpuUse(double OthersShare, double StealShare)
{
    /// <summary>Starts measuring; <see cref="Stop"/> returns the shares since then, or null where /proc/stat is missing.</summary>
    public static Func<OtherCpuUse?> Start()
    {
        var before = Read();
        var ownBefore = Process.GetCurrentProcess().TotalProcessorTime;
        return () => Stop(before, ownBefore);
    }

    public string Describe()
    {
        string busy = OthersShare + StealShare > 0.1 ? ": a busy machine, compare paths only within this run" : "";
        return string.Create(CultureInfo.InvariantCulture,
            $"other processes used {OthersShare:P1} of the machine's CPU time and the hypervisor stole {StealShare:P1}{busy}");
    }

    private static OtherCpuUse? Stop((long Busy, long Steal, long Total)? before, TimeSpan ownBefore)
    {
        var after = Read();
        if (before is not { } b || after is not { } a || a.Total <= b.Total) return null;
        double tick = 1.0 / 100;  // USER_HZ: /proc/stat counts in hundredths of a second on Linux
        double total = (a.Total - b.Total) * tick;
        double own = (Process.GetCurrentProcess().TotalProcessorTime - ownBefore).TotalSeconds;
        double others = Math.Max(0, (a.Busy - a.Steal - (b.Busy - b.Steal)) * tick - own);
        return new OtherCpuUse(others / total, (a.Steal - b.Steal) * tick / total);
    }

    // The first line of /proc/stat: cpu user nice system idle iowait irq softirq steal guest guest_nice (guest time is
    // already inside user and nice).
    private static (long Busy, long Steal, long Total)? Read()
    {
        try
        {
            var f = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1).Take(8)
                .Select(v => long.Parse(v, CultureInfo.InvariantCulture)).ToArray();
            long busy = f[0] + f[1] + f[2] + f[5] + f[6] + f[7];
            return (busy, f[7], busy + f[3] + f[4]);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return null;
        }
    }
}
