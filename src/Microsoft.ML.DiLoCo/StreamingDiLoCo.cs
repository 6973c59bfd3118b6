using Microsoft.ML.DiLoCo.Communication;
using Microsoft.ML.DiLoCo.Runs;
using Microsoft.ML.DiLoCo.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.DiLoCo;

/// <summary>
/// Streaming DiLoCo for your own TorchSharp model and training loop: one instance per worker, beside your module
/// and your inner optimizer. After each <c>optimizer.step()</c> call <see cref="Step"/>; the library launches,
/// overlaps and applies the fragment syncs (ALGORITHM.md) with the same engine as the ML.NET trainer. At the end call
/// <see cref="Finish"/>; the model to evaluate or save is θ̂ (<see cref="CopyOuterParametersTo"/>).
/// </summary>
/// <example>
/// <code>
/// using var diloco = new StreamingDiLoCo(model, optimizer, collective, new StreamingDiLoCoOptions { InnerSteps = 30 });
/// for (int t = 0; t &lt; steps; t++)
/// {
///     optimizer.zero_grad();
///     var loss = model.Loss(NextBatch());
///     loss.backward();
///     diloco.AverageGradients(); // data-parallel only; does nothing otherwise
///     optimizer.step();
///     diloco.Step();
/// }
/// diloco.Finish();
/// diloco.CopyOuterParametersTo(model);
/// </code>
/// </example>
/// <remarks>
/// <para>Only trainable parameters (<c>requires_grad</c>) are synchronised. The module stays yours: the library writes
/// into its parameters in place (θ0 from worker 0 at construction, the merge with θ̂ at each sync) and never
/// disposes it, the optimizer or the collective.</para>
/// <para>Every worker must issue the same calls in the same order: construct, then <see cref="Step"/> once per inner
/// step, then <see cref="Finish"/>. Construction all-gathers a description of the parameters and settings and fails
/// on every worker when one differs.</para>
/// <para>Data-parallel mode averages gradients: call <see cref="AverageGradients"/> between <c>backward()</c> and
/// <c>optimizer.step()</c>; <see cref="Step"/> refuses to continue if it was not called. In the DiLoCo modes that
/// call does nothing, so one loop runs all three methods.</para>
/// </remarks>
public sealed class StreamingDiLoCo : IDisposable
{
    private readonly DiLoCoWorker _worker;
    private readonly MeteredCollective _metered;
    private readonly SealedCollective? _sealed;
    private readonly TrainingAlgorithm _algorithm;
    private readonly WireFormat _wireFormat;
    private readonly string[] _fragmentNames;
    private readonly long _parameterCount;
    private long _steps;
    private long _gradientsAveragedAt;
    private bool _finished;
    private bool _disposed;

    /// <summary>Wraps one worker's module and inner optimizer.</summary>
    /// <param name="module">Your model on this worker; the same architecture on every worker.</param>
    /// <param name="optimizer">Your inner optimizer; it must own every trainable parameter of <paramref name="module"/>.</param>
    /// <param name="collective">This worker's member of the group (<see cref="InProcessCollective.CreateGroup"/>, MPI, …).</param>
    /// <param name="options">The settings, the same on every worker; null takes the defaults.</param>
    /// <exception cref="ArgumentException">A bad option, fragment list, mixed devices, an optimizer that does not own a
    /// parameter, or a module or options that differ between workers; the message names the parameter.</exception>
    public StreamingDiLoCo(nn.Module module, optim.Optimizer optimizer, ICollective collective, StreamingDiLoCoOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(module);
        ArgumentNullException.ThrowIfNull(optimizer);
        ArgumentNullException.ThrowIfNull(collective);
        options ??= new StreamingDiLoCoOptions();
        var sync = options.Resolve();

        var named = module.named_parameters().Where(p => p.parameter.requires_grad).ToArray();
        if (named.Length == 0) throw new ArgumentException("The module has no trainable parameters.", nameof(module));
        var names = named.Select(p => p.name).ToArray();
        var parameters = named.Select(p => p.parameter).ToArray();
        ThrowIfMixedDevices(names, parameters);
        ThrowIfNotOwned(names, parameters, optimizer);

        _algorithm = sync.Algorithm;
        _wireFormat = sync.WireFormat;
        (int[][] fragments, string[] fragmentNames) = _algorithm switch
        {
            TrainingAlgorithm.DataParallel => (new[] { Enumerable.Range(0, names.Length).ToArray() }, Array.Empty<string>()),
            TrainingAlgorithm.DiLoCo => (new[] { Enumerable.Range(0, names.Length).ToArray() }, new[] { "all parameters" }),
            _ when options.Fragments is not null => ModuleFragments.Explicit(names, options.Fragments),
            _ => ModuleFragments.Strided(names, sync.Fragments),
        };
        _fragmentNames = fragmentNames;
        _parameterCount = parameters.Sum(p => p.numel());

        // Before anything else travels: every worker must hold the same parameters and settings.
        WorkerAgreement.Verify(collective, Describe(sync, options, fragments), WorkerAgreement.Describe(names, parameters));
        bool encrypted = options.ExchangeSecurity == ExchangeSecurity.Encrypted;
        // Sealed under a run id agreed now, so a restarted job never reuses a nonce under the same key; the caller keeps its collective.
        _sealed = encrypted ? new SealedCollective(collective, ExchangeSealing.Keys(options.ExchangeKeyFile, ExchangeKeys.AgreeRunId(collective)),
            ExchangeSealing.WireIdentifier(sync, NonFiniteValuePolicy.Stop), ownsInner: false) : null;
        if (options.BroadcastInitialParameters) WorkerAgreement.BroadcastFromRankZero(_sealed ?? collective, parameters, sealedExchanges: encrypted);

        var settings = sync.ForWorkers(FragmentPlan.Explicit(names.Length, fragments), inner: null); // the caller steps its own optimizer
        // Counts training traffic only (not the agreement above); never disposed: the collective is the caller's.
        _metered = new MeteredCollective(_sealed ?? collective, encrypted ? SealedCollective.Overhead : 0);
        _worker = new DiLoCoWorker(collective.Rank, parameters, _metered, settings);
        ParameterNames = names;
        OuterParameters = names.Zip(_worker.OuterParameters).ToDictionary(p => p.First, p => p.Second);
        Fragments = fragments.Select(f => (IReadOnlyList<string>)f.Select(i => names[i]).ToArray()).ToArray();
    }

