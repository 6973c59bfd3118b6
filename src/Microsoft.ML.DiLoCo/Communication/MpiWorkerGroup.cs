using System.Buffers.Binary;

namespace Microsoft.ML.DiLoCo.Communication;

/// <summary>
/// Several workers per MPI rank: L local endpoints on top of one rank's <see cref="MpiCollective"/>, forming one group
/// of M = ranks × L members. Local worker l of rank r is member r·L + l, so results come back in the same global order
/// as an in-process group of M, and rank-ordered averaging gives the same bits.
/// </summary>
/// <remarks>
/// An all-gather is hierarchical: the L local payloads of round n are collected in memory; the last local member to
/// arrive issues one MPI all-gather for the rank carrying them concatenated with their lengths
/// (<c>[L × int64 length][bytes…]</c>); each rank's message is split back into its L payloads. Rounds are issued to
/// MPI under one lock in round order, which every rank shares, so the ranks' MPI calls match. The MPI exchange runs on
/// the collective's communication thread: every member's call returns at once, as with <see cref="MpiCollective"/>.
/// </remarks>
public sealed class MpiWorkerGroup
{
    private readonly MpiCollective _mpi;
    private readonly object _gate = new();
    private readonly Dictionary<long, Round> _pending = new();
    private readonly HashSet<TaskCompletionSource<ReadOnlyMemory<byte>[]>> _waiting = new();
    private CollectiveAbortedException? _abortedBy;

    /// <summary>Makes this rank's L endpoints on top of <paramref name="mpi"/>.</summary>
    /// <param name="mpi">This rank's collective (not owned: dispose it after the members); every rank must use the same <paramref name="localWorkers"/>.</param>
    /// <param name="localWorkers">L, at least 1.</param>
    public MpiWorkerGroup(MpiCollective mpi, int localWorkers)
    {
        ArgumentNullException.ThrowIfNull(mpi);
        ArgumentOutOfRangeException.ThrowIfLessThan(localWorkers, 1);
        _mpi = mpi;
        LocalWorkers = localWorkers;
        Members = Enumerable.Range(0, localWorkers).Select(l => (ICollective)new Member(this, l)).ToArray();
    }

    /// <summary>Workers per rank (L).</summary>
    public int LocalWorkers { get; }

    /// <summary>Members of the whole group: ranks × L.</summary>
    public int Size => _mpi.Size * LocalWorkers;

    /// <summary>This rank's L endpoints, by local index; endpoint l has <see cref="ICollective.Rank"/> = rank·L + l.</summary>
    public ICollective[] Members { get; }

    /// <summary>Fails every pending and future call of this rank's members with a <see cref="CollectiveAbortedException"/>
    /// (a local worker failed: the others must not wait for it; the rank is going down).</summary>
    public void Abort(Exception reason)
    {
        ArgumentNullException.ThrowIfNull(reason);
        TaskCompletionSource<ReadOnlyMemory<byte>[]>[] waiting;
        CollectiveAbortedException error;
        lock (_gate)
        {
            _abortedBy ??= new CollectiveAbortedException(reason);
            error = _abortedBy;
            waiting = _waiting.ToArray();
            _waiting.Clear();
            _pending.Clear();
        }
        foreach (var w in waiting) w.TrySetException(error);
    }

