using Microsoft.ML.DiLoCo;

namespace DiLoCo.Cli;

/// <summary><c>diloco generate --model M --prompt "..." [--max-tokens --temperature --top-k --top-p --seed]</c>: streams the continuation.</summary>
internal static class GenerateCommand
{
    public static int Run(CommandArguments flags, TextWriter stdout)
    {
        string modelPath = flags.Required("--model");
        string prompt = flags.Required("--prompt");
        var options = new GenerationOptions();
        options.MaxNewTokens = flags.Int("--max-tokens", min: 0) ?? options.MaxNewTokens;
        options.Temperature = flags.Float("--temperature", "a number ≥ 0 (0 = greedy)", t => t >= 0 && float.IsFinite(t)) ?? options.Temperature;
        options.TopK = flags.Int("--top-k", min: 0) ?? options.TopK;
        options.TopP = flags.Float("--top-p", "a number in (0, 1]", p => p > 0 && p <= 1) ?? options.TopP;
        options.Seed = flags.Int("--seed", min: int.MinValue) ?? options.Seed;
        flags.RejectUnused();

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
