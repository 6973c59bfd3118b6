using Microsoft.ML.DiLoCo;

namespace ByomCharLstm;

/// <summary>One console line for a worker's <see cref="StreamingDiLoCoReport"/>.</summary>
public static class ReportText
{
    public static string Of(StreamingDiLoCoReport report) =>
        $"{report.Algorithm}: {report.Syncs.Count} syncs, {report.BytesSent:N0} bytes sent per worker " +
        $"({report.CommunicationReduction:N0}× less than data-parallel would send), waited {report.CommunicationWaitSeconds:F2} s for exchanges";
}
