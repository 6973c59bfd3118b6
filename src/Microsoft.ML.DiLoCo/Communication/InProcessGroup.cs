namespace Microsoft.ML.DiLoCo.Communication;

/// <summary>
/// The shared state of an in-process group: the rounds that are still waiting for members, keyed by round
/// number, so that a fast member may already be on round n + 1 while a slow one is still on round n.
/// </summary>
/// <remarks>
/// Membership can shrink (<see cref="Leave"/>): a member that leaves after joining rounds 0 … c − 1 is still awaited in
/// those rounds (its payloads are in them) and no longer in rounds c and later. Which payloads a round holds therefore
/// depends only on how many calls each member made before leaving, never on timing: every member of a round gets the
/// same payloads.
/// </remarks>
internal sealed class InProcessGroup
{
    private readonly object _gate = new();
    private readonly Dictionary<long, Round> _pendingRounds = new();
    private readonly long[] _roundsJoinedBeforeLeaving; // −1: still a member
    private int _members;
    private CollectiveAbortedException? _abortedBy;

    public InProcessGroup(int size)
    {
        Size = size;
        _members = size;
        _roundsJoinedBeforeLeaving = Enumerable.Repeat(-1L, size).ToArray();
    }

    /// <summary>The number of ranks the group was created with.</summary>
    public int Size { get; }

    /// <summary>The members that have not left.</summary>
    public int Members => Volatile.Read(ref _members);

    /// <summary>Deposits <paramref name="payload"/> (already a private copy) as member <paramref name="rank"/>'s part of round <paramref name="round"/>.</summary>
    public Task<PeerPayload[]> Deposit(int rank, long round, ReadOnlyMemory<byte> payload)
    {
        Round? completed = null;
        Task<PeerPayload[]> task;
        lock (_gate)
        {
            if (_abortedBy is not null)
            {
                return Task.FromException<PeerPayload[]>(_abortedBy);
            }

            if (_roundsJoinedBeforeLeaving[rank] >= 0)
            {
                throw new InvalidOperationException($"Member {rank} left the group and cannot take part in round {round}.");
            }

            if (!_pendingRounds.TryGetValue(round, out Round? state))
            {
                state = new Round(Size);
                _pendingRounds.Add(round, state);
            }

            if (state.Waiters[rank] is not null)
            {
                throw new InvalidOperationException($"Member {rank} deposited twice in round {round}.");
            }

            var waiter = new TaskCompletionSource<PeerPayload[]>(TaskCreationOptions.RunContinuationsAsynchronously);
            state.Waiters[rank] = waiter;
            state.Payloads[rank] = payload;
            task = waiter.Task;
            if (++state.Deposited == Expected(round))
            {
                _pendingRounds.Remove(round);
                completed = state;
            }
        }

        completed?.Complete();
        return task;
    }

    /// <summary>
    /// Member <paramref name="rank"/> leaves after joining rounds 0 … <paramref name="roundsJoined"/> − 1: the rounds it has
    /// not joined complete with the remaining members (those already waiting only for it complete now). Nothing is aborted.
    /// </summary>
    public void Leave(int rank, long roundsJoined)
    {
        var completed = new List<Round>();
        lock (_gate)
        {
            if (_roundsJoinedBeforeLeaving[rank] >= 0) return;
            _roundsJoinedBeforeLeaving[rank] = roundsJoined;
            _members--;
            foreach (var (number, state) in _pendingRounds.ToArray())
            {
                if (state.Deposited == Expected(number))
                {
                    _pendingRounds.Remove(number);
                    completed.Add(state);
                }
            }
        }

        foreach (Round round in completed) round.Complete();
    }

    /// <summary>Fails every pending and future round with <paramref name="reason"/>; the first reason wins.</summary>
    public void Abort(Exception reason)
    {
        var waiters = new List<TaskCompletionSource<PeerPayload[]>>();
        CollectiveAbortedException error;
        lock (_gate)
        {
            _abortedBy ??= new CollectiveAbortedException(reason);
            error = _abortedBy;
            foreach (Round round in _pendingRounds.Values)
            {
                foreach (TaskCompletionSource<PeerPayload[]>? waiter in round.Waiters)
                {
                    if (waiter is not null)
                    {
                        waiters.Add(waiter);
                    }
                }
            }

            _pendingRounds.Clear();
        }

        foreach (TaskCompletionSource<PeerPayload[]> waiter in waiters)
        {
            waiter.TrySetException(error);
        }
    }

    /// <summary>How many deposits round <paramref name="round"/> needs: the members, and those that left after joining it.</summary>
    private int Expected(long round)
    {
        int expected = 0;
        foreach (long joined in _roundsJoinedBeforeLeaving)
        {
            if (joined < 0 || joined > round) expected++;
        }

        return expected;
    }

    private sealed class Round(int size)
    {
        public readonly ReadOnlyMemory<byte>[] Payloads = new ReadOnlyMemory<byte>[size];
        public readonly TaskCompletionSource<PeerPayload[]>?[] Waiters = new TaskCompletionSource<PeerPayload[]>?[size];
        public int Deposited;

        /// <summary>Hands every depositor the payloads of the round in rank order, each with its sender (only the members that took part).</summary>
        public void Complete()
        {
            var present = new List<PeerPayload>(Deposited);
            for (int rank = 0; rank < Waiters.Length; rank++)
            {
                if (Waiters[rank] is not null) present.Add(new PeerPayload(rank, Payloads[rank]));
            }

            // Each member gets its own array, so one member rearranging its result cannot disturb another's;
            // the payload bytes themselves are private copies and read-only, so they are shared.
            foreach (TaskCompletionSource<PeerPayload[]>? waiter in Waiters)
            {
                waiter?.TrySetResult(present.ToArray());
            }
        }
    }
}
