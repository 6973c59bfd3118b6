using System.Diagnostics;
using Microsoft.ML.DiLoCo.Communication;
using Microsoft.ML.DiLoCo.Training.Optimizers;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.DiLoCo.Training;

/// <summary>
/// One worker of Streaming DiLoCo: its replica θ_m with its inner optimizer, its copy of the global
/// parameters θ̂ with the outer optimizer, and at most one fragment exchange in flight. <see cref="Step"/> is
/// one iteration of the per-worker loop in ALGORITHM.md; read the two side by side.
/// The same class runs the baselines: DiLoCo (one fragment, no overlap) and data-parallel (gradients averaged
/// through the same collective every step, no outer loop).
/// </summary>
/// <remarks>
/// Two ways in. The trainer hands over an <see cref="IReplica"/> and calls <see cref="Step"/> =
/// <see cref="InnerStep"/> + <see cref="AfterInnerStep"/>. A caller with its own model and training loop
/// (<see cref="StreamingDiLoCo"/>) hands over only the parameter list, takes the inner step itself, and calls
/// <see cref="AverageGradients"/> between backward and the optimizer step (data-parallel) and
/// <see cref="AfterInnerStep"/> after it: the launch/apply logic is the same code either way.
/// </remarks>
internal sealed partial class DiLoCoWorker : IDisposable
{
    private readonly IReplica? _replica;               // null when the caller drives the inner step
    private readonly IReadOnlyList<Parameter> _live;   // θ_m
    private readonly ICollective _collective;
    private readonly WorkerSettings _settings;
    private readonly TensorOptimizer? _inner;          // null when the caller drives the inner step
    private readonly Parameter[] _global;              // θ̂, FP32, bit-identical on every worker
    private readonly TensorOptimizer[] _outer;         // one per fragment: holds v[p]
    private readonly FragmentBuffers[] _buffers;
    private readonly FragmentBuffers? _gradientBuffers; // data-parallel only
    // α and 1 − α as Scalars that live as long as the worker (a temporary Scalar can be freed mid-op: TensorOptimizer).
    private readonly Scalar _alpha, _oneMinusAlpha;
    private long _launches;                            // k: shared by construction, every worker counts the same
    private InFlightSync? _inflight;
    private bool _finishing;                           // the final syncs of FinalModel: θ̂ only, replicas left as they are

    /// <summary>The trainer's worker: it owns <paramref name="replica"/> and builds the inner optimizer from the settings.</summary>
    public DiLoCoWorker(int rank, IReplica replica, ICollective collective, WorkerSettings settings, IReadOnlyList<Tensor>? initialParameters = null)
        : this(rank, replica.Parameters, collective, settings, initialParameters)
    {
        _replica = replica;
        if (settings.Inner is null) throw new ArgumentException("A worker that takes the inner step needs settings.Inner.", nameof(settings));
        _inner = settings.Inner.CreateOptimizer(_live);
    }

    /// <summary>
    /// A worker whose inner step is taken by the caller: <paramref name="parameters"/> stay the caller's
    /// (not disposed here); <c>settings.Inner</c> is ignored.
    /// </summary>
    public DiLoCoWorker(int rank, IReadOnlyList<Parameter> parameters, ICollective collective, WorkerSettings settings, IReadOnlyList<Tensor>? initialParameters = null)
    {
        Rank = rank;
        _live = parameters;
        _collective = collective;
        _settings = settings;
        _alpha = settings.MixingAlpha.ToScalar();
        _oneMinusAlpha = (1f - settings.MixingAlpha).ToScalar();
        var live = parameters;
        if (settings.Plan.ParameterCount != live.Count)
            throw new ArgumentException($"The fragment plan covers {settings.Plan.ParameterCount} parameters but the replica has {live.Count}.");

        using (no_grad())
        {
            // θ_m ← θ0 (every worker starts from the same point).
            if (initialParameters is not null)
                for (int i = 0; i < live.Count; i++) live[i].copy_(initialParameters[i]);
            // θ̂ ← copy(θ0) in FP32.
            _global = live.Select(p => new Parameter(p.detach().to(ScalarType.Float32).clone(), requires_grad: true)).ToArray();
        }

        if (settings.Algorithm == TrainingAlgorithm.DataParallel)
        {
            _outer = Array.Empty<TensorOptimizer>();
            _buffers = Array.Empty<FragmentBuffers>();
            _gradientBuffers = new FragmentBuffers(Enumerable.Range(0, live.Count).ToArray(), live, WireCodecs.Create(WireFormat.Float32), errorFeedback: false);
        }
        else
        {
            _outer = settings.Plan.Fragments.Select(f => settings.Outer.CreateOptimizer(f.Select(i => _global[i]).ToArray())).ToArray();
            _buffers = settings.Plan.Fragments.Select(f => new FragmentBuffers(f, live, settings.Codec, settings.ErrorFeedback)).ToArray();
        }
    }

