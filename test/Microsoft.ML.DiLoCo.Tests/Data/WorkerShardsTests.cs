using Microsoft.ML.DiLoCo.Data;

namespace Microsoft.ML.DiLoCo.Tests.Data;

[TestClass]
public sealed class WorkerShardsTests
{
    [TestMethod]
    [DataRow(10, 3)]
    [DataRow(12, 4)]
    [DataRow(5, 5)]
    [DataRow(7, 1)]
    public void ShardsAreDisjointCoveringAndBalanced(int windowCount, int workers)
    {
        int[][] shards = WorkerShards.Deal(windowCount, workers, seed: 3);
        Assert.HasCount(workers, shards);
        int[] all = shards.SelectMany(s => s).OrderBy(i => i).ToArray();
        CollectionAssert.AreEqual(Enumerable.Range(0, windowCount).ToArray(), all);
        Assert.IsLessThanOrEqualTo(1, shards.Max(s => s.Length) - shards.Min(s => s.Length));
    }

    [TestMethod]
    public void DealIsDeterministicPerSeedAndShuffled()
    {
        int[][] a = WorkerShards.Deal(100, 2, seed: 7);
        int[][] b = WorkerShards.Deal(100, 2, seed: 7);
        int[][] c = WorkerShards.Deal(100, 2, seed: 8);
        CollectionAssert.AreEqual(a[0], b[0]);
        CollectionAssert.AreEqual(a[1], b[1]);
        CollectionAssert.AreNotEqual(a[0], c[0]);
        CollectionAssert.AreNotEqual(Enumerable.Range(0, 50).Select(i => 2 * i).ToArray(), a[0]);
    }

    [TestMethod]
    public void FewerWindowsThanWorkersIsRejected()
    {
        var error = Assert.ThrowsExactly<ArgumentException>(() => WorkerShards.Deal(2, 3, seed: 0));
        StringAssert.Contains(error.Message, "2 training windows for 3 workers");
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => WorkerShards.Deal(2, 0, seed: 0));
    }
}
