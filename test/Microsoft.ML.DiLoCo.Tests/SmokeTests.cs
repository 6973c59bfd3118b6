using TorchSharp;
[assembly: Microsoft.VisualStudio.TestTools.UnitTesting.DoNotParallelize]
namespace Microsoft.ML.DiLoCo.Tests;

[TestClass]
public sealed class SmokeTests
{
    [TestMethod]
    public void TorchLoadsAndComputes()
    {
        using var a = torch.ones(3);
        Assert.AreEqual(3.0f, a.sum().item<float>());
    }
}
