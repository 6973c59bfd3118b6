using System.Text.Json;

namespace Microsoft.ML.DiLoCo.Tests.Mpi;

/// <summary>The bit-identity check names where two runs parted (<see cref="SameParameters"/>).</summary>
[TestClass]
public sealed class SameParametersTests
{
    /// <summary>A runner line of rank 1 (also the fake runs of InProcessReferenceTests).</summary>
    internal static JsonElement Line(string checksum, string losses) =>
        JsonDocument.Parse($"{{\"rank\":1,\"checksum\":\"{checksum}\",\"losses\":{losses}}}").RootElement.Clone();

    [TestMethod]
    public void AMismatchNamesTheFirstStepWhoseLossesDifferAndEveryWorkerThere()
    {
        var expected = Line("AA", "[[3.0,2.5,2.25,2.0],[3.0,2.6,2.3,2.1]]");
        var actual = Line("BB", "[[3.0,2.5,2.25,1.5],[3.0,2.6,2.4,2.1]]");
        var failure = Assert.ThrowsExactly<AssertFailedException>(() => SameParameters.Assert(expected, actual, "θ̂ on every rank"));
        StringAssert.Contains(failure.Message, "θ̂ on every rank: θ̂ checksum BB where AA was expected (rank 1)");
        StringAssert.Contains(failure.Message, "the inner losses first differ at step 3, for 1 of 2 workers: worker 1 2.3 vs 2.4");
        var both = Line("CC", "[[3.0,2.5,2.2,2.0],[3.0,2.6,2.4,2.1]]");
        StringAssert.Contains(SameParameters.FirstDivergence(expected, both), "at step 3, for 2 of 2 workers: worker 0 2.25 vs 2.2, worker 1 2.3 vs 2.4");
    }

    [TestMethod]
    public void AMismatchWithTheSameLossesIsPlacedAfterTheLastInnerStep()
    {
        var failure = Assert.ThrowsExactly<AssertFailedException>(() =>
            SameParameters.Assert(Line("AA", "[[3.0,2.5]]"), Line("BB", "[[3.0,2.5]]"), "θ̂"));
        StringAssert.Contains(failure.Message, "every worker's inner loss agrees at every step");
    }
}
