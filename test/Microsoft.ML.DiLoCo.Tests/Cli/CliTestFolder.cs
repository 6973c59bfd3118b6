using DiLoCo.Cli;
using Microsoft.ML.DiLoCo.Tests.EndToEnd;

namespace Microsoft.ML.DiLoCo.Tests.Cli;

/// <summary>A scratch folder with generated text and a tiny config, and a way to run the CLI in-process.</summary>
internal sealed class CliTestFolder : IDisposable
{
    public CliTestFolder()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "diloco-cli-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
        System.IO.File.WriteAllLines(File("corpus.txt"), SyntheticText.Documents(60, 6, seed: 1).Select(d => d.Text));
    }

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    /// <summary>A config that trains 40 steps of a 2-layer, 32-wide byte model (a few seconds).</summary>
    public string TinyConfig(string model = "\"model.zip\"", int steps = 40) => $$"""
        {
          "version": 1,
          "scenario": "LanguageModeling",
          "data": { "source": "files", "paths": ["corpus.txt"], "documentPer": "line" },
          "validation": { "split": "everyNth", "every": 10 },
          "model": { "contextLength": 32, "embeddingSize": 32, "numberOfLayers": 2, "numberOfHeads": 2 },
          "trainer": { "numberOfWorkers": 2, "innerSteps": 20, "numberOfFragments": 2, "innerLearningRate": 0.003,
                       "warmupSteps": 10, "batchSize": 8, "trainingSteps": {{steps}}, "evaluationInterval": 20, "seed": 7 },
          "output": { "directory": "out", "model": {{model}} }
        }
        """;

    public string WriteConfig(string json, string name = "config.json")
    {
        System.IO.File.WriteAllText(File(name), json);
        return File(name);
    }

    public (int ExitCode, string Output, string Errors) Run(params string[] args) => RunWith(false, args);

    public (int ExitCode, string Output, string Errors) RunWith(bool interactive, params string[] args)
    {
        var output = new StringWriter();
        var errors = new StringWriter();
        int code = DiLoCoCli.Run(args, output, errors, interactive);
        return (code, output.ToString(), errors.ToString());
    }

    public void Dispose() => Directory.Delete(Path, recursive: true);
}
