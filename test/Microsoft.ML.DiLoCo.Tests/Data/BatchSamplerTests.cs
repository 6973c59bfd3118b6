using Microsoft.ML.DiLoCo.Data;

namespace Microsoft.ML.DiLoCo.Tests.Data;

[TestClass]
public sealed class BatchSamplerTests
{
    // Window i of these windows starts with token 10·i, so a batch row tells which window it is.
    private static PackedWindows Windows(int count) =>
        new(Enumerable.Range(0, count * 10 + 1).ToArray(), contextLength: 10);

    private static int[] WindowsOf(long[] batch) =>
        Enumerable.Range(0, batch.Length / 11).Select(row => (int)(batch[row * 11] / 10)).ToArray();

    private static int[] Draw(BatchSampler sampler, int batches)
    {
        var batch = new long[sampler.BatchTokenCount];
        var drawn = new List<int>();
        for (int i = 0; i < batches; i++)
        {
            sampler.NextBatch(batch);
            drawn.AddRange(WindowsOf(batch));
        }

        return drawn.ToArray();
    }

    [TestMethod]
    public void BatchRowsAreWholeWindowsOfTheShard()
    {
        PackedWindows windows = Windows(20);
        int[] shard = [3, 5, 7, 11];
        var sampler = new BatchSampler(windows, shard, batchSize: 2, seed: 1);
        var batch = new long[2 * 11];
        sampler.NextBatch(batch);
        for (int row = 0; row < 2; row++)
        {
            int window = (int)(batch[row * 11] / 10);
            CollectionAssert.Contains(shard, window);
            CollectionAssert.AreEqual(windows.GetWindow(window).ToArray().Select(t => (long)t).ToArray(), batch[(row * 11)..((row + 1) * 11)]);
        }
    }

    [TestMethod]
    public void SameSeedSameBatchesOtherSeedOtherOrder()
    {
        PackedWindows windows = Windows(50);
        int[] shard = Enumerable.Range(0, 50).ToArray();
        int[] a = Draw(new BatchSampler(windows, shard, 4, seed: 5), 10);
        int[] b = Draw(new BatchSampler(windows, shard, 4, seed: 5), 10);
        int[] c = Draw(new BatchSampler(windows, shard, 4, seed: 6), 10);
        CollectionAssert.AreEqual(a, b);
        CollectionAssert.AreNotEqual(a, c);
    }

    [TestMethod]
    public void EachEpochVisitsEveryWindowOnceAndReshuffles()
    {
        PackedWindows windows = Windows(12);
        int[] shard = [0, 2, 4, 6, 8, 10];
        var sampler = new BatchSampler(windows, shard, batchSize: 3, seed: 9);
        int[] drawn = Draw(sampler, 4); // two epochs
        Assert.AreEqual(2, sampler.Epoch);
        Assert.AreEqual(12L, sampler.WindowsServed);
        CollectionAssert.AreEquivalent(shard, drawn[..6]);
        CollectionAssert.AreEquivalent(shard, drawn[6..]);
        CollectionAssert.AreNotEqual(drawn[..6], drawn[6..]);
    }

    [TestMethod]
    public void ShardSmallerThanBatchWraps()
    {
        PackedWindows windows = Windows(5);
        int[] shard = [1, 4];
        var sampler = new BatchSampler(windows, shard, batchSize: 5, seed: 0);
        int[] drawn = Draw(sampler, 1);
        Assert.AreEqual(2, sampler.Epoch);
        Assert.AreEqual(5L, sampler.WindowsServed);
        CollectionAssert.AreEquivalent(shard, drawn[..2]);
        CollectionAssert.AreEquivalent(shard, drawn[2..4]);
        CollectionAssert.Contains(shard, drawn[4]);
    }

    [TestMethod]
    public void WrongDestinationOrShardIsRejected()
    {
        PackedWindows windows = Windows(5);
        var sampler = new BatchSampler(windows, [0, 1], batchSize: 2, seed: 0);
        Assert.ThrowsExactly<ArgumentException>(() => sampler.NextBatch(new long[21]));
        Assert.ThrowsExactly<ArgumentException>(() => new BatchSampler(windows, [], 2, 0));
        Assert.ThrowsExactly<ArgumentException>(() => new BatchSampler(windows, [5], 2, 0));
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new BatchSampler(windows, [0], 0, 0));
    }
}
