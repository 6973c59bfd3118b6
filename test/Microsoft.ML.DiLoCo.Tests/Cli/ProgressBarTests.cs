using DiLoCo.Cli;

namespace Microsoft.ML.DiLoCo.Tests.Cli;

/// <summary>The progress display: in place on a terminal, plain lines every 5 % otherwise.</summary>
[TestClass]
public sealed class ProgressBarTests
{
    private static TrainingProgressUpdate At(long step, long total = 200) =>
        new(step, total, 2.3456f, 12345.6, 3L << 20, TimeSpan.FromSeconds(step));

    [TestMethod]
    public void ALineShowsStepLossThroughputBytesAndEta()
    {
        string line = ProgressBar.Format(At(50), withBar: true);
        Assert.AreEqual("[######------------------]  25% step 50/200  loss 2.346  12,346 tok/s  sent 3.0 MiB  ETA 02:30", line);
        StringAssert.Contains(ProgressBar.Format(new TrainingProgressUpdate(1, 10_000, 1f, 1, 0, TimeSpan.FromSeconds(2)), withBar: false), "ETA 5:33:18");
    }

    [TestMethod]
    public void PlainOutputPrintsOneLineEveryFivePercent()
    {
        var output = new StringWriter();
        var bar = new ProgressBar(output, interactive: false);
        for (int step = 1; step <= 200; step++) bar.Report(At(step));
        bar.Complete();
        string[] lines = output.ToString().Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries);
        Assert.AreEqual(20, lines.Length);
        StringAssert.StartsWith(lines[0], "  5% step 10/200");
        StringAssert.StartsWith(lines[^1], "100% step 200/200");
        Assert.IsFalse(output.ToString().Contains('\r'), "no carriage returns in logs");
    }

    [TestMethod]
    public void OnATerminalTheBarRedrawsInPlaceAndMessagesPrintAboveIt()
    {
        var output = new StringWriter();
        var bar = new ProgressBar(output, interactive: true);
        bar.Report(At(1));
        bar.Report(At(2)); // within the redraw interval: skipped
        bar.WriteMessage("step 2: validation loss 3.0");
        bar.Report(At(200)); // the last step is always drawn
        bar.Complete();
        string text = output.ToString();
        Assert.AreEqual(1, text.Split('\n').Count(l => l.Contains("validation loss")));
        int message = text.IndexOf("step 2: validation", StringComparison.Ordinal);
        Assert.IsFalse(text[..message].Contains("step 2/200"), "the second report came within the redraw interval: not drawn");
        StringAssert.Contains(text[message..], "step 2/200", "after a message the bar is redrawn with the latest step");
        StringAssert.Contains(text, "\r[########################] 100% step 200/200");
        StringAssert.EndsWith(text, Environment.NewLine);
        // The message line first clears the bar (spaces over its width), then the bar is drawn again under it.
        StringAssert.Contains(text[..message], "\r" + new string(' ', ProgressBar.Format(At(1), true).Length) + "\r");
        StringAssert.Contains(text[message..], "\r[" );
    }
}
