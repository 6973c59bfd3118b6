using Microsoft.ML.DiLoCo.Communication;

namespace Microsoft.ML.DiLoCo.Tests.Communication;

[TestClass]
public sealed class MeteredCollectiveTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    [TestMethod]
    public async Task CountsFollowTheAllGatherFormulas()
    {
        int[][] lengths = [[10, 20, 30], [5, 50, 7]]; // [round][rank]
        MeteredCollective[] meters = [.. InProcessCollective.CreateGroup(3).Select(member => new MeteredCollective(member))];
        foreach (int[] round in lengths)
        {
            await Task.WhenAll(meters.Select(m => m.AllGatherAsync(new byte[round[m.Rank]]))).WaitAsync(Patience);
        }

        for (int rank = 0; rank < 3; rank++)
        {
            MeteredCollective meter = meters[rank];
            long sent = lengths.Sum(round => (long)round[rank] * 2);
            long received = lengths.Sum(round => (long)round.Sum() - round[rank]);
            Assert.AreEqual(sent, meter.BytesSent, $"rank {rank}");
            Assert.AreEqual(received, meter.BytesReceived, $"rank {rank}");
            Assert.AreEqual(lengths.Max(round => round[rank]), meter.LargestMessageBytes, $"rank {rank}");
            Assert.AreEqual(2, meter.Calls, $"rank {rank}");
        }

        // Spelled out for rank 1: sent (20 + 50)·2, received (10 + 30) + (5 + 7).
        Assert.AreEqual(140, meters[1].BytesSent);
        Assert.AreEqual(52, meters[1].BytesReceived);
        Assert.AreEqual(50, meters[1].LargestMessageBytes);
    }

    [TestMethod]
    public async Task AGroupOfOneSendsAndReceivesNothing()
    {
        var meter = new MeteredCollective(InProcessCollective.CreateGroup(1)[0]);
        await meter.AllGatherAsync(new byte[100]).WaitAsync(Patience);
        Assert.AreEqual(0, meter.BytesSent);
        Assert.AreEqual(0, meter.BytesReceived);
        Assert.AreEqual(0, meter.LargestMessageBytes);
        Assert.AreEqual(1, meter.Calls);
    }

    [TestMethod]
    public async Task DisposingTheMeterDisposesTheWrappedMember()
    {
        ICollective[] group = InProcessCollective.CreateGroup(2);
        Task<ReadOnlyMemory<byte>[]> pending = group[0].AllGatherAsync(new byte[1]);
        new MeteredCollective(group[1]).Dispose();
        await Assert.ThrowsExactlyAsync<CollectiveAbortedException>(() => pending.WaitAsync(Patience));
    }
}
