using DiLoCo.Cli;

namespace Microsoft.ML.DiLoCo.Tests.Cli;

/// <summary>The progress display: a live Spectre.Console bar on a terminal, plain lines every 5 % otherwise.</summary>
[TestClass]
public sealed class TrainingProgressDisplayTests
{
    private static TrainingProgressUpdate At(long step, long total = 200, double validation = double.NaN) =>
        new(step, total, 2.3456f, 12345.6, 3L << 20, TimeSpan.FromSeconds(step)) { ValidationLoss = validation };

    [TestMethod]
    public void ALineShowsStepLossValidationThroughputBytesAndEta()
    {
        Assert.AreEqual(" 25% step 50/200  loss 2.346  12,346 tok/s  sent 3.0 MiB  ETA 02:30", TrainingProgressDisplay.PlainLine(At(50)));
        Assert.AreEqual(" 25% step 50/200  loss 2.346  val 2.301  12,346 tok/s  sent 3.0 MiB  ETA 02:30", TrainingProgressDisplay.PlainLine(At(50, validation: 2.3011)));
        StringAssert.Contains(TrainingProgressDisplay.PlainLine(new TrainingProgressUpdate(1, 10_000, 1f, 1, 0, TimeSpan.FromSeconds(2))), "ETA 5:33:18");
    }

    [TestMethod]
    public void PlainOutputPrintsOneLineEveryFivePercent()
    {
        var output = new StringWriter();
        var display = new TrainingProgressDisplay(output, interactive: false);
        int result = display.Run(() =>
        {
            for (int step = 1; step <= 200; step++) display.Report(At(step));
            return 7;
        });
        Assert.AreEqual(7, result, "Run returns what the training returned");
        string[] lines = output.ToString().Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries);
        Assert.AreEqual(20, lines.Length);
        StringAssert.StartsWith(lines[0], "  5% step 10/200");
        StringAssert.StartsWith(lines[^1], "100% step 200/200");
        Assert.IsFalse(output.ToString().Contains('\r') || output.ToString().Contains('\u001b'), "no carriage returns or escape sequences in logs");
    }

    [TestMethod]
    public void OnATerminalTheLiveBarShowsTheLatestStepAndMessagesPrintAboveIt()
    {
        var output = new StringWriter();
        var display = new TrainingProgressDisplay(output, interactive: true);
        display.Run(() =>
        {
            for (int step = 1; step <= 100; step++) display.Report(At(step));
            display.WriteMessage("  step 100: validation loss of θ̂ 2.3011");
            for (int step = 101; step <= 200; step++) display.Report(At(step, validation: 2.3011));
            return 0;
        });
        string text = output.ToString();
        StringAssert.Contains(text, "\u001b[", "ANSI redraws on a terminal");
        int message = text.LastIndexOf("step 100: validation loss", StringComparison.Ordinal);
        int last = text.LastIndexOf("step 200/200", StringComparison.Ordinal);
        Assert.IsTrue(message >= 0 && last > message, "the message printed above the bar; the final bar is drawn after it");
        StringAssert.Contains(text[last..], "100%");
        // The statistics column wraps on an 80-column console (a wider terminal shows one line): compare words.
        string words = System.Text.RegularExpressions.Regex.Replace(text[last..], @"\s+", " ");
        StringAssert.Contains(words, "loss 2.346 val 2.301 12,346 tok/s sent 3.0 MiB ETA 00:00");
        Assert.AreEqual(1, text.Split("step 100: validation loss").Length - 1, "the message is written once, not redrawn");
    }
}
