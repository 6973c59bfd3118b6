using System.Globalization;
using Microsoft.ML.DiLoCo;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace DiLoCo.Cli;

/// <summary>
/// Training progress on the console: step, loss, validation loss of θ̂, tokens/s, bytes sent and ETA. On a terminal a
/// Spectre.Console live progress bar redraws in place and messages print above it; otherwise plain lines, one every
/// 5 % of the steps, so that logs stay short and hold no control characters.
/// </summary>
internal sealed class TrainingProgressDisplay : IProgress<TrainingProgressUpdate>
{
    private readonly TextWriter _output;
    private readonly IAnsiConsole? _live;
    private readonly StatisticsColumn _statistics = new();
    private readonly Lock _lock = new();
    private ProgressTask? _task;
    private long _lastPlainStep;

    public TrainingProgressDisplay(TextWriter output, bool interactive)
    {
        _output = output;
        if (interactive)
            _live = AnsiConsole.Create(new AnsiConsoleSettings
            {
                Out = new AnsiConsoleOutput(output),
                Ansi = AnsiSupport.Yes,
                Interactive = InteractionSupport.Yes,
            });
    }

    /// <summary>Runs <paramref name="training"/> under the live display (terminal) or as is (plain lines).</summary>
    public T Run<T>(Func<T> training)
    {
        if (_live is null) return training();
        return _live.Progress().AutoClear(false).HideCompleted(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn { Width = 16 }, new PercentageColumn(), _statistics)
            .Start(context =>
            {
                lock (_lock) _task = context.AddTask("starting", maxValue: 1);
                try
                {
                    return training();
                }
                finally
                {
                    lock (_lock) _task = null;
                }
            });
    }

    public void Report(TrainingProgressUpdate value)
    {
        lock (_lock)
        {
            if (_task is { } task)
            {
                _statistics.Text = Statistics(value);
                task.MaxValue = Math.Max(1, value.TotalSteps);
                task.Description = string.Create(CultureInfo.InvariantCulture, $"step {value.Step}/{value.TotalSteps}");
                task.Value = value.Step;
                return;
            }
            if (_live is not null) return; // before or after the live display: nothing to draw on
            long every = Math.Max(1, value.TotalSteps / 20);
            if (value.Step % every != 0 && value.Step != value.TotalSteps || value.Step == _lastPlainStep) return;
            _lastPlainStep = value.Step;
            _output.WriteLine(PlainLine(value));
            _output.Flush();
        }
    }

    /// <summary>Prints a message (a validation loss, a resume notice) above the live bar, or as a plain line.</summary>
    public void WriteMessage(string message)
    {
        lock (_lock)
        {
            if (_live is not null) _live.Write(new Text(message + Environment.NewLine));
            else _output.WriteLine(message);
            _output.Flush();
        }
    }

    /// <summary>A plain progress line: <c> 25% step 50/200  loss 2.346  val 2.301  12,346 tok/s  sent 3.0 MiB  ETA 02:30</c>.</summary>
    public static string PlainLine(TrainingProgressUpdate p)
    {
        double fraction = p.TotalSteps == 0 ? 1 : Math.Clamp((double)p.Step / p.TotalSteps, 0, 1);
        return string.Create(CultureInfo.InvariantCulture, $"{fraction * 100,3:F0}% step {p.Step}/{p.TotalSteps}  {Statistics(p)}");
    }

    /// <summary>What the live bar shows beside the step: <c>loss 2.346  val 2.301  12,346 tok/s  sent 3.0 MiB  ETA 02:30</c>.</summary>
    public static string Statistics(TrainingProgressUpdate p)
    {
        string validation = double.IsNaN(p.ValidationLoss) ? "" : string.Create(CultureInfo.InvariantCulture, $"  val {p.ValidationLoss:F3}");
        return string.Create(CultureInfo.InvariantCulture,
            $"loss {p.Loss:F3}{validation}  {p.TokensPerSecond:N0} tok/s  sent {Bytes(p.BytesSent)}  ETA {Duration(p.EstimatedRemaining)}");
    }

    public static string Bytes(long b) => b switch
    {
        >= 1L << 30 => string.Create(CultureInfo.InvariantCulture, $"{b / (double)(1L << 30):F2} GiB"),
        >= 1L << 20 => string.Create(CultureInfo.InvariantCulture, $"{b / (double)(1L << 20):F1} MiB"),
        >= 1L << 10 => string.Create(CultureInfo.InvariantCulture, $"{b / 1024.0:F1} KiB"),
        _ => $"{b} B",
    };

    private static string Duration(TimeSpan t) => t.TotalHours >= 1 ? $"{(int)t.TotalHours}:{t:mm\\:ss}" : t.ToString(@"mm\:ss", CultureInfo.InvariantCulture);

    /// <summary>The live bar's right-hand column: the latest statistics line (Spectre's task state holds only value types).</summary>
    private sealed class StatisticsColumn : ProgressColumn
    {
        private volatile string _text = "";

        public string Text { set => _text = value; }

        public override IRenderable Render(RenderOptions options, ProgressTask task, TimeSpan deltaTime) => new Text(_text);
    }
}
