using Microsoft.ML.DiLoCo.Tests.EndToEnd;

namespace Microsoft.ML.DiLoCo.Tests.Scoring;

/// <summary>Scoring and generation on a chosen device (issue 14, part 6).</summary>
[TestClass]
public sealed class ScoringDeviceTests
{
    private static (MLContext Ml, LanguageModelTransformer Model, IDataView Text) Trained()
    {
        var ml = new MLContext(seed: 1);
        var text = ml.Data.LoadFromEnumerable(SyntheticText.Documents(12, 6, seed: 1));
        var options = FitTests.SmallOptions();
        options.TrainingSteps = 4;
        return (ml, ml.LanguageModeling().Trainers.StreamingDiLoCo(options).Fit(text), text);
    }

    [TestMethod]
    public void TheDefaultIsTheCpuAndABadDeviceIsRefusedNamingIt()
    {
        var (_, model, _) = Trained();
        Assert.AreEqual("cpu", model.Device);
        var e = Assert.ThrowsExactly<ArgumentException>(() => model.Device = "tpu:0");
        Assert.AreEqual(nameof(LanguageModelTransformer.Device), e.ParamName);
        if (!TorchSharp.torch.cuda.is_available())
            StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => model.Device = "cuda:0").Message, "CUDA is not available");
        model.Device = "cpu";
        Assert.AreEqual("cpu", model.Device);
    }

    [TestMethod]
    public void ScoresAndGeneratedTextAgreeBetweenDevices()
    {
        if (!TorchSharp.torch.cuda.is_available()) Assert.Inconclusive("Needs CUDA: this build uses the CPU libtorch (build with -p:LibTorchBackend=cuda on a GPU machine).");
        var (ml, model, text) = Trained();
        var onCpu = ml.Data.CreateEnumerable<SyntheticText.ScoredRow>(model.Transform(text), reuseRowObject: false).ToArray();
        string cpuText = model.Generate("the cat", new GenerationOptions { MaxNewTokens = 16, Temperature = 0 });
        model.Device = "cuda:0";
        Assert.AreEqual("cuda:0", model.Device);
        var onGpu = ml.Data.CreateEnumerable<SyntheticText.ScoredRow>(model.Transform(text), reuseRowObject: false).ToArray();
        for (int i = 0; i < onCpu.Length; i++) Assert.AreEqual(onCpu[i].Loss, onGpu[i].Loss, 1e-3f);
        Assert.AreEqual(cpuText, model.Generate("the cat", new GenerationOptions { MaxNewTokens = 16, Temperature = 0 }));
    }
}