    /// <summary>This worker's rank in the collective.</summary>
    public int Rank => _metered.Rank;

    /// <summary>The number of workers M.</summary>
    public int NumberOfWorkers => _metered.Size;

    /// <summary>Inner steps reported so far through <see cref="Step"/> (t).</summary>
    public long StepCount => _steps;

    /// <summary>The synchronised (trainable) parameter names, in the module's order.</summary>
    public IReadOnlyList<string> ParameterNames { get; }

    /// <summary>The parameter names of each fragment, in sync order (one fragment holding everything for DiLoCo and data-parallel).</summary>
    public IReadOnlyList<IReadOnlyList<string>> Fragments { get; }

    /// <summary>
    /// θ̂ by parameter name: the outer parameters, FP32, bit-identical on every worker after every sync (data-parallel:
    /// the module's own parameters). Read them; do not modify them. They are valid until this object is disposed.
    /// </summary>
    public IReadOnlyDictionary<string, Tensor> OuterParameters { get; }

    /// <summary>
    /// Data-parallel: all-gathers this step's gradients and replaces them with their FP32 mean over workers (rank
    /// order: identical everywhere). Call it after <c>backward()</c> and before gradient clipping and <c>optimizer.step()</c>.
    /// In the DiLoCo modes it does nothing.
    /// </summary>
    public void AverageGradients()
    {
        ThrowIfUnusable();
        if (_algorithm != TrainingAlgorithm.DataParallel) return;
        if (_gradientsAveragedAt == _steps + 1)
            throw new InvalidOperationException("AverageGradients was already called for this step; call Step() after optimizer.step().");
        _worker.AverageGradients(_steps + 1);
        _gradientsAveragedAt = _steps + 1;
    }

    /// <summary>
    /// Call once after every <c>optimizer.step()</c>: counts inner step t and runs the outer loop of ALGORITHM.md — launches
    /// a fragment's exchange when (t + τ) mod (H/P) = 0 and applies it τ steps later (outer Nesterov step on θ̂, then the
    /// merge of the module's parameters with θ̂).
    /// </summary>
    /// <exception cref="TrainingDivergedException">A pseudo-gradient is not finite.</exception>
    public void Step()
    {
        ThrowIfUnusable();
        if (_algorithm == TrainingAlgorithm.DataParallel && _gradientsAveragedAt != _steps + 1)
            throw new InvalidOperationException("Data-parallel mode needs AverageGradients() between backward() and optimizer.step() at every step.");
        _steps++;
        _worker.AfterInnerStep(_steps);
    }

    /// <summary>
    /// At the end of training: applies the sync still in flight, so that θ̂ includes every launched exchange. Every
    /// worker must call it. Calling it again does nothing; <see cref="Step"/> is refused afterwards.
    /// </summary>
    public void Finish()
    {
        if (_disposed) throw new ObjectDisposedException(nameof(StreamingDiLoCo));
        if (_finished) return;
        _finished = true;
        _worker.Finish(_steps);
    }

