namespace Microsoft.ML.DiLoCo.Communication;

/// <summary>
/// The shared state of an in-process group: the rounds that are still waiting for members, keyed by round
/// number, so that a fast member may already be on round n + 1 while a slow one is still on round n.
/// </summary>
internal sealed class InProcessGroup
{
    private readonly object _gate = new();
    private readonly Dictionary<long, Round> _pendingRounds = new();
    private CollectiveAbortedException? _abortedBy;

    public InProcessGroup(int size) => Size = size;

    public int Size { get; }

    /// <summary>Deposits <paramref name="payload"/> (already a private copy) as member <paramref name="rank"/>'s part of round <paramref name="round"/>.</summary>
    public Task<ReadOnlyMemory<byte>[]> Deposit(int rank, long round, ReadOnlyMemory<byte> payload)
    {
        Round? completed = null;
        Task<ReadOnlyMemory<byte>[]> task;
        lock (_gate)
        {
            if (_abortedBy is not null)
            {
                return Task.FromException<ReadOnlyMemory<byte>[]>(_abortedBy);
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

            var waiter = new TaskCompletionSource<ReadOnlyMemory<byte>[]>(TaskCreationOptions.RunContinuationsAsynchronously);
            state.Waiters[rank] = waiter;
            state.Payloads[rank] = payload;
            task = waiter.Task;
            if (++state.Deposited == Size)
            {
                _pendingRounds.Remove(round);
                completed = state;
            }
        }

        if (completed is not null)
        {
            // Each member gets its own array, so one member rearranging its result cannot disturb another's;
            // the payload bytes themselves are private copies and read-only, so they are shared.
            foreach (TaskCompletionSource<ReadOnlyMemory<byte>[]>? waiter in completed.Waiters)
            {
                waiter!.TrySetResult((ReadOnlyMemory<byte>[])completed.Payloads.Clone());
            }
        }

        return task;
    }

    /// <summary>Fails every pending and future round with <paramref name="reason"/>; the first reason wins.</summary>
    public void Abort(Exception reason)
    {
        var waiters = new List<TaskCompletionSource<ReadOnlyMemory<byte>[]>>();
        CollectiveAbortedException error;
        lock (_gate)
        {
            _abortedBy ??= new CollectiveAbortedException(reason);
            error = _abortedBy;
            foreach (Round round in _pendingRounds.Values)
            {
                foreach (TaskCompletionSource<ReadOnlyMemory<byte>[]>? waiter in round.Waiters)
                {
                    if (waiter is not null)
                    {
                        waiters.Add(waiter);
                    }
                }
            }

            _pendingRounds.Clear();
        }

        foreach (TaskCompletionSource<ReadOnlyMemory<byte>[]> waiter in waiters)
        {
            waiter.TrySetException(error);
        }
    }

    private sealed class Round(int size)
    {
        public readonly ReadOnlyMemory<byte>[] Payloads = new ReadOnlyMemory<byte>[size];
        public readonly TaskCompletionSource<ReadOnlyMemory<byte>[]>?[] Waiters = new TaskCompletionSource<ReadOnlyMemory<byte>[]>?[size];
        public int Deposited;
    }
}
