using DiLoCo.Cli;

namespace Microsoft.ML.DiLoCo.Tests.Cli;

/// <summary>The command line (System.CommandLine): per-command help, <c>--name=value</c>, errors with the usage line.</summary>
[TestClass]
public sealed class CliCommandLineTests
{
    [TestMethod]
    [DataRow("train", "--config", "--output-dir", "--metrics-port")]
    [DataRow("evaluate", "--model", "--data", "--column", "--document-per")]
    [DataRow("score", "--model", "--text")]
    [DataRow("generate", "--model", "--prompt", "--max-tokens", "--temperature", "--top-k", "--top-p", "--seed")]
    public void EveryCommandHasItsOwnHelp(string command, params string[] options)
    {
        using var folder = new CliTestFolder();
        foreach (var args in new[] { new[] { command, "--help" }, new[] { command, "-h" }, new[] { "help", command } })
        {
            var (code, output, errors) = folder.Run(args);
            Assert.AreEqual(ExitCodes.Success, code, $"{string.Join(' ', args)}: {errors}");
            Assert.AreEqual("", errors);
            StringAssert.Contains(output, $"diloco {command} [options]", string.Join(' ', args));
            foreach (var option in options) StringAssert.Contains(output, option, $"{string.Join(' ', args)} lists {option}");
        }
    }

    [TestMethod]
    public void TheOverviewListsEveryCommandWithItsUsageLine()
    {
        using var folder = new CliTestFolder();
        var (code, output, _) = folder.Run("--help");
        Assert.AreEqual(ExitCodes.Success, code);
        StringAssert.Contains(output, "diloco train --config FILE.json [--from MODEL.zip] [--output-dir DIR] [--metrics-port PORT]");
        StringAssert.Contains(output, "diloco score --model MODEL.zip --text TEXT");
        StringAssert.Contains(output, "Exit codes: 0 ok, 1 failure while running, 2 bad input");
        Assert.AreEqual(output, folder.Run("help").Output);
        var none = folder.Run();
        Assert.AreEqual(ExitCodes.BadInput, none.ExitCode);
        Assert.AreEqual(output, none.Errors, "no command: the overview on stderr, exit code 2");
    }

    [TestMethod]
    public void ValuesMayFollowAnEqualsSign()
    {
        using var folder = new CliTestFolder();
        // Parsed as values: the range check of --top-p and the missing model file both see them.
        var range = folder.Run("generate", "--model=m.zip", "--prompt=hi", "--top-p=1.5");
        Assert.AreEqual(ExitCodes.BadInput, range.ExitCode);
        StringAssert.Contains(range.Errors, "--top-p must be a number in (0, 1]; got '1.5'.");
        var missing = folder.Run("score", $"--model={folder.File("none.zip")}", "--text=the cat");
        Assert.AreEqual(ExitCodes.BadInput, missing.ExitCode);
        StringAssert.Contains(missing.Errors, "none.zip does not exist");
        var config = folder.Run("train", $"--config={folder.File("missing.json")}", $"--output-dir={folder.Path}");
        StringAssert.Contains(config.Errors, "missing.json does not exist");
    }

    [TestMethod]
    public void ABadFlagNamesTheFlagAndShowsTheUsageLine()
    {
        using var folder = new CliTestFolder();
        var (code, output, errors) = folder.Run("train", "--config", "x.json", "--steps", "3");
        Assert.AreEqual(ExitCodes.BadInput, code);
        Assert.AreEqual("", output, "nothing ran");
        StringAssert.Contains(errors, "error: train: Unrecognized command or argument '--steps'.");
        StringAssert.Contains(errors, "usage: diloco train --config FILE.json [--from MODEL.zip] [--output-dir DIR] [--metrics-port PORT] [--metrics-host HOST]");
        StringAssert.Contains(errors, "Run 'diloco train --help' for details.");

        var number = folder.Run("generate", "--model", "m.zip", "--prompt", "hi", "--max-tokens", "many");
        Assert.AreEqual(ExitCodes.BadInput, number.ExitCode);
        StringAssert.Contains(number.Errors, "--max-tokens must be an integer ≥ 0; got 'many'.");
        StringAssert.Contains(number.Errors, "usage: diloco generate --model MODEL.zip --prompt TEXT [--max-tokens N]");

        var choice = folder.Run("evaluate", "--model", "m.zip", "--data", "sotu", "--document-per", "word");
        StringAssert.Contains(choice.Errors, "--document-per must be file or line; got 'word'.");
        var port = folder.Run("train", "--config", "x.json", "--metrics-port", "70000");
        StringAssert.Contains(port.Errors, "--metrics-port must be an integer from 1 to 65535; got '70000'.");
    }
}