    /// <summary>Copies θ̂ into <paramref name="target"/> (e.g. your module after <see cref="Finish"/>, or a copy for evaluation).</summary>
    /// <param name="target">A module with the same trainable parameter names and shapes.</param>
    public void CopyOuterParametersTo(nn.Module target)
    {
        ArgumentNullException.ThrowIfNull(target);
        if (_disposed) throw new ObjectDisposedException(nameof(StreamingDiLoCo));
        var named = target.named_parameters().Where(p => p.parameter.requires_grad).ToDictionary(p => p.name, p => p.parameter);
        foreach (string name in ParameterNames)
        {
            if (!named.TryGetValue(name, out var destination))
                throw new ArgumentException($"The target module has no trainable parameter '{name}'.", nameof(target));
            var source = OuterParameters[name];
            if (!destination.shape.SequenceEqual(source.shape))
                throw new ArgumentException($"Parameter '{name}' is [{string.Join(", ", destination.shape)}] in the target but [{string.Join(", ", source.shape)}] here.", nameof(target));
        }
        using var _ = no_grad();
        foreach (string name in ParameterNames)
        {
            var destination = named[name];
            if (!ReferenceEquals(destination, OuterParameters[name])) destination.copy_(OuterParameters[name]);
        }
    }

    /// <summary>What this worker exchanged so far.</summary>
    public StreamingDiLoCoReport Report => new(Rank, NumberOfWorkers, _algorithm, _wireFormat, _steps, _parameterCount, _fragmentNames,
        _worker.Statistics.Syncs.ToArray(), _metered.BytesSent, _metered.BytesReceived, _metered.LargestMessageBytes,
        _worker.Statistics.CommunicationWaitSeconds);

    /// <summary>
    /// Runs <paramref name="trainWorker"/>(rank, collective) for ranks 0 … <paramref name="workers"/> − 1, each on its own
    /// thread with its own member of an in-process group, and waits for all of them. When one worker throws, the group is
    /// aborted so the others stop at their next exchange instead of waiting forever, and the first real error is rethrown.
    /// </summary>
    /// <param name="workers">M, at least 1.</param>
    /// <param name="trainWorker">One worker's whole training: build the module and optimizer, wrap them, run the loop.</param>
    /// <param name="threadsPerWorker">libtorch intra-op threads per worker thread (1 keeps M workers from fighting over the cores).</param>
    public static void RunInProcess(int workers, Action<int, ICollective> trainWorker, int threadsPerWorker = 1)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(workers, 1);
        ArgumentNullException.ThrowIfNull(trainWorker);
        ArgumentOutOfRangeException.ThrowIfLessThan(threadsPerWorker, 1);
        var group = InProcessCollective.CreateGroup(workers);
        try
        {
            WorkerThreads.Run(workers, rank => trainWorker(rank, group[rank]), e => ((InProcessCollective)group[0]).Abort(e), threadsPerWorker);
        }
        finally
        {
            foreach (var member in group) member.Dispose();
        }
    }

    /// <summary>Releases θ̂, the outer optimizer state and the exchange buffers (not the module, optimizer or collective).</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _worker.Dispose();
        _sealed?.Dispose(); // its cipher; the collective stays the caller's
    }

    private void ThrowIfUnusable()
    {
        if (_disposed) throw new ObjectDisposedException(nameof(StreamingDiLoCo));
        if (_finished) throw new InvalidOperationException("Finish() was called: this worker's training is over.");
    }

    private static void ThrowIfMixedDevices(string[] names, Parameter[] parameters)
    {
        var first = parameters[0].device;
        for (int i = 1; i < parameters.Length; i++)
        {
            var device = parameters[i].device;
            if (device.type != first.type || device.index != first.index)
                throw new ArgumentException(
                    $"Parameter '{names[i]}' is on {device} but '{names[0]}' is on {first}: move the whole module to one device first.", "module");
        }
    }

    private static void ThrowIfNotOwned(string[] names, Parameter[] parameters, optim.Optimizer optimizer)
    {
        var owned = new HashSet<IntPtr>(optimizer.parameters().Select(p => p.Handle));
        for (int i = 0; i < parameters.Length; i++)
        {
            if (!owned.Contains(parameters[i].Handle))
                throw new ArgumentException(
                    $"The optimizer does not own the module's parameter '{names[i]}': build it from this module's parameters().", nameof(optimizer));
        }
    }

    private static string Describe(SyncSettings sync, StreamingDiLoCoOptions options, int[][] fragments) => string.Join(", ", RunPlanDescription.SyncLines(sync)
        .Append(RunPlanDescription.Line("BroadcastInitialParameters", options.BroadcastInitialParameters))
        .Append(RunPlanDescription.Line("ExchangeSecurity", options.ExchangeSecurity))
        .Append(RunPlanDescription.Line("Fragments", "[" + string.Join(" | ", fragments.Select(f => string.Join(",", f))) + "]")));
}
