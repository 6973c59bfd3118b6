using Microsoft.ML.DiLoCo.Communication;
using static TorchSharp.torch;

namespace Microsoft.ML.DiLoCo.Training;

/// <summary>
/// The worker's reliability side: the non-finite policy on what it sends, and the capture and restore of its state
/// for checkpoints (only at quiescent points: nothing in flight).
/// </summary>
internal sealed partial class DiLoCoWorker
{
    // SkipContribution frames every payload as [flag][codec bytes]: flag 1 = finite contribution, 0 = left out.
    private readonly Dictionary<FragmentBuffers, byte[]> _frames = new();
    private bool _ownContributionSkipped;

    /// <summary>The replica this worker trains (null when the caller drives the inner step).</summary>
    public IReplica? Replica => _replica;

    /// <summary>k: the number of fragment syncs launched so far.</summary>
    public long Launches => _launches;

    /// <summary>Encodes the values to send; under SkipContribution returns them framed with a flag (0 and no encoding when non-finite).</summary>
    private byte[] EncodeOrSkip(FragmentBuffers buffers, long t, string quantity)
    {
        bool finite = IsFinite(buffers.Values);
        if (_settings.NonFinite == NonFiniteValuePolicy.Stop)
        {
            if (!finite) ThrowIfNotFinite(buffers.Values, t, quantity);
            buffers.Encode();
            return buffers.Payload;
        }
        if (!_frames.TryGetValue(buffers, out var frame)) _frames[buffers] = frame = new byte[1 + buffers.Payload.Length];
        _ownContributionSkipped = !finite;
        if (finite)
        {
            buffers.Encode(); // the residual only ever absorbs finite values
            frame[0] = 1;
            buffers.Payload.CopyTo(frame, 1);
        }
        else
        {
            Array.Clear(frame);
        }
        return frame;
    }

    /// <summary>The gathered payloads of the exchange of <paramref name="step"/>; a refusal by the collective is located at the step and fragment.</summary>
    private static PeerPayload[] Gathered(Task<PeerPayload[]> exchange, long step, int fragment)
    {
        try { return exchange.GetAwaiter().GetResult(); }
        catch (PeerPayloadException e) { throw e.At(step, fragment); }
    }

    /// <summary>The payloads to average, each with its sender: all of them (Stop), or the flagged-finite ones, unframed, in rank order
    /// (SkipContribution: every worker sees the same flags). Counts those flagged out.</summary>
    private PeerPayload[] FiniteContributions(PeerPayload[] received, long step, int fragment, out bool ownSkipped)
    {
        ownSkipped = false;
        if (_settings.NonFinite == NonFiniteValuePolicy.Stop) return received;
        var finite = new List<PeerPayload>(received.Length);
        foreach (var (sender, frame) in received) // every frame is as long as this worker's own (≥ 1 byte): the collective checked
        {
            switch (frame.Span[0])
            {
                case 1: finite.Add(new PeerPayload(sender, frame[1..])); break;
                case 0: Statistics.SkippedContributions++; break;
                default:
                    throw new PeerPayloadException(sender, $"worker {sender}",
                        $"its contribution flag is {frame.Span[0]} where 0 or 1 was expected: the workers disagree on NonFiniteValuePolicy, or the peer is faulty.", step, fragment);
            }
        }
        ownSkipped = _ownContributionSkipped;
        _ownContributionSkipped = false;
        return finite.ToArray();
    }

    /// <summary>
    /// Mean ← the rank-order average of <paramref name="contributions"/>, checked before anything is committed: a payload that does not
    /// decode to finite values is left out and counted (SkipContribution) or refused naming its sender, the step and the fragment (Stop);
    /// an average that overflowed although every part was finite leaves the whole sync out (SkipContribution) or stops training (Stop).
    /// Every worker decodes the same bytes, so every worker takes the same decisions and θ̂ stays bit-identical.
    /// Returns false when nothing is left to apply (Mean is then zero).
    /// </summary>
    private bool AverageChecked(FragmentBuffers buffers, PeerPayload[] contributions, long step, int fragment)
    {
        bool skip = _settings.NonFinite == NonFiniteValuePolicy.SkipContribution;
        int averaged = buffers.AverageInRankOrder(contributions, step, fragment, skipRefused: skip);
        Statistics.SkippedContributions += contributions.Length - averaged;
        if (averaged == 0 || FiniteValueGuard.IndexOfNonFinite(buffers.Mean) < 0) return averaged > 0;
        string quantity = fragment < 0 ? "averaged gradient" : $"averaged pseudo-gradient of fragment {fragment}";
        if (!skip) throw TrainingDivergedException.OfSharedValue(step, quantity);
        Statistics.SkippedContributions += averaged;
        Array.Clear(buffers.Mean);
        return false;
    }

    /// <summary>θ̂[p] after the outer step, checked before it is merged into the replica (and so before any checkpoint can hold it).</summary>
    private void ThrowIfGlobalNotFinite(int[] fragment, long step, int p)
    {
        foreach (int i in fragment)
            if (!IsFinite(_global[i])) throw TrainingDivergedException.OfSharedValue(step, $"global parameters θ̂ of fragment {p} after the outer step");
    }

    private static bool IsFinite(float[] values) => FiniteValueGuard.IndexOfNonFinite(values) < 0;

