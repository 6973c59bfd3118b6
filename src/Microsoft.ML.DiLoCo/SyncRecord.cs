namespace Microsoft.ML.DiLoCo;

/// <summary>One fragment synchronisation as seen by one worker.</summary>
/// <param name="LaunchStep">Inner step after which the pseudo-gradient was sent.</param>
/// <param name="ApplyStep">Inner step after which the averaged update was applied (LaunchStep + τ).</param>
/// <param name="Fragment">Fragment index.</param>
/// <param name="BytesSent">Bytes this worker sent for this sync (its payload to each other worker).</param>
/// <param name="BytesReceived">Bytes this worker received from the others.</param>
/// <param name="ExchangeSeconds">Time from launch until every payload had arrived.</param>
/// <param name="WaitSeconds">Time the worker stood still at the apply step waiting for the exchange.</param>
public sealed record SyncRecord(long LaunchStep, long ApplyStep, int Fragment, long BytesSent, long BytesReceived,
    double ExchangeSeconds, double WaitSeconds);
