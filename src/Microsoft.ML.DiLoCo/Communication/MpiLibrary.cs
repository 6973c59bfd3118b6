using System.Runtime.InteropServices;

namespace Microsoft.ML.DiLoCo.Communication;

/// <summary>
/// The few functions of Open MPI's <c>libmpi</c> that the MPI collective needs, bound by hand (MPI.NET assumes
/// MPICH-style integer handles and crashes on Open MPI). Open MPI's handles are addresses of exported globals
/// (<c>ompi_mpi_comm_world</c>, <c>ompi_mpi_byte</c>), so they are looked up with <see cref="NativeLibrary.GetExport"/>.
/// </summary>
internal sealed class MpiLibrary
{
    /// <summary>The Debian packages that provide libmpi and mpirun.</summary>
    public const string PackageHint = "install Open MPI (Debian/Ubuntu: apt-get install -y openmpi-bin libopenmpi-dev)";

    /// <summary>Open MPI's value of MPI_THREAD_MULTIPLE.</summary>
    public const int ThreadMultiple = 3;

    private static readonly string[] LibraryNames = { "libmpi.so.40", "libmpi.so", "libmpi" };
    private static readonly Lazy<MpiLibrary> Shared = new(Load, LazyThreadSafetyMode.ExecutionAndPublication);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)] public delegate int InitThreadFn(IntPtr argc, IntPtr argv, int required, out int provided);
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)] public delegate int FlagFn(out int flag);
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)] public delegate int NoArgumentFn();
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)] public delegate int CommIntFn(IntPtr comm, out int value);
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)] public delegate int CommDupFn(IntPtr comm, out IntPtr duplicate);
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)] public delegate int CommFreeFn(ref IntPtr comm);
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)] public delegate int CommFn(IntPtr comm);
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)] public delegate int AbortFn(IntPtr comm, int errorCode);
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    public delegate int AllgatherFn(IntPtr sendBuffer, int sendCount, IntPtr sendType, IntPtr receiveBuffer, int receiveCount, IntPtr receiveType, IntPtr comm);
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    public delegate int AllgathervFn(IntPtr sendBuffer, int sendCount, IntPtr sendType, IntPtr receiveBuffer, int[] receiveCounts, int[] displacements, IntPtr receiveType, IntPtr comm);

    private MpiLibrary(IntPtr handle, string name)
    {
        Name = name;
        T Bind<T>(string symbol) where T : Delegate => Marshal.GetDelegateForFunctionPointer<T>(NativeLibrary.GetExport(handle, symbol));
        InitThread = Bind<InitThreadFn>("MPI_Init_thread");
        Initialized = Bind<FlagFn>("MPI_Initialized");
        Finalized = Bind<FlagFn>("MPI_Finalized");
        Finalize = Bind<NoArgumentFn>("MPI_Finalize");
        CommRank = Bind<CommIntFn>("MPI_Comm_rank");
        CommSize = Bind<CommIntFn>("MPI_Comm_size");
        CommDup = Bind<CommDupFn>("MPI_Comm_dup");
        CommFree = Bind<CommFreeFn>("MPI_Comm_free");
        Barrier = Bind<CommFn>("MPI_Barrier");
        Abort = Bind<AbortFn>("MPI_Abort");
        Allgather = Bind<AllgatherFn>("MPI_Allgather");
        Allgatherv = Bind<AllgathervFn>("MPI_Allgatherv");
        CommWorld = NativeLibrary.GetExport(handle, "ompi_mpi_comm_world");
        Byte = NativeLibrary.GetExport(handle, "ompi_mpi_byte");
    }

    /// <summary>The library file that was loaded.</summary>
    public string Name { get; }

    public InitThreadFn InitThread { get; }
    public FlagFn Initialized { get; }
    public FlagFn Finalized { get; }
    public NoArgumentFn Finalize { get; }
    public CommIntFn CommRank { get; }
    public CommIntFn CommSize { get; }
    public CommDupFn CommDup { get; }
    public CommFreeFn CommFree { get; }
    public CommFn Barrier { get; }
    public AbortFn Abort { get; }
    public AllgatherFn Allgather { get; }
    public AllgathervFn Allgatherv { get; }

    /// <summary>MPI_COMM_WORLD.</summary>
    public IntPtr CommWorld { get; }

    /// <summary>MPI_BYTE.</summary>
    public IntPtr Byte { get; }

    /// <summary>The process-wide binding; the first call loads libmpi.</summary>
    /// <exception cref="InvalidOperationException">libmpi is not installed, or is not Open MPI.</exception>
    public static MpiLibrary Instance => Shared.Value;

    /// <summary>MPI_Allgather of one int64 per rank on <paramref name="comm"/> of <paramref name="size"/> ranks: every rank's value, by rank.</summary>
    public long[] AllgatherInt64(long own, IntPtr comm, int size)
    {
        var all = new long[size];
        var ownValue = new[] { own };
        var ownHandle = GCHandle.Alloc(ownValue, GCHandleType.Pinned);
        var allHandle = GCHandle.Alloc(all, GCHandleType.Pinned);
        try
        {
            Check(Allgather(ownHandle.AddrOfPinnedObject(), sizeof(long), Byte, allHandle.AddrOfPinnedObject(), sizeof(long), Byte, comm), "MPI_Allgather");
        }
        finally
        {
            ownHandle.Free();
            allHandle.Free();
        }

        return all;
    }

    /// <summary>Throws with the function's name when an MPI call did not return MPI_SUCCESS (0).</summary>
    public static void Check(int code, string function)
    {
        if (code != 0) throw new InvalidOperationException($"{function} failed with MPI error code {code}.");
    }

    private static MpiLibrary Load()
    {
        foreach (var name in LibraryNames)
        {
            if (!NativeLibrary.TryLoad(name, out var handle)) continue;
            try
            {
                return new MpiLibrary(handle, name);
            }
            catch (EntryPointNotFoundException e)
            {
                throw new InvalidOperationException(
                    $"{name} was loaded but is not Open MPI (missing {e.Message}); Transport = Mpi supports Open MPI 4 or later: {PackageHint}.", e);
            }
        }

        throw new InvalidOperationException($"Transport = Mpi needs Open MPI's libmpi ({string.Join(", ", LibraryNames)} not found): {PackageHint}.");
    }
}
