namespace Microsoft.ML.DiLoCo;

/// <summary>What one worker of <see cref="StreamingDiLoCo"/> exchanged so far.</summary>
/// <param name="Worker">This worker's rank.</param>
/// <param name="NumberOfWorkers">M.</param>
/// <param name="Algorithm">The method that ran.</param>
/// <param name="WireFormat">The format on the wire (FP32 for data-parallel).</param>
/// <param name="Steps">Inner steps reported through <see cref="StreamingDiLoCo.Step"/>.</param>
/// <param name="ParameterCount">Values in the synchronised (trainable) parameters.</param>
/// <param name="FragmentNames">What each fragment holds (empty for data-parallel).</param>
/// <param name="Syncs">Every applied fragment sync, in order.</param>
/// <param name="BytesSent">Bytes this worker sent (all-gather accounting: its payload to each of the M − 1 others).</param>
/// <param name="BytesReceived">Bytes this worker received.</param>
/// <param name="LargestMessageBytes">The largest single payload this worker sent.</param>
/// <param name="CommunicationWaitSeconds">Seconds this worker stood still waiting for exchanges.</param>
public sealed record StreamingDiLoCoReport(int Worker, int NumberOfWorkers, TrainingAlgorithm Algorithm, WireFormat WireFormat,
    long Steps, long ParameterCount, IReadOnlyList<string> FragmentNames, IReadOnlyList<SyncRecord> Syncs,
    long BytesSent, long BytesReceived, long LargestMessageBytes, double CommunicationWaitSeconds)
{
    /// <summary>What data-parallel training would have sent over the same steps, counted the same way:
    /// the FP32 gradient of every parameter, every step, to each of the M − 1 other workers.</summary>
    public long DataParallelBytesSent => Steps * (NumberOfWorkers - 1) * 4L * ParameterCount;

    /// <summary><see cref="DataParallelBytesSent"/> over <see cref="BytesSent"/> (NaN when nothing was sent).</summary>
    public double CommunicationReduction => BytesSent == 0 ? double.NaN : (double)DataParallelBytesSent / BytesSent;
}
