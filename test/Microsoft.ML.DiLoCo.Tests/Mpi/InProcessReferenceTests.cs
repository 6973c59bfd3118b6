using System.Text.Json;

namespace Microsoft.ML.DiLoCo.Tests.Mpi;

/// <summary>An in-process reference that parts from its rerun ends the test Inconclusive; one that the ranks never match fails it.</summary>
[TestClass]
public sealed class InProcessReferenceTests
{
    private static MpiLauncher.Outcome Run(string checksum, string losses) => new(0, new[] { SameParametersTests.Line(checksum, losses) }, "", TimeSpan.Zero);

    private static JsonElement Rank(string checksum) => SameParametersTests.Line(checksum, "[[5.5,5.0]]");

    [TestMethod]
    public void ARankThatMatchesTheFirstRunNeedsNoRerun()
    {
        int runs = 0;
        var reference = new InProcessReference(() => { runs++; return Run("AA", "[[5.5,5.0]]"); });
        reference.AssertSameParameters(Rank("AA"), "θ̂");
        reference.AssertSameParameters(Rank("AA"), "θ̂");
        reference.Conclude();
        Assert.AreEqual(1, runs);
    }

    [TestMethod]
    public void AFirstRunThatPartsFromItsRerunEndsInconclusiveSayingWhere()
    {
        var outcomes = new Queue<MpiLauncher.Outcome>(new[] { Run("0DD", "[[5.5,5.024979]]"), Run("AA", "[[5.5,5.0249796]]") });
        var reference = new InProcessReference(outcomes.Dequeue);
        reference.AssertSameParameters(Rank("AA"), "θ̂");
        reference.AssertSameParameters(Rank("AA"), "θ̂"); // the rerun is the reference now: no third run
        Assert.AreEqual("AA", reference.Line.GetProperty("checksum").GetString());
        var inconclusive = Assert.ThrowsExactly<AssertInconclusiveException>(reference.Conclude);
        StringAssert.Contains(inconclusive.Message, "the in-process reference run ended on θ̂ 0DD where its rerun and rank 1 ended on AA");
        StringAssert.Contains(inconclusive.Message, "first differ at step 2, for 1 of 1 workers: worker 0 5.024979 vs 5.0249796");
    }

    [TestMethod]
    public void RanksThatNoRunMatchesFailWithEveryChecksum()
    {
        int runs = 0;
        var reference = new InProcessReference(() => Run(++runs == 1 ? "AA" : "A" + runs, "[[5.5,5.0]]"));
        var failure = Assert.ThrowsExactly<AssertFailedException>(() => reference.AssertSameParameters(Rank("BB"), "θ̂ on every rank"));
        Assert.AreEqual(3, runs, "the first run and two reruns");
        StringAssert.Contains(failure.Message, "θ̂ on every rank (the in-process reference rerun 2× ended on A2, A3): θ̂ checksum BB where AA was expected (rank 1)");
    }
}
