using System.Reflection;
using Microsoft.ML.DiLoCo.Tests.Checkpointing;

namespace Microsoft.ML.DiLoCo.Tests.EndToEnd;

[TestClass]
public sealed class CancellationTests
{
    [TestMethod]
    public void ACancelledTokenStopsEveryWorkerBetweenSteps()
    {
        var ml = new MLContext(seed: 1);
        var train = ml.Data.LoadFromEnumerable(SyntheticText.Documents(30, 10, seed: 3));
        using var cancellation = new CancellationTokenSource();
        var options = FitTests.SmallOptions();
        options.TrainingSteps = 100_000; // would take many minutes
        options.CancellationToken = cancellation.Token;
        cancellation.CancelAfter(TimeSpan.FromSeconds(2));
        var watch = System.Diagnostics.Stopwatch.StartNew();
        var trainer = ml.LanguageModeling().Trainers.StreamingDiLoCo(options);
        Assert.ThrowsExactly<OperationCanceledException>(() => trainer.Fit(train));
        Assert.IsTrue(watch.Elapsed < TimeSpan.FromSeconds(60), $"cancellation took {watch.Elapsed}");
    }

    // ML.NET's own way to stop a pipeline. On the old code CancelExecution was ignored: Fit ran to its last step and
    // returned a model, so these tests failed with "no exception thrown".
    [TestMethod]
    public void CancelExecutionStopsFitAfterTheSameStepAsACancelledToken()
    {
        var byToken = FitUntilCancelled(null, (_, token) => token.Cancel());
        var byContext = FitUntilCancelled(null, (ml, _) => CancelExecution(ml));
        Assert.AreEqual(10, byToken.LastStep, "a token cancelled during step 10's progress report stops before step 11");
        Assert.AreEqual(byToken.LastStep, byContext.LastStep);
    }

    [TestMethod]
    public void CancelExecutionWritesTheCheckpointACancelledTokenWrites()
    {
        string tokenDirectory = CheckpointRuns.NewDirectory(), contextDirectory = CheckpointRuns.NewDirectory();
        try
        {
            var byToken = FitUntilCancelled(tokenDirectory, (_, token) => token.Cancel());
            var byContext = FitUntilCancelled(contextDirectory, (ml, _) => CancelExecution(ml));
            StringAssert.Contains(byToken.Message, "checkpoint");
            Assert.AreEqual(byToken.Message.Replace(tokenDirectory, "DIR"), byContext.Message.Replace(contextDirectory, "DIR"));
            Assert.AreEqual(byToken.LastStep, byContext.LastStep);
            var files = Directory.GetFiles(tokenDirectory).Select(Path.GetFileName).Order().ToArray();
            CollectionAssert.AreEqual(files, Directory.GetFiles(contextDirectory).Select(Path.GetFileName).Order().ToArray());
            Assert.IsTrue(files.Length > 0, "a checkpoint was written");
            foreach (var file in files)
                CollectionAssert.AreEqual(File.ReadAllBytes(Path.Combine(tokenDirectory, file!)), File.ReadAllBytes(Path.Combine(contextDirectory, file!)), file);
        }
        finally
        {
            Directory.Delete(tokenDirectory, recursive: true);
            Directory.Delete(contextDirectory, recursive: true);
        }
    }

    /// <summary>One worker (so the stop step does not depend on thread timing), cancelled from step 10's progress report.</summary>
    private static (string Message, long LastStep) FitUntilCancelled(string? checkpoints, Action<MLContext, CancellationTokenSource> cancel)
    {
        var ml = new MLContext(seed: 1);
        using var token = new CancellationTokenSource();
        long lastStep = 0;
        var options = CheckpointRuns.Options(checkpoints);
        options.NumberOfWorkers = 1;
        options.CancellationToken = token.Token;
        options.Progress = new SynchronousProgress(p =>
        {
            lastStep = p.Step;
            if (p.Step == 10) cancel(ml, token);
        });
        var train = ml.Data.LoadFromEnumerable(SyntheticText.Documents(30, 8, seed: 5));
        var trainer = ml.LanguageModeling().Trainers.StreamingDiLoCo(options);
        var e = Assert.ThrowsExactly<OperationCanceledException>(() => trainer.Fit(train));
        return (e.Message, lastStep);
    }

    /// <summary>
    /// <c>mlContext.CancelExecution()</c>: internal to Microsoft.ML 5.0.1, which applications reach through the extension
    /// method of the same name in Microsoft.ML.Experimental (a one-line forwarder; that package is not served here).
    /// </summary>
    private static void CancelExecution(MLContext ml) =>
        (typeof(MLContext).GetMethod("CancelExecution", BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic, Type.EmptyTypes)
            ?? throw new MissingMethodException(nameof(MLContext), "CancelExecution")).Invoke(ml, null);
}
