using DiLoCo.Cli;

namespace Microsoft.ML.DiLoCo.Tests.Cli;

/// <summary>Bad command lines and bad config files exit with code 2 and a message naming what is wrong; nothing trains.</summary>
[TestClass]
public sealed class CliBadInputTests
{
    [TestMethod]
    public void AMissingConfigFileIsBadInput()
    {
        using var folder = new CliTestFolder();
        var (code, _, errors) = folder.Run("train", "--config", folder.File("missing.json"));
        Assert.AreEqual(ExitCodes.BadInput, code);
        StringAssert.Contains(errors, "missing.json does not exist");
    }

    [TestMethod]
    public void InvalidJsonIsBadInputWithTheLine()
    {
        using var folder = new CliTestFolder();
        string config = folder.WriteConfig("{\n  \"version\": 1,\n  \"scenario\": \"LanguageModeling\",\n  \"data\": { \"source\": \"sotu\" \n}");
        var (code, _, errors) = folder.Run("train", "--config", config);
        Assert.AreEqual(ExitCodes.BadInput, code);
        StringAssert.Contains(errors, "not valid JSON at line 5");
    }

    [TestMethod]
    public void AWrongTypeIsBadInputNamingTheField()
    {
        using var folder = new CliTestFolder();
        string config = folder.WriteConfig(folder.TinyConfig().Replace("\"innerSteps\": 20", "\"innerSteps\": \"twenty\""));
        var (code, output, errors) = folder.Run("train", "--config", config, "--output-dir", folder.Path);
        Assert.AreEqual(ExitCodes.BadInput, code);
        StringAssert.Contains(errors, "trainer.innerSteps (line 7): must be an integer ≥ 1");
        Assert.AreEqual("", output, "nothing is read or trained");
    }

    [TestMethod]
    public void AnUnknownFieldIsBadInputNamingTheField()
    {
        using var folder = new CliTestFolder();
        string config = folder.WriteConfig(folder.TinyConfig().Replace("\"seed\": 7", "\"seed\": 7, \"epochs\": 3"));
        var (code, _, errors) = folder.Run("train", "--config", config);
        Assert.AreEqual(ExitCodes.BadInput, code);
        StringAssert.Contains(errors, "trainer.epochs");
        StringAssert.Contains(errors, "unknown field");
    }

    [TestMethod]
    public void AnOutOfRangeValueAndAMissingDataFileAreBadInput()
    {
        using var folder = new CliTestFolder();
        var alpha = folder.Run("train", "--config", folder.WriteConfig(folder.TinyConfig().Replace("\"seed\": 7", "\"seed\": 7, \"mixingAlpha\": 2")));
        Assert.AreEqual(ExitCodes.BadInput, alpha.ExitCode);
        StringAssert.Contains(alpha.Errors, "trainer.mixingAlpha");
        StringAssert.Contains(alpha.Errors, "[0, 1]");

        var missing = folder.Run("train", "--config", folder.WriteConfig(folder.TinyConfig().Replace("corpus.txt", "nothing.txt")));
        Assert.AreEqual(ExitCodes.BadInput, missing.ExitCode);
        StringAssert.Contains(missing.Errors, "data.paths[0]");
    }

    [TestMethod]
    public void BadCommandLinesAreBadInput()
    {
        using var folder = new CliTestFolder();
        Assert.AreEqual(ExitCodes.BadInput, folder.Run().ExitCode);
        Assert.AreEqual(ExitCodes.Success, folder.Run("help").ExitCode);
        StringAssert.Contains(folder.Run("fit").Errors, "unknown command 'fit'");
        StringAssert.Contains(folder.Run("train").Errors, "Option '--config' is required.");
        var value = folder.Run("generate", "--model", "m.zip", "--prompt", "hi", "--top-p", "1.5");
        Assert.AreEqual(ExitCodes.BadInput, value.ExitCode);
        StringAssert.Contains(value.Errors, "--top-p must be a number in (0, 1]");
        var model = folder.Run("score", "--model", folder.File("none.zip"), "--text", "hi");
        Assert.AreEqual(ExitCodes.BadInput, model.ExitCode);
        StringAssert.Contains(model.Errors, "none.zip does not exist");
    }
}
