using Microsoft.ML.DiLoCo.Communication;

namespace Microsoft.ML.DiLoCo.Tests.Communication;

[TestClass]
public sealed class InProcessCollectiveTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    private static byte[] Payload(int rank, int round) =>
        Enumerable.Range(0, 1 + 7 * rank + 13 * round).Select(i => (byte)(rank * 31 + round * 7 + i)).ToArray();

    [TestMethod]
    public async Task MembersOnThreadsGetIdenticalRankOrderedResults()
    {
        const int Size = 3, Rounds = 6;
        ICollective[] group = InProcessCollective.CreateGroup(Size);
        var results = new byte[Size][][][];
        var threads = new Thread[Size];
        for (int rank = 0; rank < Size; rank++)
        {
            int member = rank;
            results[member] = new byte[Rounds][][];
            threads[member] = new Thread(() =>
            {
                for (int round = 0; round < Rounds; round++)
                {
                    ReadOnlyMemory<byte>[] gathered = group[member].AllGatherAsync(Payload(member, round)).GetAwaiter().GetResult();
                    results[member][round] = gathered.Select(p => p.ToArray()).ToArray();
                }
            });
            threads[member].Start();
        }

        await Task.Run(() =>
        {
            foreach (Thread thread in threads)
            {
                thread.Join();
            }
        }).WaitAsync(Patience);

        for (int member = 0; member < Size; member++)
        {
            Assert.AreEqual(member, group[member].Rank);
            Assert.AreEqual(Size, group[member].Size);
            for (int round = 0; round < Rounds; round++)
            {
                Assert.AreEqual(Size, results[member][round].Length);
                for (int rank = 0; rank < Size; rank++)
                {
                    CollectionAssert.AreEqual(Payload(rank, round), results[member][round][rank], $"member {member}, round {round}, rank {rank}");
                }
            }
        }
    }

    [TestMethod]
    public async Task PayloadsAreCopiedWhenDeposited()
    {
        ICollective[] group = InProcessCollective.CreateGroup(2);
        byte[] mine = [1, 2, 3];
        Task<ReadOnlyMemory<byte>[]> first = group[0].AllGatherAsync(mine);
        mine[0] = 99;
        ReadOnlyMemory<byte>[] second = await group[1].AllGatherAsync(new byte[] { 4 }).WaitAsync(Patience);
        CollectionAssert.AreEqual(new byte[] { 1, 2, 3 }, second[0].ToArray());
        CollectionAssert.AreEqual(new byte[] { 1, 2, 3 }, (await first.WaitAsync(Patience))[0].ToArray());
    }

    [TestMethod]
    public async Task RoundsMayOverlap()
    {
        ICollective[] group = InProcessCollective.CreateGroup(2);
        Task<ReadOnlyMemory<byte>[]>[] ahead = [.. Enumerable.Range(0, 3).Select(round => group[0].AllGatherAsync(Payload(0, round)))];
        Assert.IsFalse(ahead.Any(t => t.IsCompleted), "no round can complete before member 1 joins it");

        Task<ReadOnlyMemory<byte>[]> behind0 = group[1].AllGatherAsync(Payload(1, 0));
        Task<ReadOnlyMemory<byte>[]> behind1 = group[1].AllGatherAsync(Payload(1, 1));
        await Task.WhenAll(ahead[0], ahead[1], behind0, behind1).WaitAsync(Patience);
        Assert.IsFalse(ahead[2].IsCompleted, "round 2 still waits for member 1");

        Task<ReadOnlyMemory<byte>[]> behind2 = group[1].AllGatherAsync(Payload(1, 2));
        await Task.WhenAll(ahead[2], behind2).WaitAsync(Patience);
        Task<ReadOnlyMemory<byte>[]>[] behind = [behind0, behind1, behind2];
        for (int round = 0; round < 3; round++)
        {
            foreach (Task<ReadOnlyMemory<byte>[]> result in new[] { ahead[round], behind[round] })
            {
                CollectionAssert.AreEqual(Payload(0, round), result.Result[0].ToArray(), $"round {round}");
                CollectionAssert.AreEqual(Payload(1, round), result.Result[1].ToArray(), $"round {round}");
            }
        }

        Assert.AreNotSame(ahead[0].Result, behind0.Result, "each member gets its own result array");
    }

    [TestMethod]
    public async Task AbortFailsPendingAndFutureCallsWithTheReason()
    {
        ICollective[] group = InProcessCollective.CreateGroup(3);
        Task<ReadOnlyMemory<byte>[]> pending0 = group[0].AllGatherAsync(new byte[] { 1 });
        Task<ReadOnlyMemory<byte>[]> pending1 = group[1].AllGatherAsync(new byte[] { 2 });
        var reason = new InvalidOperationException("worker 2 crashed");
        ((InProcessCollective)group[2]).Abort(reason);

        foreach (Task<ReadOnlyMemory<byte>[]> pending in new[] { pending0, pending1 })
        {
            var error = await Assert.ThrowsExactlyAsync<CollectiveAbortedException>(() => pending.WaitAsync(Patience));
            Assert.AreSame(reason, error.InnerException);
        }

        var later = await Assert.ThrowsExactlyAsync<CollectiveAbortedException>(() => group[0].AllGatherAsync(new byte[] { 3 }).WaitAsync(Patience));
        Assert.AreSame(reason, later.InnerException);
    }

    [TestMethod]
    public async Task DisposingAMemberAbortsTheGroup()
    {
        ICollective[] group = InProcessCollective.CreateGroup(2);
        Task<ReadOnlyMemory<byte>[]> pending = group[0].AllGatherAsync(new byte[] { 1 });
        group[1].Dispose();
        var error = await Assert.ThrowsExactlyAsync<CollectiveAbortedException>(() => pending.WaitAsync(Patience));
        Assert.IsTrue(error.Message.Contains("Member 1 left"), error.Message);
    }

    [TestMethod]
    public async Task CancellingStopsOnlyThisMembersWait()
    {
        ICollective[] group = InProcessCollective.CreateGroup(2);
        using var cancellation = new CancellationTokenSource();
        Task<ReadOnlyMemory<byte>[]> cancelled = group[0].AllGatherAsync(new byte[] { 1 }, cancellation.Token);
        cancellation.Cancel();
        await Assert.ThrowsAsync<OperationCanceledException>(() => cancelled.WaitAsync(Patience));

        // Member 0's payload stays deposited, so member 1's round still completes.
        ReadOnlyMemory<byte>[] gathered = await group[1].AllGatherAsync(new byte[] { 2 }).WaitAsync(Patience);
        CollectionAssert.AreEqual(new byte[] { 1 }, gathered[0].ToArray());
    }

    [TestMethod]
    public async Task AnAlreadyCancelledTokenThrowsWithoutTakingPartInARound()
    {
        ICollective[] group = InProcessCollective.CreateGroup(2);
        Assert.ThrowsExactly<OperationCanceledException>(() => group[0].AllGatherAsync(new byte[] { 9 }, new CancellationToken(canceled: true)));

        Task<ReadOnlyMemory<byte>[]> first = group[0].AllGatherAsync(new byte[] { 1 });
        ReadOnlyMemory<byte>[] gathered = await group[1].AllGatherAsync(new byte[] { 2 }).WaitAsync(Patience);
        CollectionAssert.AreEqual(new byte[] { 1 }, gathered[0].ToArray());
        await first.WaitAsync(Patience);
    }

    [TestMethod]
    public async Task SameLengthGatherNamesEachSenderAlsoAfterAMemberLeft()
    {
        ICollective[] group = InProcessCollective.CreateGroup(3);
        ((InProcessCollective)group[1]).Leave();
        Task<PeerPayload[]> first = group[0].AllGatherSameLengthAsync(new byte[] { 1, 1 });
        PeerPayload[] gathered = await group[2].AllGatherSameLengthAsync(new byte[] { 3, 3 }).WaitAsync(Patience);
        CollectionAssert.AreEqual(new[] { 0, 2 }, gathered.Select(p => p.Sender).ToArray(), "ranks are not renumbered");
        CollectionAssert.AreEqual(new byte[] { 3, 3 }, gathered[1].Bytes.ToArray());
        await first.WaitAsync(Patience);
    }

    [TestMethod]
    public async Task SameLengthGatherRefusesAPayloadOfAnotherLengthNamingItsSender()
    {
        ICollective[] group = InProcessCollective.CreateGroup(3);
        Task<PeerPayload[]>[] calls = { group[0].AllGatherSameLengthAsync(new byte[4]), group[1].AllGatherSameLengthAsync(new byte[4]), group[2].AllGatherSameLengthAsync(new byte[5]) };
        var error = await Assert.ThrowsExactlyAsync<PeerPayloadException>(() => calls[0].WaitAsync(Patience));
        Assert.AreEqual(2, error.Sender);
        StringAssert.StartsWith(error.Message, "Worker 2 sent a payload that was refused: it declared 5 bytes where every payload of this exchange has 4");
    }

    [TestMethod]
    public async Task AGroupOfOneGathersItsOwnPayload()
    {
        ICollective[] group = InProcessCollective.CreateGroup(1);
        ReadOnlyMemory<byte>[] gathered = await group[0].AllGatherAsync(new byte[] { 5, 6 }).WaitAsync(Patience);
        Assert.AreEqual(1, gathered.Length);
        CollectionAssert.AreEqual(new byte[] { 5, 6 }, gathered[0].ToArray());
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => InProcessCollective.CreateGroup(0));
    }
}
