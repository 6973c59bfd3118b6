using System.Text.Json;
using Microsoft.ML.DiLoCo;
using Microsoft.ML.DiLoCo.Communication;
using Microsoft.ML.DiLoCo.Tests.Reliability;
using Microsoft.ML.DiLoCo.Tests.Security;
using Microsoft.ML.DiLoCo.Tests.Training;
using Microsoft.ML.DiLoCo.Training;

/// <summary>
/// mode=peer attack=nan|short|declare|flip|sender0|replay [policy=stop|skip] [sealed=1]: a faulty peer across MPI ranks. Every rank runs one worker of torchft's
/// fixture (the tests' EngineHarness.GoldenSettings, α = 0.5, τ = 0, 6 steps: fragment 0 is exchanged at step 3); rank 1 is faulty.
/// nan / short: rank 1's first payload is changed by the tests' TamperingCollective. declare: rank 1 speaks the collective's
/// protocol by hand, announces 1.5 GB in the length exchange and never sends them. Each rank prints θ̂ and its skipped count, or
/// its error with the bytes this process allocated in all.
/// </summary>
internal static class PeerPayloadCheck
{
    private const long DeclaredBytes = 1_500_000_000;

    public static int Run(string attack, string policy, bool sealedExchanges = false)
    {
        int rank = int.Parse(Environment.GetEnvironmentVariable("OMPI_COMM_WORLD_RANK") ?? "0");
        if (attack == "declare" && rank == 1) return DeclareWithoutSending();
        var settings = EngineHarness.GoldenSettings(0.5f, tau: 0) with
        {
            NonFinite = policy == "skip" ? NonFiniteValuePolicy.SkipContribution : NonFiniteValuePolicy.Stop,
        };
        var mpi = new MpiCollective(TimeSpan.FromSeconds(30));
        // sealed=1: the attack hits the sealed bytes on the wire (below the seal, after the 12-byte nonce; sender0 rewrites the
        // nonce's sender field; replay sends rank 1's first sealed payload again in place of its second), as an attacker on the link would.
        ICollective collective = rank != 1 ? mpi
            : attack == "replay" ? new ReplayingCollective(mpi)
            : new TamperingCollective(mpi, TamperingCollective.Attack(attack,
                offset: (policy == "skip" ? 1 : 0) + (sealedExchanges && attack != "sender0" ? 12 : 0)));
        if (sealedExchanges) collective = new SealedCollective(collective, ExchangeKeys.Derive(new byte[32], ExchangeKeys.AgreeRunId(mpi)), wireFormat: 0);
        using var worker = new DiLoCoWorker(rank, new ConstantGradientReplica(2), collective, settings);
        try
        {
            for (int t = 1; t <= 6; t++) worker.Step(t);
            worker.Finish(lastStep: 6);
            RankOutput.WriteLine(JsonSerializer.Serialize(new
            {
                rank,
                global = EngineHarness.Flatten(worker.OuterParameters),
                skipped = worker.Statistics.SkippedContributions,
            }));
            mpi.Dispose();
            return 0;
        }
        catch (Exception e)
        {
            // The communication thread may wait in an exchange the faulty rank never joins: no Dispose; the exit aborts the job.
            RankOutput.WriteLine(JsonSerializer.Serialize(new
            {
                rank,
                error = e.GetType().Name,
                message = e.Message,
                allocatedBytes = GC.GetTotalAllocatedBytes(precise: true),
            }));
            // short: each rank refuses the other's length and aborts the job at exit; the faulty one waits, so that the
            // honest rank's line is printed before an abort ends it.
            if (rank == 1 && attack == "short") Thread.Sleep(TimeSpan.FromSeconds(20));
            // Sealed: the faulty rank does not open its own tampered payload and may wait in the next exchange, so the honest rank
            // ends the job at exit as the trainer does (WorkerCollectives.Abort). MPI_Finalize would wait for the faulty rank's 30 s
            // watchdog instead (flip, sender0): 31 s a run, and past the tests' 90 s limit under load (CI, 2026-12-07).
            if (rank == 0 && sealedExchanges) MpiRuntime.MarkFailed($"rank 0: {e.Message}");
            return 3;
        }
    }

    /// <summary>The first exchange's length step as MpiCollective does it (MPI_Allgather of one int64 on a duplicate of
    /// MPI_COMM_WORLD), with a length that is never sent; then waits to be ended with the job.</summary>
    private static int DeclareWithoutSending()
    {
        var mpi = MpiRuntime.Start();
        MpiLibrary.Check(mpi.CommDup(mpi.CommWorld, out IntPtr comm), "MPI_Comm_dup");
        MpiLibrary.Check(mpi.CommSize(comm, out int size), "MPI_Comm_size");
        mpi.AllgatherInt64(DeclaredBytes, comm, size);
        MpiRuntime.MarkFailed("rank 1 is the faulty peer of the test");
        Thread.Sleep(TimeSpan.FromSeconds(60));
        return 5;
    }
}
