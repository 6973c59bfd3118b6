using System.Collections.Concurrent;
using System.Runtime.InteropServices;

namespace Microsoft.ML.DiLoCo.Communication;

/// <summary>
/// One rank of an MPI job as an <see cref="ICollective"/>: member k is MPI rank k of a private duplicate of
/// MPI_COMM_WORLD. Exchanges run on a dedicated communication thread, in the order they were issued, so
/// <see cref="AllGatherAsync"/> returns at once and the exchange completes while the caller computes.
/// </summary>
/// <remarks>
/// Why a thread: Open MPI progresses a collective only inside an MPI call, so an exchange overlaps compute only
/// if some thread sits in MPI meanwhile (measured: polling MPI_Test between steps gave no overlap). An all-gather
/// of payloads of different lengths is MPI_Allgather of the lengths, then MPI_Allgatherv of the bytes in chunks
/// of at most <see cref="ChunkBytes"/> per rank (Open MPI's temporary buffers for large messages page-fault slowly).
/// The lengths come from other processes: each is checked before anything is allocated for it.
/// A watchdog ends the whole job (MPI_Abort) when an exchange takes longer than the timeout: a rank that hangs or
/// died without its launcher noticing cannot leave the others waiting forever.
/// </remarks>
public sealed class MpiCollective : ICollective
{
    /// <summary>Default chunk: 16 MiB per rank per MPI_Allgatherv.</summary>
    public const int DefaultChunkBytes = 16 << 20;

    private readonly MpiLibrary _mpi;
    private IntPtr _comm;
    private readonly BlockingCollection<Action> _queue = new();
    private readonly Thread _thread;
    private readonly TimeSpan _timeout;
    private readonly Timer _watchdog;
    private long _issued;
    private volatile string _current = "";
    private int _disposed;
    private byte[] _staging = Array.Empty<byte>();