    private static bool IsFinite(Tensor tensor)
    {
        using var finite = isfinite(tensor);
        using var all = finite.all();
        return all.item<bool>();
    }

    /// <summary>θ_m ← θ̂ for every parameter, zero error-feedback residuals, fresh inner optimizer state.</summary>
    public void ResetReplicaToGlobal()
    {
        if (_settings.Algorithm != TrainingAlgorithm.DataParallel) // data-parallel: the replica is the model
        {
            using var _ = no_grad();
            for (int i = 0; i < _live.Count; i++) _live[i].copy_(_global[i]);
        }
        foreach (var b in _buffers) if (b.Residual is { } r) Array.Clear(r);
        _inner?.Reset();
    }

    /// <summary>θ̂, the outer momentum of every fragment and k: identical on every worker, so a checkpoint stores them once.</summary>
    /// <exception cref="InvalidOperationException">A sync is in flight (not a quiescent point).</exception>
    public SharedWorkerState CaptureShared()
    {
        ThrowIfInFlight();
        // The engine never commits a non-finite θ̂; this keeps one from ever reaching a checkpoint whatever the path.
        for (int i = 0; i < OuterParameters.Count; i++)
            if (!IsFinite(OuterParameters[i]))
                throw new InvalidOperationException($"Worker {Rank}: global parameter {i} (θ̂) holds NaN or infinity; a checkpoint never stores a non-finite θ̂.");
        return new SharedWorkerState(
            OuterParameters.Select(TensorData.Of).ToArray(),
            _outer.Select(OptimizerStateData.Capture).ToArray(),
            _launches);
    }

    /// <summary>This worker's own state: θ_m, the inner optimizer's state, the error-feedback residuals.</summary>
    public ReplicaWorkerState CaptureReplica()
    {
        ThrowIfInFlight();
        return new ReplicaWorkerState(
            _live.Select(p => TensorData.Of(p)).ToArray(),
            _inner is null ? null : OptimizerStateData.Capture(_inner),
            _buffers.Select(b => b.Residual is null ? null : new TensorData(new long[] { b.Residual.Length }, (float[])b.Residual.Clone())).ToArray());
    }

    /// <summary>Restores θ̂, the outer momentum and k (data-parallel: θ̂ is the replica).</summary>
    /// <exception cref="InvalidDataException">The checkpoint does not fit this model or schedule.</exception>
    public void RestoreShared(SharedWorkerState state)
    {
        ThrowIfInFlight();
        var outer = OuterParameters;
        if (state.Global.Length != outer.Count)
            throw new InvalidDataException($"The checkpoint holds {state.Global.Length} global parameters but the model has {outer.Count}.");
        for (int i = 0; i < outer.Count; i++) state.Global[i].CopyInto(outer[i], $"global parameter {i}");
        if (state.Outer.Length != _outer.Length)
            throw new InvalidDataException($"The checkpoint holds outer optimizer state for {state.Outer.Length} fragments but this run has {_outer.Length}.");
        for (int p = 0; p < _outer.Length; p++) state.Outer[p].Restore(_outer[p], $"outer momentum of fragment {p}");
        _launches = state.Launches;
    }

    /// <summary>Restores θ_m, the inner optimizer's state and the residuals.</summary>
    /// <exception cref="InvalidDataException">The checkpoint does not fit this model.</exception>
    public void RestoreReplica(ReplicaWorkerState state)
    {
        ThrowIfInFlight();
        if (state.Parameters.Length != _live.Count)
            throw new InvalidDataException($"The checkpoint holds {state.Parameters.Length} replica parameters but the model has {_live.Count}.");
        for (int i = 0; i < _live.Count; i++) state.Parameters[i].CopyInto(_live[i], $"replica parameter {i} of worker {Rank}");
        if (_inner is not null)
        {
            if (state.Inner is null) throw new InvalidDataException($"The checkpoint holds no inner optimizer state for worker {Rank}.");
            state.Inner.Restore(_inner, $"inner optimizer state of worker {Rank}");
        }
        if (state.Residuals.Length != _buffers.Length)
            throw new InvalidDataException($"The checkpoint holds residuals for {state.Residuals.Length} fragments but this run has {_buffers.Length}.");
        for (int p = 0; p < _buffers.Length; p++)
        {
            var mine = _buffers[p].Residual;
            var saved = state.Residuals[p];
            if (mine is null) continue; // error feedback off: nothing to restore (the fingerprint guarantees it was off before)
            if (saved is null) throw new InvalidDataException($"The checkpoint holds no error-feedback residual of fragment {p}; this run needs {mine.Length} values.");
            saved.CopyInto(mine, $"error-feedback residual of fragment {p}");
        }
    }

    private void ThrowIfInFlight()
    {
        if (_inflight is not null)
            throw new InvalidOperationException($"Worker {Rank} has a sync of fragment {_inflight.Fragment} in flight: its state can be saved or restored only at a quiescent point.");
    }
}

/// <summary>What every worker holds identically: θ̂ (FP32), the outer optimizer state per fragment, and k.</summary>
internal sealed record SharedWorkerState(TensorData[] Global, OptimizerStateData[] Outer, long Launches);

/// <summary>What one worker holds alone: θ_m, its inner optimizer state, its error-feedback residuals (one-dimensional; null where off).</summary>
internal sealed record ReplicaWorkerState(TensorData[] Parameters, OptimizerStateData? Inner, TensorData?[] Residuals);
