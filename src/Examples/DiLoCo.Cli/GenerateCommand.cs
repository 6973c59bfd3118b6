using System.CommandLine;
using Microsoft.ML.DiLoCo;

namespace DiLoCo.Cli;

/// <summary><c>diloco generate --model M --prompt "..." [--max-tokens --temperature --top-k --top-p --seed]</c>: streams the continuation.</summary>
internal static class GenerateCommand
{
    public static Command Create(CliConsole console)
    {
        var defaults = new GenerationOptions();
        var model = CliOptions.Model();
        var prompt = CliOptions.Text("--prompt", "TEXT", "The text to continue.", required: true);
        var maxTokens = CliOptions.Integer("--max-tokens", "N", $"New tokens to generate (default {defaults.MaxNewTokens}).", min: 0);
        var temperature = CliOptions.Number("--temperature", "T", $"Sampling temperature, 0 = greedy (default {defaults.Temperature}).",
            "a number ≥ 0 (0 = greedy)", t => t >= 0 && float.IsFinite(t));
        var topK = CliOptions.Integer("--top-k", "K", "Sample from the K most likely tokens (0 = all).", min: 0);
        var topP = CliOptions.Number("--top-p", "P", "Sample from the smallest set of tokens whose probability reaches P.", "a number in (0, 1]", p => p > 0 && p <= 1);
        var seed = CliOptions.Integer("--seed", "S", "Sampling seed.", min: int.MinValue);
        var command = new Command("generate", "Continue a prompt with a saved model, streaming the text.") { model, prompt, maxTokens, temperature, topK, topP, seed };
        command.SetAction(p =>
        {
            var options = new GenerationOptions();
            options.MaxNewTokens = p.GetValue(maxTokens) ?? options.MaxNewTokens;
            options.Temperature = p.GetValue(temperature) ?? options.Temperature;
            options.TopK = p.GetValue(topK) ?? options.TopK;
            options.TopP = p.GetValue(topP) ?? options.TopP;
            options.Seed = p.GetValue(seed) ?? options.Seed;
            return Run(p.GetRequiredValue(model), p.GetRequiredValue(prompt), options, console.Out);
        });
        return command;
    }

    private static int Run(string modelPath, string prompt, GenerationOptions options, TextWriter stdout)
    {
        // A model saved by this library loads as a LanguageModelTransformer, which generates.
        var model = SavedModel.Load(modelPath).LanguageModel;
        stdout.Write(prompt);
        foreach (string piece in model.GenerateStreaming(prompt, options))
        {
            stdout.Write(piece);
            stdout.Flush();
        }
        stdout.WriteLine();
        return ExitCodes.Success;
    }
}
