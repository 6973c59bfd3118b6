using Microsoft.ML.DiLoCo.Communication;

namespace Microsoft.ML.DiLoCo.Runs;

/// <summary>
/// The collectives of this process's workers for one run: in-process (M threads in one group) or MPI (this rank's
/// workers, numbered globally: rank r runs workers r·L … r·L + L − 1 of M = ranks × L). Each worker's collective is
/// metered, and wrapped in the simulated link when the options ask for one.
/// </summary>
internal sealed class WorkerCollectives : IDisposable
{
    private readonly ICollective[] _raw;
    private readonly MpiWorkerGroup? _local;
    private bool _failed;

    private WorkerCollectives(ICollective[] raw, MpiCollective? mpi, MpiWorkerGroup? local, int processRank, int processCount, int localWorkers, LinkModel? link,
        RunPlan plan, byte[] runId)
    {
        _raw = raw;
        Mpi = mpi;
        _local = local;
        ProcessRank = processRank;
        ProcessCount = processCount;
        FirstWorker = processRank * localWorkers;
        TotalWorkers = processCount * localWorkers;
        // Sealing sits next to the transport: the simulated link and the meter see the sealed bytes (plaintext + nonce + tag).
        var keys = plan.Process.ExchangeSecurity == ExchangeSecurity.Encrypted ? ExchangeSealing.Keys(plan.Process.ExchangeKeyFile, runId) : null;
        Workers = raw.Select(c => keys is null ? c : new SealedCollective(c, keys, ExchangeSealing.WireIdentifier(plan.Sync, plan.NonFiniteValuePolicy)))
            .Select(c => new MeteredCollective(link is null ? c : new LinkModelCollective(c, link), keys is null ? 0 : SealedCollective.Overhead))
            .ToArray();
    }

    /// <summary>This process's workers' collectives, by local index; their Rank is the global worker index.</summary>
    public MeteredCollective[] Workers { get; }

    /// <summary>The rank-level MPI collective (null in-process): used for the start-up check and to gather the report.</summary>
    public MpiCollective? Mpi { get; }

    /// <summary>MPI rank of this process (0 in-process).</summary>
    public int ProcessRank { get; }

    /// <summary>Number of MPI ranks (1 in-process).</summary>
    public int ProcessCount { get; }

    /// <summary>Global index of this process's first worker.</summary>
    public int FirstWorker { get; }

    /// <summary>M: workers across all processes.</summary>
    public int TotalWorkers { get; }

    public static WorkerCollectives Create(RunPlan plan)
    {
        var link = plan.Process.Link;
        int workers = plan.Process.WorkersPerProcess;
        if (plan.Process.Transport == Transport.InProcess)
            return new WorkerCollectives(InProcessCollective.CreateGroup(workers), null, null, 0, 1, workers, link, plan, ExchangeKeys.NewRunId());

        var mpi = new MpiCollective(plan.Process.ExchangeTimeout);
        // Every rank agrees on a run id, sealed or not: a rank that seals and one that does not then meet at the rank-consistency check,
        // which names ExchangeSecurity, instead of in mismatched exchanges.
        byte[] runId = ExchangeKeys.AgreeRunId(mpi);
        if (workers == 1) return new WorkerCollectives(new ICollective[] { mpi }, mpi, null, mpi.Rank, mpi.Size, 1, link, plan, runId);
        // Several workers per rank: an in-memory group inside the rank and one MPI exchange per rank and round.
        var local = new MpiWorkerGroup(mpi, workers);
        return new WorkerCollectives(local.Members, mpi, local, mpi.Rank, mpi.Size, workers, link, plan, runId);
    }

    /// <summary>How long a failed rank's host has to see the exception before the MPI job is aborted (see MpiRuntime.AbortJobSoon).</summary>
    public static readonly TimeSpan MpiAbortGrace = TimeSpan.FromSeconds(2);

    /// <summary>A worker failed: make the others fail instead of waiting for it (under MPI: end the whole job within seconds).</summary>
    public void Abort(Exception reason)
    {
        // Under MPI the ranks that stop at an agreed checkpoint throw together with nothing in flight: not a failure.
        if (Mpi is not null && RunCheckpoints.IsAgreedStop(reason)) return;
        _failed = true;
        if (Mpi is not null)
        {
            // The other ranks wait inside MPI for this one: only MPI_Abort stops them, also if the host catches the exception.
            MpiRuntime.AbortJobSoon($"rank {ProcessRank} failed: {reason.Message}", MpiAbortGrace);
            _local?.Abort(reason); // this rank's other workers stop waiting for the failed one
        }
        else ((InProcessCollective)_raw[0]).Abort(reason);
    }

    /// <summary>
    /// The worker with local index <paramref name="local"/> failed and is dropped (OnWorkerFailure = Continue, in-process only):
    /// it leaves its group, so the exchanges it has not joined complete with the live workers.
    /// </summary>
    /// <exception cref="NotSupportedException">Under MPI (the option validation refuses Continue there).</exception>
    public void Leave(int local)
    {
        if (Mpi is not null || _raw[local] is not InProcessCollective member)
            throw new NotSupportedException("Only an in-process worker can leave its group (OnWorkerFailure = Continue needs Transport = InProcess).");
        member.Leave();
    }

    public void Dispose()
    {
        // After a failure an MPI exchange may never complete: leave the communication thread, the exit aborts the job.
        if (_failed && Mpi is not null) return;
        foreach (var c in Workers) c.Dispose();
        Mpi?.Dispose(); // idempotent: with one worker per rank the worker's collective was the MPI collective itself
    }
}
