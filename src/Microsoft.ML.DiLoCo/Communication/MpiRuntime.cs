namespace Microsoft.ML.DiLoCo.Communication;

/// <summary>
/// The process's MPI session: initialised once with MPI_THREAD_MULTIPLE (or attached to, when the host program
/// initialised MPI itself), finalised once at process exit. MPI cannot be initialised twice in a process, so
/// collectives come and go (each on its own duplicate of MPI_COMM_WORLD) while the session lives on.
/// </summary>
/// <remarks>
/// A rank that failed must not call MPI_Finalize: it synchronises with the other ranks, which are still waiting
/// for this rank's next exchange, and would hang. <see cref="MarkFailed"/> turns the exit into MPI_Abort instead,
/// which makes the launcher (mpirun, srun) end every rank of the job.
/// </remarks>
internal static class MpiRuntime
{
    private static readonly object Gate = new();
    private static bool _started;
    private static bool _ownsSession;
    private static volatile string? _failure;
    private static Timer? _abortTimer; // kept alive here: a collected timer never fires

    /// <summary>Environment variables that MPI launchers set in every rank (Open MPI's mpirun, PMIx, PMI-1/2, Hydra).</summary>
    public static readonly string[] LauncherVariables = { "OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE" };

    /// <summary>How to launch, for error messages.</summary>
    public const string LaunchHint =
        "start every rank with an MPI launcher, e.g. `mpirun -np 3 dotnet YourApp.dll` (as root add --allow-run-as-root; " +
        "on one machine with more ranks than cores add --oversubscribe), or under Slurm `srun --mpi=pmix -n 3 dotnet YourApp.dll`";

    /// <summary>True when a launcher started this process (checked before touching libmpi: a plain start would make
    /// MPI_Init create a singleton world of one rank, which is never what a multi-rank run wants).</summary>
    public static bool IsLaunchedByMpi => LauncherVariables.Any(v => !string.IsNullOrEmpty(Environment.GetEnvironmentVariable(v)));

    /// <summary>Ranks on this machine according to the launcher (1 when unknown): used to split the cores.</summary>
    public static int LocalRanks =>
        int.TryParse(Environment.GetEnvironmentVariable("OMPI_COMM_WORLD_LOCAL_SIZE"), out int n) && n > 0 ? n : 1;

    /// <summary>Initialises MPI once (thread level MULTIPLE) and returns the library binding.</summary>
    /// <exception cref="InvalidOperationException">Not launched by an MPI launcher, libmpi missing, or MPI lacks thread support.</exception>
    public static MpiLibrary Start()
    {
        if (!IsLaunchedByMpi)
            throw new InvalidOperationException($"Transport = Mpi but this process was not started by an MPI launcher (none of {string.Join(", ", LauncherVariables)} is set): {LaunchHint}.");
        var mpi = MpiLibrary.Instance;
        lock (Gate)
        {
            if (_started) return mpi;
            MpiLibrary.Check(mpi.Finalized(out int finalized), "MPI_Finalized");
            if (finalized != 0) throw new InvalidOperationException("MPI has already been finalised in this process; it cannot be started again.");
            MpiLibrary.Check(mpi.Initialized(out int initialized), "MPI_Initialized");
            if (initialized == 0)
            {
                MpiLibrary.Check(mpi.InitThread(IntPtr.Zero, IntPtr.Zero, MpiLibrary.ThreadMultiple, out int provided), "MPI_Init_thread");
                _ownsSession = true;
                AppDomain.CurrentDomain.ProcessExit += (_, _) => End();
                if (provided < MpiLibrary.ThreadMultiple)
                    throw new InvalidOperationException($"MPI provides thread level {provided}, but the communication thread needs MPI_THREAD_MULTIPLE ({MpiLibrary.ThreadMultiple}); use an Open MPI built with thread support.");
            }

            _started = true;
            return mpi;
        }
    }

    /// <summary>Records that this rank failed: at exit MPI_Abort replaces MPI_Finalize so the job ends instead of hanging.</summary>
    public static void MarkFailed(string reason) => _failure ??= reason;

    /// <summary>
    /// This rank failed: the whole job ends <paramref name="grace"/> from now (MPI_Abort), or at process exit if that comes first,
    /// whatever the host program does with the exception meanwhile. The first failure's reason is the one printed.
    /// </summary>
    /// <remarks>
    /// Why MPI_Abort rather than telling the other ranks: they are blocked in, or about to enter, a collective this rank will never
    /// join, and MPI cannot cancel a blocking collective (Open MPI 4.1 has no ULFM), so a rank that was told could neither go on nor
    /// finalise: the job would still have to be aborted, after a listener thread and a message protocol had only changed the
    /// wording. Waiting for this process to exit is not enough either: a host that catches the exception and keeps running kept
    /// every other rank waiting ExchangeTimeoutSeconds (600 s by default, forever at 0) while holding its cores or GPU.
    /// The grace lets the exception reach Fit's caller first, so that the failing host can log it; the launcher (mpirun, srun)
    /// then ends every rank and reports the job as failed, naming the rank that called MPI_Abort.
    /// </remarks>
    public static void AbortJobSoon(string reason, TimeSpan grace)
    {
        MarkFailed(reason);
        lock (Gate) _abortTimer ??= new Timer(_ => AbortJob(_failure ?? reason), null, grace, Timeout.InfiniteTimeSpan);
    }

    /// <summary>Ends the job now from any thread (MPI_Abort on MPI_COMM_WORLD); the launcher stops every rank.</summary>
    public static void AbortJob(string reason)
    {
        Console.Error.WriteLine($"[DiLoCo MPI] aborting the job: {reason}");
        Console.Error.Flush();
        var mpi = MpiLibrary.Instance;
        mpi.Abort(mpi.CommWorld, 1);
    }

    private static void End()
    {
        lock (Gate)
        {
            if (!_ownsSession) return;
            _ownsSession = false;
            var mpi = MpiLibrary.Instance;
            if (_failure is { } reason) AbortJob(reason);
            else mpi.Finalize();
        }
    }
}
