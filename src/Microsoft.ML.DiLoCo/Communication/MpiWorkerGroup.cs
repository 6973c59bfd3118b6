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
internal sealed class MpiWorkerGroup
{
    private readonly MpiCollective _mpi;
    private readonly object _gate = new();
    private readonly Dictionary<long, Round> _pending = new();
    private readonly HashSet<TaskCompletionSource<PeerPayload[]>> _waiting = new();
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
        TaskCompletionSource<PeerPayload[]>[] waiting;
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

    /// <summary>Local worker <paramref name="local"/>'s payload of round <paramref name="round"/>; <paramref name="sameLength"/>: every
    /// payload of the round must be as long as this one (checked at the rank level before allocation, then per worker).</summary>
    private Task<PeerPayload[]> Deposit(int local, long round, byte[] payload, bool sameLength)
    {
        var result = new TaskCompletionSource<PeerPayload[]>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_gate)
        {
            if (_abortedBy is not null) return Task.FromException<PeerPayload[]>(_abortedBy);
            if (!_pending.TryGetValue(round, out var state)) _pending.Add(round, state = new Round(LocalWorkers));
            if (state.Waiters[local] is not null) throw new InvalidOperationException($"Local worker {local} deposited twice in round {round}.");
            state.Waiters[local] = result;
            state.Payloads[local] = payload;
            state.SameLength &= sameLength;
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
            // Same-length rounds: every rank's message must be as long as this rank's, refused before allocation otherwise.
            byte[] packed = Pack(state.Payloads);
            var gathered = state.SameLength
                ? await _mpi.AllGatherSameLengthAsync(packed).ConfigureAwait(false)
                : (await _mpi.AllGatherAsync(packed).ConfigureAwait(false)).Select((bytes, r) => new PeerPayload(r, bytes)).ToArray();
            var everyone = new PeerPayload[Size];
            for (int r = 0; r < gathered.Length; r++) Unpack(gathered[r].Bytes, everyone.AsSpan(r * LocalWorkers, LocalWorkers), r);
            Finish(state, (w, l) => w.TrySetResult(state.SameLength
                ? PeerPayloads.WithLength((PeerPayload[])everyone.Clone(), state.Payloads[l].Length)
                : (PeerPayload[])everyone.Clone()));
        }
        catch (Exception e)
        {
            Finish(state, (w, _) => w.TrySetException(e));
        }
    }

    private void Finish(Round state, Action<TaskCompletionSource<PeerPayload[]>, int> complete)
    {
        lock (_gate) foreach (var w in state.Waiters) _waiting.Remove(w!);
        for (int l = 0; l < state.Waiters.Length; l++)
        {
            try { complete(state.Waiters[l]!, l); }
            catch (Exception e) { state.Waiters[l]!.TrySetException(e); } // this worker's own length check refused the round
        }
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

    /// <summary>Splits rank <paramref name="rank"/>'s message into its workers' payloads (slices: its declared lengths allocate nothing).</summary>
    private static void Unpack(ReadOnlyMemory<byte> packed, Span<PeerPayload> into, int rank)
    {
        string sender = $"MPI rank {rank}";
        int header = into.Length * sizeof(long);
        if (packed.Length < header) throw new PeerPayloadException(rank, sender, $"it sent {packed.Length} bytes, less than the {header}-byte header of {into.Length} local payloads: the ranks run different numbers of workers.");
        long offset = header;
        for (int l = 0; l < into.Length; l++)
        {
            long length = BinaryPrimitives.ReadInt64LittleEndian(packed.Span.Slice(l * sizeof(long)));
            if (length < 0 || length > packed.Length - offset) throw new PeerPayloadException(rank, sender, $"its message is malformed: payload {l} claims {length} bytes at offset {offset} of {packed.Length}.");
            into[l] = new PeerPayload(rank * into.Length + l, packed.Slice((int)offset, (int)length));
            offset += length;
        }
        if (offset != packed.Length) throw new PeerPayloadException(rank, sender, $"its message has {packed.Length - offset} bytes after its {into.Length} payloads: the ranks run different numbers of workers.");
    }

    private sealed class Round(int localWorkers)
    {
        public readonly byte[][] Payloads = new byte[localWorkers][];
        public readonly TaskCompletionSource<PeerPayload[]>?[] Waiters = new TaskCompletionSource<PeerPayload[]>?[localWorkers];
        public int Deposited;
        public bool SameLength = true; // every local worker asked for an equal-length all-gather
    }

    /// <summary>One local worker's endpoint. Each numbers its own calls: its n-th all-gather is round n.</summary>
    private sealed class Member(MpiWorkerGroup group, int local) : ICollective
    {
        private long _nextRound;

        public int Rank => group._mpi.Rank * group.LocalWorkers + local;

        public int Size => group.Size;

        public Task<ReadOnlyMemory<byte>[]> AllGatherAsync(ReadOnlyMemory<byte> payload, CancellationToken cancellationToken = default)
        {
            var gathered = PeerPayloads.BytesOf(Deposit(payload, sameLength: false, cancellationToken));
            return cancellationToken.CanBeCanceled ? gathered.WaitAsync(cancellationToken) : gathered;
        }

        public Task<PeerPayload[]> AllGatherSameLengthAsync(ReadOnlyMemory<byte> payload, CancellationToken cancellationToken = default)
        {
            var gathered = Deposit(payload, sameLength: true, cancellationToken);
            return cancellationToken.CanBeCanceled ? gathered.WaitAsync(cancellationToken) : gathered;
        }

        private Task<PeerPayload[]> Deposit(ReadOnlyMemory<byte> payload, bool sameLength, CancellationToken cancellationToken)
        {
            cancellationToken.ThrowIfCancellationRequested();
            long round = Interlocked.Increment(ref _nextRound) - 1;
            return group.Deposit(local, round, payload.ToArray(), sameLength);
        }

        /// <summary>Leaves the group without touching MPI: the rank's <see cref="MpiCollective"/> is disposed by its owner.</summary>
        public void Dispose() => group.Abort(new InvalidOperationException($"Local worker {local} left the group."));
    }
}