    /// <summary>Joins the MPI job (initialising MPI on first use) on a duplicate of MPI_COMM_WORLD. Every rank must create its collective at the same point of the program.</summary>
    /// <param name="exchangeTimeout">Longest time one exchange may take before the job is aborted; <see cref="Timeout.InfiniteTimeSpan"/> or zero = never.</param>
    /// <param name="chunkBytes">Largest slice of one rank's payload per MPI_Allgatherv.</param>
    /// <exception cref="InvalidOperationException">Not launched by an MPI launcher, or libmpi is missing (the message says how to fix it).</exception>
    public MpiCollective(TimeSpan exchangeTimeout, int chunkBytes = DefaultChunkBytes)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(chunkBytes, 1);
        ChunkBytes = chunkBytes;
        _timeout = exchangeTimeout <= TimeSpan.Zero ? Timeout.InfiniteTimeSpan : exchangeTimeout;
        _mpi = MpiRuntime.Start();
        MpiLibrary.Check(_mpi.CommDup(_mpi.CommWorld, out _comm), "MPI_Comm_dup");
        MpiLibrary.Check(_mpi.CommRank(_comm, out int rank), "MPI_Comm_rank");
        MpiLibrary.Check(_mpi.CommSize(_comm, out int size), "MPI_Comm_size");
        Rank = rank;
        Size = size;
        _watchdog = new Timer(_ => MpiRuntime.AbortJob(
            $"rank {Rank}: {_current} did not complete within {_timeout.TotalSeconds:N0} s; another rank has probably died or hung."));
        _thread = new Thread(Serve) { IsBackground = true, Name = $"MPI communication (rank {rank})" };
        _thread.Start();
    }

    /// <inheritdoc/>
    public int Rank { get; }

    /// <inheritdoc/>
    public int Size { get; }

    /// <summary>Largest slice of one rank's payload sent by one MPI_Allgatherv.</summary>
    public int ChunkBytes { get; }

    /// <summary>
    /// Queues an all-gather and returns at once; the task completes with every rank's payload in rank order once the
    /// communication thread has run it. The payload must stay unchanged until then.
    /// </summary>
    public Task<ReadOnlyMemory<byte>[]> AllGatherAsync(ReadOnlyMemory<byte> payload, CancellationToken cancellationToken = default) =>
        Issue(() => AllGather(payload, expectedLength: null), cancellationToken);

    /// <summary>
    /// As <see cref="AllGatherAsync"/> for payloads that every rank sends with this rank's length: a rank that declares another
    /// length is refused (<see cref="PeerPayloadException"/> naming it) before anything is allocated for it. Every rank reads the
    /// same declared lengths, so every rank whose own length is the expected one refuses the same sender at the same exchange.
    /// </summary>
    public Task<PeerPayload[]> AllGatherSameLengthAsync(ReadOnlyMemory<byte> payload, CancellationToken cancellationToken = default) =>
        Issue(() => AllGather(payload, payload.Length).Select((bytes, rank) => new PeerPayload(rank, bytes)).ToArray(), cancellationToken);

    /// <summary>Completes when every rank has reached its matching barrier (queued behind earlier exchanges).</summary>
    public Task BarrierAsync()
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Enqueue("barrier", () => { MpiLibrary.Check(_mpi.Barrier(_comm), "MPI_Barrier"); done.SetResult(); }, done.SetException);
        return done.Task;
    }

    /// <summary>Ends the whole MPI job now (MPI_Abort): the only way to stop ranks that wait inside MPI for this one.</summary>
    public void Abort(Exception reason)
    {
        ArgumentNullException.ThrowIfNull(reason);
        MpiRuntime.AbortJob($"rank {Rank}: {reason.Message}");
    }

    /// <summary>Runs the queued exchanges to the end, stops the communication thread and frees the communicator. MPI itself is finalised at process exit.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _queue.CompleteAdding();
        _thread.Join();
        _watchdog.Dispose();
        if (_comm != IntPtr.Zero) _mpi.CommFree(ref _comm);
        _queue.Dispose();
    }

    /// <summary>Queues the next all-gather on the communication thread and returns its task at once.</summary>
    private Task<T> Issue<T>(Func<T> allGather, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        long call = Interlocked.Increment(ref _issued);
        var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        Enqueue($"all-gather {call}", () => done.SetResult(allGather()), done.SetException);
        return cancellationToken.CanBeCanceled ? done.Task.WaitAsync(cancellationToken) : done.Task;
    }

    private void Enqueue(string what, Action exchange, Action<Exception> fail)
    {
        void Work()
        {
            _current = what;
            _watchdog.Change(_timeout, Timeout.InfiniteTimeSpan);
            try
            {
                exchange();
            }
            catch (Exception e)
            {
                MpiRuntime.MarkFailed($"rank {Rank}: {what} failed: {e.Message}");
                fail(e);
            }
            finally
            {
                _watchdog.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            }
        }

        try
        {
            _queue.Add(Work);
        }
        catch (InvalidOperationException)
        {
            fail(new ObjectDisposedException(nameof(MpiCollective)));
        }
    }

    private void Serve()
    {
        foreach (var work in _queue.GetConsumingEnumerable()) work();
    }

    private ReadOnlyMemory<byte>[] AllGather(ReadOnlyMemory<byte> payload, long? expectedLength)
    {
        long[] lengths = ExchangeLengths(payload.Length, expectedLength);
        var results = new byte[Size][];
        for (int r = 0; r < Size; r++) results[r] = r == Rank ? payload.ToArray() : GC.AllocateUninitializedArray<byte>((int)lengths[r]);
        long longest = lengths.Max();
        if (Size == 1 || longest == 0) return results.Select(b => (ReadOnlyMemory<byte>)b).ToArray();

        // 2. The bytes, in slices of at most ChunkBytes per rank, through a reused pinned staging buffer.
        byte[] send = MemoryMarshal.TryGetArray(payload, out ArraySegment<byte> segment) ? segment.Array! : results[Rank];
        int sendOffset = segment.Array is null ? 0 : segment.Offset;
        var sendHandle = GCHandle.Alloc(send, GCHandleType.Pinned);
        var counts = new int[Size];
        var displacements = new int[Size];
        try
        {
            int chunks = (int)((longest + ChunkBytes - 1) / ChunkBytes);
            for (int c = 0; c < chunks; c++)
            {
                long start = (long)c * ChunkBytes;
                int total = 0;
                for (int r = 0; r < Size; r++)
                {
                    counts[r] = (int)Math.Clamp(lengths[r] - start, 0, ChunkBytes);
                    displacements[r] = total;
                    total += counts[r];
                }

                byte[] staging = Staging(total);
                var stagingHandle = GCHandle.Alloc(staging, GCHandleType.Pinned);
                try
                {
                    MpiLibrary.Check(_mpi.Allgatherv(sendHandle.AddrOfPinnedObject() + (nint)(sendOffset + start), counts[Rank], _mpi.Byte,
                        stagingHandle.AddrOfPinnedObject(), counts, displacements, _mpi.Byte, _comm), "MPI_Allgatherv");
                }
                finally
                {
                    stagingHandle.Free();
                }

                for (int r = 0; r < Size; r++)
                    if (r != Rank && counts[r] > 0)
                        staging.AsSpan(displacements[r], counts[r]).CopyTo(results[r].AsSpan((int)start));
            }
        }
        finally
        {
            sendHandle.Free();
        }

        return results.Select(b => (ReadOnlyMemory<byte>)b).ToArray();
    }

    /// <summary>Step 1 of an all-gather: every rank's length (8 bytes each), each checked before anything is allocated for it.</summary>
    private long[] ExchangeLengths(long own, long? expectedLength)
    {
        long[] lengths = _mpi.AllgatherInt64(own, _comm, Size);

        // Another rank's length is untrusted input. Every rank reads the same lengths, so every rank refuses the same sender.
        for (int r = 0; r < Size; r++)
        {
            if (lengths[r] < 0 || lengths[r] > Array.MaxLength)
                throw new PeerPayloadException(r, $"MPI rank {r}", $"it declared {lengths[r]:N0} bytes, which no payload can have (0 to {Array.MaxLength:N0}).");
            if (expectedLength is { } expected) PeerPayloads.ThrowIfLengthDiffers(r, $"MPI rank {r}", lengths[r], expected);
        }

        return lengths;
    }

    private byte[] Staging(int length)
    {
        if (_staging.Length < length) _staging = GC.AllocateUninitializedArray<byte>(length);
        return _staging;
    }
}
