using System.Diagnostics;
using System.Globalization;
using Microsoft.ML.DiLoCo;

namespace DiLoCo.Cli;

/// <summary>
/// Training progress on the console: step, loss, tokens/s, bytes sent and ETA. On a terminal one line redraws in
/// place (at most every <see cref="RedrawInterval"/>) and messages print above it; otherwise plain lines, one every
/// 5 % of the steps, so that logs stay short.
/// </summary>
internal sealed class ProgressBar : IProgress<TrainingProgressUpdate>
{
    public static readonly TimeSpan RedrawInterval = TimeSpan.FromMilliseconds(100);
    private const int BarWidth = 24;

    private readonly TextWriter _output;
    private readonly bool _interactive;
    private readonly Lock _lock = new();
    private long _lastDrawn = long.MinValue;
    private long _lastPlainStep;
    private int _drawnLength;
    private TrainingProgressUpdate? _latest;

    public ProgressBar(TextWriter output, bool interactive)
    {
        _output = output;
        _interactive = interactive;
    }

    public void Report(TrainingProgressUpdate value)
    {
        lock (_lock)
        {
            _latest = value;
            if (_interactive)
            {
                long now = Stopwatch.GetTimestamp();
                if (value.Step < value.TotalSteps && _lastDrawn != long.MinValue && Stopwatch.GetElapsedTime(_lastDrawn, now) < RedrawInterval) return;
                _lastDrawn = now;
                Redraw(Format(value, withBar: true));
            }
            else
            {
                long every = Math.Max(1, value.TotalSteps / 20);
                if (value.Step % every != 0 && value.Step != value.TotalSteps || value.Step == _lastPlainStep) return;
                _lastPlainStep = value.Step;
                _output.WriteLine(Format(value, withBar: false));
                _output.Flush();
            }
        }
    }

    /// <summary>Prints a message (e.g. a validation loss) without tearing the bar.</summary>
    public void WriteMessage(string message)
    {
        lock (_lock)
        {
            if (_interactive && _drawnLength > 0)
            {
                _output.Write('\r' + new string(' ', _drawnLength) + '\r');
                _output.WriteLine(message);
                if (_latest is { } p) Redraw(Format(p, withBar: true));
            }
            else
            {
                _output.WriteLine(message);
            }
            _output.Flush();
        }
    }

    /// <summary>Ends the bar's line (interactive) so that what follows starts on a new line.</summary>
    public void Complete()
    {
        lock (_lock)
        {
            if (_interactive && _drawnLength > 0) _output.WriteLine();
            _drawnLength = 0;
            _output.Flush();
        }
    }

    /// <summary>One progress line: <c>[#####-----]  42% step 84/200 loss 2.345 12,345 tok/s sent 1.2 MiB ETA 00:01:23</c>.</summary>
    public static string Format(TrainingProgressUpdate p, bool withBar)
    {
        double fraction = p.TotalSteps == 0 ? 1 : Math.Clamp((double)p.Step / p.TotalSteps, 0, 1);
        var c = CultureInfo.InvariantCulture;
        string text = string.Create(c,
            $"{fraction * 100,3:F0}% step {p.Step}/{p.TotalSteps}  loss {p.Loss:F3}  {p.TokensPerSecond:N0} tok/s  sent {Bytes(p.BytesSent)}  ETA {Duration(p.EstimatedRemaining)}");
        if (!withBar) return text;
        int filled = (int)Math.Round(fraction * BarWidth);
        return $"[{new string('#', filled)}{new string('-', BarWidth - filled)}] {text}";
    }

    public static string Bytes(long b) => b switch
    {
        >= 1L << 30 => string.Create(CultureInfo.InvariantCulture, $"{b / (double)(1L << 30):F2} GiB"),
        >= 1L << 20 => string.Create(CultureInfo.InvariantCulture, $"{b / (double)(1L << 20):F1} MiB"),
        >= 1L << 10 => string.Create(CultureInfo.InvariantCulture, $"{b / 1024.0:F1} KiB"),
        _ => $"{b} B",
    };

    private static string Duration(TimeSpan t) => t.TotalHours >= 1 ? $"{(int)t.TotalHours}:{t:mm\\:ss}" : t.ToString(@"mm\:ss", CultureInfo.InvariantCulture);

    private void Redraw(string line)
    {
        // Pad over the previous line's tail: \r returns to the start, it does not clear.
        string padded = line.Length < _drawnLength ? line + new string(' ', _drawnLength - line.Length) : line;
        _output.Write('\r' + padded);
        _output.Flush();
        _drawnLength = line.Length;
    }
}
