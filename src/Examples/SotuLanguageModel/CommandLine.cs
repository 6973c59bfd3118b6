using Microsoft.ML.DiLoCo;

namespace SotuLanguageModel;

/// <summary>The example's few flags: --steps N, --workers M, --algorithm NAME, --report PATH, --model PATH.</summary>
internal sealed record CommandLine(int Steps, int Workers, TrainingAlgorithm Algorithm, string? ReportPath, string ModelPath)
{
    public static CommandLine Parse(string[] args)
    {
        int steps = 600, workers = 2;
        var algorithm = TrainingAlgorithm.StreamingDiLoCo;
        string? report = "artifacts/sotu-report.json";
        string modelPath = "artifacts/sotu-lm.zip";
        for (int i = 0; i < args.Length; i++)
        {
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
            switch (args[i])
            {
                case "--steps": steps = int.Parse(Value()); break;
                case "--workers": workers = int.Parse(Value()); break;
                case "--algorithm": algorithm = Enum.Parse<TrainingAlgorithm>(Value(), ignoreCase: true); break;
                case "--report": report = Value(); break;
                case "--no-report": report = null; break;
                case "--model": modelPath = Value(); break;
                default: throw new ArgumentException($"Unknown argument '{args[i]}'. Use --steps N, --workers M, --algorithm StreamingDiLoCo|DiLoCo|DataParallel, --report PATH, --no-report, --model PATH.");
            }
        }
        return new CommandLine(steps, workers, algorithm, report, modelPath);
    }
}
