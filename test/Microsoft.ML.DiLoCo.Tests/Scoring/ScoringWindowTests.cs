using Microsoft.ML.DiLoCo.Scoring;

namespace Microsoft.ML.DiLoCo.Tests.Scoring;

[TestClass]
public sealed class ScoringWindowTests
{
    [TestMethod]
    [DataRow(0, 8, 4)]
    [DataRow(1, 8, 4)]
    [DataRow(8, 8, 8)]
    [DataRow(9, 8, 8)]
    [DataRow(37, 8, 3)]
    [DataRow(37, 8, 1)]
    [DataRow(100, 16, 5)]
    public void WindowsScoreEveryTargetOnceWithEnoughContext(int targets, int context, int stride)
    {
        var counted = new int[targets];
        foreach (var w in ScoringWindow.Cover(text: 3, targets, context, stride))
        {
            Assert.AreEqual(3, w.Text);
            Assert.IsTrue(w.Length is >= 1 && w.Length <= context, $"window length {w.Length}");
            Assert.IsTrue(w.Begin + w.Length <= targets, "a window reaches past the text");
            for (int j = Math.Max(0, w.FirstCounted); j < w.Length; j++)
            {
                counted[w.Begin + j]++;
                // Position Begin + j predicts target Begin + j after seeing j + 1 inputs of this window.
                int seen = j + 1;
                Assert.IsTrue(seen >= Math.Min(w.Begin + j + 1, context - stride + 1),
                    $"target {w.Begin + j} scored with only {seen} positions of context");
            }
        }
        CollectionAssert.AreEqual(Enumerable.Repeat(1, targets).ToArray(), counted, "every target is scored exactly once");
    }

    [TestMethod]
    public void ForwardPassesStayWithinTheMeasuredBounds()
    {
        Assert.AreEqual(32, ScoringWindow.PerForwardPass(128, 256, gpu: false), "bytes on the CPU: 32 windows (8 MB of logits)");
        Assert.AreEqual(1, ScoringWindow.PerForwardPass(128, 50257, gpu: false), "GPT-2 on the CPU: one window (25 MB of logits)");
        Assert.AreEqual(1, ScoringWindow.PerForwardPass(4096, 200_000, gpu: false), "never fewer than one window");
        Assert.AreEqual(10, ScoringWindow.PerForwardPass(128, 50257, gpu: true), "GPT-2 on a GPU: 10 windows (256 MB of logits)");
        Assert.AreEqual(64, ScoringWindow.PerForwardPass(128, 256, gpu: true));
    }
}
