using Microsoft.ML.DiLoCo.Data;

namespace Microsoft.ML.DiLoCo.Tests.Data;

[TestClass]
public sealed class PackedWindowsTests
{
    [TestMethod]
    public void WindowsHaveContextPlusOneTokensAndStrideContext()
    {
        int[] tokens = Enumerable.Range(100, 11).ToArray(); // 100..110
        var windows = new PackedWindows(tokens, contextLength: 4);
        Assert.AreEqual(2, windows.Count); // (11 - 1) / 4, the tail 109..110 is dropped
        Assert.AreEqual(5, windows.WindowLength);
        CollectionAssert.AreEqual(new[] { 100, 101, 102, 103, 104 }, windows.GetWindow(0).ToArray());
        CollectionAssert.AreEqual(new[] { 104, 105, 106, 107, 108 }, windows.GetWindow(1).ToArray());

        var destination = new long[5];
        windows.CopyWindow(1, destination);
        CollectionAssert.AreEqual(new long[] { 104, 105, 106, 107, 108 }, destination);
    }

    [TestMethod]
    public void EveryTargetIsPredictedExactlyOnce()
    {
        int[] tokens = Enumerable.Range(0, 1 + 7 * 16).ToArray();
        var windows = new PackedWindows(tokens, contextLength: 16);
        Assert.AreEqual(7, windows.Count);
        var targets = new List<int>();
        for (int i = 0; i < windows.Count; i++)
        {
            targets.AddRange(windows.GetWindow(i)[1..].ToArray());
        }

        CollectionAssert.AreEqual(tokens[1..], targets);
    }

    [TestMethod]
    public void TooShortTextSaysHowManyTokensAreNeeded()
    {
        var error = Assert.ThrowsExactly<ArgumentException>(() => new PackedWindows([1, 2, 3], contextLength: 4));
        StringAssert.Contains(error.Message, "3 tokens");
        StringAssert.Contains(error.Message, "at least 5");
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new PackedWindows([1, 2, 3], contextLength: 0));
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new PackedWindows([1, 2, 3, 4, 5], 4).GetWindow(1));
    }
}
