using Microsoft.ML.DiLoCo.Communication;
using TorchSharp;

namespace Microsoft.ML.DiLoCo.Tests.Byom;

/// <summary>Order of calls, failure of one worker, and the property "M = 1, η = 1, μ = 0, τ = 0 is plain training".</summary>
[TestClass]
public sealed class ByomLifecycleTests
{
    [TestMethod]
    public void OneFailingWorkerStopsTheOthersAndItsErrorIsRethrown()
    {
        var outcome = new string?[2];
        var e = Assert.ThrowsExactly<InvalidOperationException>(() => StreamingDiLoCo.RunInProcess(2, (rank, collective) =>
        {
            using var model = new TwoScalars();
            using var optimizer = torch.optim.SGD(model.parameters(), 1.0);
            using var diloco = new StreamingDiLoCo(model, optimizer, collective, ByomGoldenVectorTests.GoldenOptions(0.5f, 1));
            if (rank == 1) throw new InvalidOperationException("worker 1 broke");
            try
            {
                for (int t = 1; t <= 12; t++) { optimizer.zero_grad(); model.Loss().backward(); optimizer.step(); diloco.Step(); }
                diloco.Finish();
                outcome[rank] = "finished";
            }
            catch (CollectiveAbortedException)
            {
                outcome[rank] = "aborted";
                throw;
            }
        }));
        Assert.AreEqual("worker 1 broke", e.Message);
        Assert.AreEqual("aborted", outcome[0], "worker 0 must stop at its exchange, not wait forever");
    }

    [TestMethod]
    public void StepAfterFinishIsRefusedAndFinishTwiceIsHarmless()
    {
        var collective = InProcessCollective.CreateGroup(1)[0];
        using var model = new TwoScalars();
        using var optimizer = torch.optim.SGD(model.parameters(), 1.0);
        using var diloco = new StreamingDiLoCo(model, optimizer, collective, ByomGoldenVectorTests.GoldenOptions(0f, 0));
        diloco.Step();
        diloco.Finish();
        diloco.Finish();
        Assert.ThrowsExactly<InvalidOperationException>(() => diloco.Step());
        Assert.AreEqual(1L, diloco.StepCount);
        collective.Dispose();
    }

    [TestMethod]
    public void OneWorkerWithUnitOuterStepIsPlainTraining()
    {
        // M = 1, η = 1, μ = 0, τ = 0, α = 0: θ̂ ← θ̂ − (θ̂ − θ) = θ, so every sync leaves the weights where SGD put them.
        var options = ByomGoldenVectorTests.GoldenOptions(0f, 0);
        options.OuterLearningRate = 1;
        var collective = InProcessCollective.CreateGroup(1)[0];
        using var model = new TwoScalars();
        using var optimizer = torch.optim.SGD(model.parameters(), 1.0);
        using var diloco = new StreamingDiLoCo(model, optimizer, collective, options);
        for (int t = 1; t <= 12; t++)
        {
            optimizer.zero_grad();
            model.Loss().backward();
            optimizer.step();
            diloco.Step();
            Assert.AreEqual(1 - 2 * t, model.A, $"a after {t} steps");
            Assert.AreEqual(1 - 2 * t, model.B, $"b after {t} steps");
        }
        diloco.Finish();
        Assert.AreEqual(-17f, diloco.OuterParameters["a"].item<float>(), "θ̂ of fragment 0 = the weight at its last sync, step 9");
        Assert.AreEqual(-23f, diloco.OuterParameters["b"].item<float>(), "θ̂ of fragment 1 = the weight at its last sync, step 12");
        collective.Dispose();
    }
}
