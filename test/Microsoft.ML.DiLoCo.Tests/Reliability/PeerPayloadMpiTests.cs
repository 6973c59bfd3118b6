using Microsoft.ML.DiLoCo.Tests.Mpi;

namespace Microsoft.ML.DiLoCo.Tests.Reliability;

/// <summary>
/// The faulty peer of <see cref="PeerPayloadTests"/> across two MPI ranks (the runner's mode=peer: torchft's fixture, one worker per
/// rank, rank 1 faulty; Inconclusive without Open MPI). Each rank prints θ̂ or its error as one JSON line.
/// </summary>
[TestClass]
public sealed class PeerPayloadMpiTests
{
    [TestMethod]
    public void EveryRankRefusesAPeersNaNNamingTheSenderTheStepAndTheFragment()
    {
        var outcome = MpiLauncher.UnderMpi(2, "mode=peer", "attack=nan");
        Assert.AreEqual(2, outcome.Lines.Length, outcome.Output);
        foreach (var line in outcome.Lines)
        {
            Assert.AreEqual("PeerPayloadException", line.GetProperty("error").GetString(), outcome.Output);
            StringAssert.StartsWith(line.GetProperty("message").GetString(),
                "Worker 1 sent a payload that was refused for fragment 0 at step 3: the value at index 0 decodes to NaN");
        }
    }

    [TestMethod]
    public void UnderSkipContributionBothRanksLeaveTheNaNOutAndKeepTheSameThetaHat()
    {
        var outcome = MpiLauncher.UnderMpi(2, "mode=peer", "attack=nan", "policy=skip");
        Assert.AreEqual(0, outcome.ExitCode, outcome.Output);
        Assert.AreEqual(2, outcome.Lines.Length, outcome.Output);
        foreach (var line in outcome.Lines)
        {
            Assert.AreEqual("[-11,-23]", line.GetProperty("global").GetRawText(), "torchft's θ̂ after step 6: worker 0's Δ alone equals the honest mean");
            Assert.AreEqual(1, line.GetProperty("skipped").GetInt32());
        }
    }

    [TestMethod]
    [DataRow("declare", "MPI rank 1 sent a payload that was refused for fragment 0 at step 3: it declared 1,500,000,000 bytes where every payload of this exchange has 4")]
    [DataRow("short", "MPI rank 1 sent a payload that was refused for fragment 0 at step 3: it declared 3 bytes where every payload of this exchange has 4")]
    public void ARankThatDeclaresAnotherLengthIsRefusedBeforeAnythingIsAllocatedForIt(string attack, string message)
    {
        // declare: rank 1 speaks the collective's protocol by hand and announces 1.5 GB that it never sends.
        var outcome = MpiLauncher.UnderMpi(2, "mode=peer", $"attack={attack}");
        Assert.AreNotEqual(0, outcome.ExitCode, outcome.Output);
        var honest = outcome.Lines.Single(l => l.GetProperty("rank").GetInt32() == 0);
        Assert.AreEqual("PeerPayloadException", honest.GetProperty("error").GetString(), outcome.Output);
        StringAssert.StartsWith(honest.GetProperty("message").GetString(), message.Replace("1,500,000,000", $"{1_500_000_000:N0}"));
        long allocated = honest.GetProperty("allocatedBytes").GetInt64();
        Assert.IsTrue(allocated < 200_000_000, $"rank 0 allocated {allocated:N0} bytes in all: nothing for the declared payload");
        Assert.IsTrue(outcome.Elapsed < TimeSpan.FromSeconds(60), $"the job ended after {outcome.Elapsed.TotalSeconds:F1} s (the exchange timeout is 30 s)");
    }
}