    public int Rank { get; }

    /// <summary>The parameters of the fitted model: θ̂ (data-parallel: the replica, identical everywhere).</summary>
    public IReadOnlyList<Tensor> OuterParameters =>
        _settings.Algorithm == TrainingAlgorithm.DataParallel ? _live : _global;

    /// <summary>The live replica parameters θ_m.</summary>
    public IReadOnlyList<Parameter> ReplicaParameters => _live;

    public WorkerStatistics Statistics { get; } = new();

    /// <summary>True while a fragment exchange is in flight (launched, not yet applied).</summary>
    public bool HasSyncInFlight => _inflight is not null;

    /// <summary>One iteration t (1-based) of the per-worker loop: <see cref="InnerStep"/>, then <see cref="AfterInnerStep"/>.</summary>
    public void Step(long t)
    {
        var started = Stopwatch.GetTimestamp();
        double waited = InnerStep(t);                                   // one AdamW step on this worker's batch
        Statistics.ComputeSeconds += Stopwatch.GetElapsedTime(started).TotalSeconds - waited;
        AfterInnerStep(t);
    }

    /// <summary>
    /// The outer loop after inner step <paramref name="t"/> (1-based), whoever took that step: launch when
    /// (t + τ) mod Δt = 0, apply when t = launch + τ. Nothing in data-parallel mode (see <see cref="AverageGradients"/>).
    /// </summary>
    public void AfterInnerStep(long t)
    {
        if (_settings.Algorithm == TrainingAlgorithm.DataParallel) return;
        if (_settings.Schedule.IsLaunchStep(t)) Timed(() => { Launch(t); return 0; }); // (t + τ) mod Δt == 0
        if (_inflight is not null && t == _inflight.ApplyStep) Timed(Apply);                // t == launch + τ
    }

    /// <summary>Adds the seconds <paramref name="sync"/> took, less the seconds it reports blocked on the exchange, to SyncSeconds.</summary>
    private void Timed(Func<double> sync)
    {
        var started = Stopwatch.GetTimestamp();
        double waited = sync();
        Statistics.SyncSeconds += Stopwatch.GetElapsedTime(started).TotalSeconds - waited;
    }

    /// <summary>
    /// At the end: apply what is in flight; then, unless the model is θ̂ as it stands (<see cref="FinalModel"/>), one more
    /// sync of every fragment, in fragment order, folded into θ̂ only. <paramref name="lastStep"/> is T (the syncs are labelled T + 1).
    /// </summary>
    public void Finish(long lastStep)
    {
        if (_inflight is not null) Timed(Apply);
        if (_settings.Algorithm == TrainingAlgorithm.DataParallel || _settings.FinalModel == FinalModel.OuterParameters || _finishing) return;
        _finishing = true;
        for (int p = 0; p < _buffers.Length; p++)
        {
            int fragment = p;
            Timed(() => { LaunchFragment(lastStep + 1, fragment, lastStep + 1); return 0; });
            Timed(Apply);
        }
    }

