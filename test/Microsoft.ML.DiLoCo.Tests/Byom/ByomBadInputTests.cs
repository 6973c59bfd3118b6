using Microsoft.ML.DiLoCo.Communication;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.DiLoCo.Tests.Byom;

/// <summary>Each bad input fails at construction, naming the parameter.</summary>
[TestClass]
public sealed class ByomBadInputTests
{
    private static ArgumentException Construct(nn.Module model, optim.Optimizer optimizer, StreamingDiLoCoOptions options)
    {
        var collective = InProcessCollective.CreateGroup(1)[0];
        try
        {
            return Assert.Throws<ArgumentException>(() => new StreamingDiLoCo(model, optimizer, collective, options));
        }
        finally
        {
            collective.Dispose();
        }
    }

    [TestMethod]
    public void ModuleThatDiffersBetweenWorkersFailsOnEveryWorker()
    {
        var errors = new Exception?[2];
        StreamingDiLoCo.RunInProcess(2, (rank, collective) =>
        {
            using var model = new SmallMlp(width: rank == 0 ? 32 : 16);
            using var optimizer = optim.SGD(model.parameters(), 0.1);
            try { new StreamingDiLoCo(model, optimizer, collective, new StreamingDiLoCoOptions { InnerSteps = 4 }).Dispose(); }
            catch (ArgumentException e) { errors[rank] = e; }
        });
        for (int rank = 0; rank < 2; rank++)
        {
            var e = errors[rank] as ArgumentException;
            Assert.IsNotNull(e, $"worker {rank} must fail too, not wait");
            Assert.AreEqual("module", e.ParamName);
            StringAssert.Contains(e.Message, "'input.weight'");
            StringAssert.Contains(e.Message, "[32, 8]");
            StringAssert.Contains(e.Message, "[16, 8]");
        }
    }

    [TestMethod]
    public void ModuleWithAnExtraParameterOnOneWorkerFails()
    {
        var errors = new Exception?[2];
        StreamingDiLoCo.RunInProcess(2, (rank, collective) =>
        {
            using nn.Module model = rank == 0 ? new SmallMlp() : new TinyLstm();
            using var optimizer = optim.SGD(model.parameters(), 0.1);
            try { new StreamingDiLoCo(model, optimizer, collective, new StreamingDiLoCoOptions { InnerSteps = 4 }).Dispose(); }
            catch (ArgumentException e) { errors[rank] = e; }
        });
        var error = errors[1] as ArgumentException;
        Assert.IsNotNull(error);
        Assert.AreEqual("module", error.ParamName);
        StringAssert.Contains(error.Message, "'input.weight'");
        StringAssert.Contains(error.Message, "'embed.weight'");
    }

    [TestMethod]
    public void OptionsThatDifferBetweenWorkersFail()
    {
        var errors = new Exception?[2];
        StreamingDiLoCo.RunInProcess(2, (rank, collective) =>
        {
            using var model = new SmallMlp();
            using var optimizer = optim.SGD(model.parameters(), 0.1);
            try { new StreamingDiLoCo(model, optimizer, collective, new StreamingDiLoCoOptions { InnerSteps = rank == 0 ? 4 : 8 }).Dispose(); }
            catch (ArgumentException e) { errors[rank] = e; }
        });
        var error = errors[0] as ArgumentException;
        Assert.IsNotNull(error);
        Assert.AreEqual("options", error.ParamName);
        StringAssert.Contains(error.Message, "InnerSteps = 8");
    }

    [TestMethod]
    public void FragmentsThatMissAParameterFail()
    {
        using var model = new SmallMlp();
        using var optimizer = optim.SGD(model.parameters(), 0.1);
        var e = Construct(model, optimizer, new StreamingDiLoCoOptions { InnerSteps = 4, Fragments = new[] { new[] { "input" }, new[] { "hidden", "output.weight" } } });
        Assert.AreEqual("Fragments", e.ParamName);
        StringAssert.Contains(e.Message, "'output.bias' is in no fragment");
    }

    [TestMethod]
    public void FragmentsThatRepeatAParameterFail()
    {
        using var model = new SmallMlp();
        using var optimizer = optim.SGD(model.parameters(), 0.1);
        var e = Construct(model, optimizer, new StreamingDiLoCoOptions { InnerSteps = 4, Fragments = new[] { new[] { "input", "hidden" }, new[] { "hidden.bias", "output" } } });
        Assert.AreEqual("Fragments", e.ParamName);
        StringAssert.Contains(e.Message, "'hidden.bias' appears more than once");
    }

    [TestMethod]
    public void FragmentEntryThatMatchesNothingFails()
    {
        using var model = new SmallMlp();
        using var optimizer = optim.SGD(model.parameters(), 0.1);
        var e = Construct(model, optimizer, new StreamingDiLoCoOptions { InnerSteps = 4, Fragments = new[] { new[] { "input", "hidden", "output" }, new[] { "decoder" } } });
        Assert.AreEqual("Fragments", e.ParamName);
        StringAssert.Contains(e.Message, "'decoder'");
    }

    [TestMethod]
    public void TooManyDefaultFragmentsFail()
    {
        using var model = new SmallMlp();
        using var optimizer = optim.SGD(model.parameters(), 0.1);
        var e = Construct(model, optimizer, new StreamingDiLoCoOptions { InnerSteps = 8, NumberOfFragments = 4 });
        Assert.AreEqual("NumberOfFragments", e.ParamName);
        StringAssert.Contains(e.Message, "1..3");
    }

    [TestMethod]
    public void InnerStepsNotAMultipleOfFragmentsFails()
    {
        using var model = new SmallMlp();
        using var optimizer = optim.SGD(model.parameters(), 0.1);
        var e = Construct(model, optimizer, new StreamingDiLoCoOptions { InnerSteps = 5, NumberOfFragments = 2 });
        Assert.AreEqual("InnerSteps", e.ParamName);
    }

    [TestMethod]
    public void OptimizerThatDoesNotOwnTheParametersFails()
    {
        using var model = new SmallMlp();
        using var other = new SmallMlp();
        using var foreign = optim.SGD(other.parameters(), 0.1);
        var e = Construct(model, foreign, new StreamingDiLoCoOptions { InnerSteps = 4 });
        Assert.AreEqual("optimizer", e.ParamName);
        StringAssert.Contains(e.Message, "'input.weight'");

        using var partial = optim.SGD(model.parameters().Take(4), 0.1); // input, hidden; not output
        e = Construct(model, partial, new StreamingDiLoCoOptions { InnerSteps = 4 });
        Assert.AreEqual("optimizer", e.ParamName);
        StringAssert.Contains(e.Message, "'output.weight'");
    }

    [TestMethod]
    public void ParametersOnMixedDevicesFail()
    {
        using var model = new SmallMlp();
        var output = model.named_children().First(c => c.name == "output").module;
        output.to(DeviceType.META); // a second device without CUDA: tensors with shapes and no storage
        using var optimizer = optim.SGD(model.parameters(), 0.1);
        var e = Construct(model, optimizer, new StreamingDiLoCoOptions { InnerSteps = 4 });
        Assert.AreEqual("module", e.ParamName);
        StringAssert.Contains(e.Message, "'output.weight'");
        StringAssert.Contains(e.Message, "'input.weight'");
    }
}
