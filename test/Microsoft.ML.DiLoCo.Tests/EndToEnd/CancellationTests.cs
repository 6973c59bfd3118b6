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
}