    /// <summary>One inner step on the replica's next batch; returns the seconds spent waiting on the collective.</summary>
    public double InnerStep(long t)
    {
        if (_replica is null || _inner is null)
            throw new InvalidOperationException("This worker's inner step is taken by its caller; call AfterInnerStep after it.");
        using var scope = NewDisposeScope();
        if (_settings.Inner!.Schedule is { } schedule)
        {
            _inner.LearningRate = schedule.At(t);
        }
        _inner.ZeroGrad();
        var loss = _replica.NextLoss();
        loss.backward();
        double value = loss.item<float>();
        Statistics.Losses.Add((float)value);
        Statistics.Tokens += _replica.TokensPerStep;
        if (!double.IsFinite(value))
        {
            if (_settings.NonFinite == NonFiniteValuePolicy.Stop) throw new TrainingDivergedException(Rank, t, "loss");
            // SkipContribution: no inner step on a non-finite loss. Data-parallel still joins the exchange (flagged as
            // skipped) so that the others are not left waiting, and steps on their average.
            if (_gradientBuffers is null)
            {
                _inner.ZeroGrad();
                return 0;
            }
        }

        double waited = 0;
        if (_gradientBuffers is not null) waited = AverageGradients(t);
        if (_settings.Inner.GradientClipNorm > 0)
            nn.utils.clip_grad_norm_(_live, _settings.Inner.GradientClipNorm);
        _inner.Step();
        return waited;
    }

    /// <summary>k ← k + 1; p ← (k − 1) mod P; Δ_m ← θ̂[p] − θ_m[p]; start the exchange of Q(Δ_m).</summary>
    private void Launch(long t)
    {
        _launches++;
        LaunchFragment(t, _settings.Schedule.FragmentOfLaunch(_launches), _settings.Schedule.ApplyStepOf(t));
    }

    /// <summary>Δ_m ← θ̂[p] − θ_m[p]; start the exchange of Q(Δ_m), to be applied after step <paramref name="applyStep"/>.</summary>
    private void LaunchFragment(long t, int p, long applyStep)
    {
        var buffers = _buffers[p];
        buffers.ReadDifference(_global, _live);           // GLOBAL minus LOCAL
        var payload = EncodeOrSkip(buffers, t, $"pseudo-gradient (fragment {p})");
        long sentBefore = _collective is MeteredCollective m ? m.BytesSent : 0;
        long receivedBefore = _collective is MeteredCollective m2 ? m2.BytesReceived : 0;
        var launched = Stopwatch.GetTimestamp();
        var exchange = _collective.AllGatherSameLengthAsync(payload, new ExchangeLabel(t, p)); // a peer's payload of another length is refused before allocation
        double exchangeSeconds = double.NaN;
        var finished = exchange.ContinueWith(_ => exchangeSeconds = Stopwatch.GetElapsedTime(launched).TotalSeconds, TaskContinuationOptions.ExecuteSynchronously);
        _inflight = new InFlightSync(p, t, applyStep, exchange, finished, () => exchangeSeconds, sentBefore, receivedBefore);
    }

    /// <summary>Δ̄ ← mean of the dequantised payloads in rank order; outer Nesterov step on θ̂[p]; merge θ_m[p] with α.
    /// Returns the seconds spent blocked waiting for the exchange.</summary>
    private double Apply()
    {
        var sync = _inflight!;
        _inflight = null;
        var buffers = _buffers[sync.Fragment];

        var waitStarted = Stopwatch.GetTimestamp();
        var received = Gathered(sync.Exchange, sync.LaunchStep, sync.Fragment);
        sync.Timing.GetAwaiter().GetResult();
        double waited = Stopwatch.GetElapsedTime(waitStarted).TotalSeconds;
        Statistics.CommunicationWaitSeconds += waited;

        var contributions = FiniteContributions(received, sync.LaunchStep, sync.Fragment, out bool mineSkipped);
        var fragment = _settings.Plan.Fragments[sync.Fragment];
        using (NewDisposeScope())
        {
            // FP32, fixed order: θ̂ identical everywhere. Nothing usable (all skipped): θ̂[p] and v[p] stay as they are.
            if (AverageChecked(buffers, contributions, sync.LaunchStep, sync.Fragment))
            {
                buffers.WriteAsGradients(_global);
                if (_finishing && _settings.FinalModel == FinalModel.ReplicaAverage) MoveToReplicaAverage(fragment); // θ̂ ← θ̂ − Δ̄
                else _outer[sync.Fragment].Step();                      // v ← μv + Δ̄; θ̂ ← θ̂ − η(Δ̄ + μv)
                ThrowIfGlobalNotFinite(fragment, sync.LaunchStep, sync.Fragment); // before θ̂ reaches a replica or a checkpoint
            }
            if (_finishing) { }                                         // training is over: the replicas stay as they are
            else if (mineSkipped) ResetReplicaToGlobal();               // this worker's replica went non-finite
            else Merge(fragment);
        }

        long sent = 0, got = 0;
        if (_collective is MeteredCollective metered) { sent = metered.BytesSent - sync.SentBefore; got = metered.BytesReceived - sync.ReceivedBefore; }
        Statistics.Syncs.Add(new SyncRecord(sync.LaunchStep, sync.ApplyStep, sync.Fragment, sent, got, sync.ExchangeSeconds(), waited));
        return waited;
    }

