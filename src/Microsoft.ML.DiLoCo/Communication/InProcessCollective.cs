namespace Microsoft.ML.DiLoCo.Communication;

/// <summary>
/// One member of a group of workers in the same process (typically one thread each) that exchange payloads
/// through memory. Create the whole group with <see cref="CreateGroup"/>.
/// </summary>
/// <remarks>
/// Each endpoint numbers its own calls: its n-th <see cref="AllGatherAsync"/> takes part in round n, which
/// completes once every member has made its n-th call. Rounds may overlap (one member may start round n + 1
/// before another has reached round n). A member that crashes must call <see cref="Abort"/> (or
/// <see cref="Dispose"/>) so that the others fail instead of waiting forever, or <see cref="Leave"/> so that they go on
/// without it. Ranks are never renumbered: after a member has left, a round's result holds one payload per member that
/// took part, still in rank order, and <see cref="Size"/> counts the members that remain.
/// </remarks>
public sealed class InProcessCollective : ICollective
{
    private readonly InProcessGroup _group;
    private long _nextRound;
    private int _disposed;

    private InProcessCollective(InProcessGroup group, int rank)
    {
        _group = group;
        Rank = rank;
    }

    /// <inheritdoc/>
    public int Rank { get; }

    /// <summary>The number of members that have not left (the group's size until one leaves).</summary>
    public int Size => _group.Members;

    /// <summary>Creates a group of <paramref name="size"/> members; element k is the endpoint of rank k.</summary>
    /// <param name="size">The number of members, at least 1.</param>
    public static ICollective[] CreateGroup(int size)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(size, 1);
        var group = new InProcessGroup(size);
        var members = new ICollective[size];
        for (int rank = 0; rank < size; rank++)
        {
            members[rank] = new InProcessCollective(group, rank);
        }

        return members;
    }

    /// <summary>
    /// Deposits a copy of <paramref name="payload"/> for this member's next round and completes when every
    /// member has deposited its part of that round, with the payloads in rank order (each member gets its own
    /// array; the bytes are shared and must not be modified).
    /// </summary>
    /// <remarks>
    /// The task fails with <see cref="CollectiveAbortedException"/> when the group is or gets aborted.
    /// A token that is already cancelled throws before anything is deposited (the call does not count as a
    /// round). Cancelling later only stops this member waiting: its payload stays deposited, so the other
    /// members' round still completes.
    /// </remarks>
    public Task<ReadOnlyMemory<byte>[]> AllGatherAsync(ReadOnlyMemory<byte> payload, CancellationToken cancellationToken = default)
    {
        Task<ReadOnlyMemory<byte>[]> gathered = PeerPayloads.BytesOf(Deposit(payload, cancellationToken));
        return cancellationToken.CanBeCanceled ? gathered.WaitAsync(cancellationToken) : gathered;
    }

    /// <summary>As <see cref="AllGatherAsync"/>, each payload with its sender's rank (ranks stay those of the members that took
    /// part, also after one has left), every payload checked to be as long as this member's own.</summary>
    /// <exception cref="PeerPayloadException">(In the task) a member sent a payload of another length, named.</exception>
    public async Task<PeerPayload[]> AllGatherSameLengthAsync(ReadOnlyMemory<byte> payload, CancellationToken cancellationToken = default)
    {
        // The bytes are already in this process: nothing is allocated from a length another member declared.
        Task<PeerPayload[]> gathered = Deposit(payload, cancellationToken);
        var payloads = await (cancellationToken.CanBeCanceled ? gathered.WaitAsync(cancellationToken) : gathered).ConfigureAwait(false);
        return PeerPayloads.WithLength(payloads, payload.Length);
    }

    private Task<PeerPayload[]> Deposit(ReadOnlyMemory<byte> payload, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        long round = Interlocked.Increment(ref _nextRound) - 1;
        return _group.Deposit(Rank, round, payload.ToArray());
    }

    /// <summary>
    /// Aborts the whole group: every pending and future call of every member fails with a
    /// <see cref="CollectiveAbortedException"/> whose inner exception is <paramref name="reason"/> (the first
    /// reason given wins).
    /// </summary>
    public void Abort(Exception reason)
    {
        ArgumentNullException.ThrowIfNull(reason);
        _group.Abort(reason);
    }

    /// <summary>
    /// Leaves the group without aborting it (a worker dropped after a failure): the rounds this member joined keep its payload,
    /// and every round it has not joined (pending or future) completes with the remaining members only. Call it once this
    /// member makes no more calls; later calls fail. Idempotent.
    /// </summary>
    public void Leave() => _group.Leave(Rank, Interlocked.Read(ref _nextRound));

    /// <summary>Leaves the group, which aborts it ("member k left"): the others cannot complete a round without this member.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _group.Abort(new InvalidOperationException($"Member {Rank} left the group."));
        }
    }
}