    private Task<ReadOnlyMemory<byte>[]> Deposit(int local, long round, byte[] payload)
    {
        var result = new TaskCompletionSource<ReadOnlyMemory<byte>[]>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_gate)
        {
            if (_abortedBy is not null) return Task.FromException<ReadOnlyMemory<byte>[]>(_abortedBy);
            if (!_pending.TryGetValue(round, out var state)) _pending.Add(round, state = new Round(LocalWorkers));
            if (state.Waiters[local] is not null) throw new InvalidOperationException($"Local worker {local} deposited twice in round {round}.");
            state.Waiters[local] = result;
            state.Payloads[local] = payload;
            _waiting.Add(result);
            if (++state.Deposited == LocalWorkers)
            {
                // Issued under the lock: round n is always queued before round n + 1, on every rank.
                _pending.Remove(round);
                _ = Exchange(state);
            }
        }
        return result.Task;
    }

    private async Task Exchange(Round state)
    {
        try
        {
            var gathered = await _mpi.AllGatherAsync(Pack(state.Payloads)).ConfigureAwait(false);
            var everyone = new ReadOnlyMemory<byte>[Size];
            for (int r = 0; r < gathered.Length; r++) Unpack(gathered[r], everyone.AsSpan(r * LocalWorkers, LocalWorkers), r);
            Finish(state, w => w.TrySetResult((ReadOnlyMemory<byte>[])everyone.Clone()));
        }
        catch (Exception e)
        {
            Finish(state, w => w.TrySetException(e));
        }
    }

    private void Finish(Round state, Action<TaskCompletionSource<ReadOnlyMemory<byte>[]>> complete)
    {
        lock (_gate) foreach (var w in state.Waiters) _waiting.Remove(w!);
        foreach (var w in state.Waiters) complete(w!);
    }

    private static byte[] Pack(byte[][] payloads)
    {
        int header = payloads.Length * sizeof(long);
        var packed = GC.AllocateUninitializedArray<byte>(checked(header + payloads.Sum(p => p.Length)));
        int offset = header;
        for (int l = 0; l < payloads.Length; l++)
        {
            BinaryPrimitives.WriteInt64LittleEndian(packed.AsSpan(l * sizeof(long)), payloads[l].Length);
            payloads[l].CopyTo(packed.AsSpan(offset));
            offset += payloads[l].Length;
        }
        return packed;
    }

    private static void Unpack(ReadOnlyMemory<byte> packed, Span<ReadOnlyMemory<byte>> into, int rank)
    {
        int header = into.Length * sizeof(long);
        if (packed.Length < header) throw new InvalidDataException($"Rank {rank} sent {packed.Length} bytes, less than the {header}-byte header of {into.Length} local payloads: the ranks run different numbers of workers.");
        long offset = header;
        for (int l = 0; l < into.Length; l++)
        {
            long length = BinaryPrimitives.ReadInt64LittleEndian(packed.Span.Slice(l * sizeof(long)));
            if (length < 0 || offset + length > packed.Length) throw new InvalidDataException($"Rank {rank}'s message is malformed: payload {l} claims {length} bytes at offset {offset} of {packed.Length}.");
            into[l] = packed.Slice((int)offset, (int)length);
            offset += length;
        }
        if (offset != packed.Length) throw new InvalidDataException($"Rank {rank}'s message has {packed.Length - offset} bytes after its {into.Length} payloads: the ranks run different numbers of workers.");
    }

    private sealed class Round(int localWorkers)
    {
        public readonly byte[][] Payloads = new byte[localWorkers][];
        public readonly TaskCompletionSource<ReadOnlyMemory<byte>[]>?[] Waiters = new TaskCompletionSource<ReadOnlyMemory<byte>[]>?[localWorkers];
        public int Deposited;
    }

    /// <summary>One local worker's endpoint. Each numbers its own calls: its n-th all-gather is round n.</summary>
    private sealed class Member(MpiWorkerGroup group, int local) : ICollective
    {
        private long _nextRound;

        public int Rank => group._mpi.Rank * group.LocalWorkers + local;

        public int Size => group.Size;

        public Task<ReadOnlyMemory<byte>[]> AllGatherAsync(ReadOnlyMemory<byte> payload, CancellationToken cancellationToken = default)
        {
            cancellationToken.ThrowIfCancellationRequested();
            long round = Interlocked.Increment(ref _nextRound) - 1;
            var gathered = group.Deposit(local, round, payload.ToArray());
            return cancellationToken.CanBeCanceled ? gathered.WaitAsync(cancellationToken) : gathered;
        }

        /// <summary>Leaves the group without touching MPI: the rank's <see cref="MpiCollective"/> is disposed by its owner.</summary>
        public void Dispose() => group.Abort(new InvalidOperationException($"Local worker {local} left the group."));
    }
}