    /// <summary>θ̂[p] ← θ̂[p] − Δ̄ (Δ̄ in the gradients): the mean of the replicas' values, as far as the wire format carries them.</summary>
    private void MoveToReplicaAverage(int[] fragment)
    {
        using var _ = no_grad();
        foreach (int i in fragment) _global[i].sub_(_global[i].grad!); // sub_(Tensor) passes no Scalar (ImplicitScalarTests)
    }

    /// <summary>θ_m[p] ← α·θ_m[p] + (1 − α)·θ̂[p]; α = 0 overwrites with the global value.</summary>
    private void Merge(int[] fragment)
    {
        using var _ = no_grad();
        foreach (int i in fragment)
        {
            var local = _live[i];
            if (_settings.MixingAlpha == 0f) local.copy_(_global[i]);
            else local.mul_(_alpha).add_(_global[i], _oneMinusAlpha);
        }
    }

    /// <summary>
    /// Data-parallel, between backward and the inner optimizer step of step <paramref name="t"/>: all-gather the FP32
    /// gradients, average them in rank order, write them back. Returns the seconds spent waiting.
    /// </summary>
    public double AverageGradients(long t)
    {
        var buffers = _gradientBuffers
            ?? throw new InvalidOperationException($"Gradients are averaged only in {nameof(TrainingAlgorithm.DataParallel)} mode.");
        var parameters = _live;
        buffers.ReadGradients(parameters);
        var payload = EncodeOrSkip(buffers, t, "gradient");
        var started = Stopwatch.GetTimestamp();
        var received = Gathered(_collective.AllGatherSameLengthAsync(payload, new ExchangeLabel(t, -1)), t, fragment: -1);
        double waited = Stopwatch.GetElapsedTime(started).TotalSeconds;
        Statistics.CommunicationWaitSeconds += waited;
        var contributions = FiniteContributions(received, t, fragment: -1, out _);
        AverageChecked(buffers, contributions, t, fragment: -1); // nothing usable: Mean is zero, a zero gradient
        buffers.WriteAsGradients(parameters);
        return waited;
    }

    private void ThrowIfNotFinite(float[] values, long t, string quantity)
    {
        try { FiniteValueGuard.ThrowIfAnyNonFinite(values, quantity); }
        catch (ArgumentException e) { throw new TrainingDivergedException(Rank, t, quantity, e); }
    }

    public void Dispose()
    {
        _inner?.Dispose();
        foreach (var o in _outer) o.Dispose();
        foreach (var b in _buffers) b.Dispose();
        _gradientBuffers?.Dispose();
        foreach (var g in _global) g.Dispose();
        _alpha.Dispose();
        _oneMinusAlpha.Dispose();
        _replica?.Dispose(); // the trainer's worker owns its replica; a caller-driven worker owns nothing of the caller's
    }

    private sealed record InFlightSync(int Fragment, long LaunchStep, long ApplyStep, Task<PeerPayload[]> Exchange,
        Task Timing, Func<double> ExchangeSeconds, long SentBefore, long ReceivedBefore);
}
