using System.Reflection;
using Microsoft.ML.Runtime;

namespace Microsoft.ML.DiLoCo;

public sealed partial class StreamingDiLoCoTrainer
{
    /// <summary>
    /// <c>mlContext.CancelExecution()</c> as the cancellation token the engine reads: a token linked to
    /// <see cref="Options.CancellationToken"/> that is also cancelled once the MLContext is, so both stop training the same
    /// way (between two steps; with <see cref="Options.CheckpointDirectory"/>, at the next step with no exchange in flight,
    /// after writing a checkpoint). ML.NET exposes only a flag (<c>ICancelable.IsCanceled</c>, internal to
    /// Microsoft.ML.Core, read by reflection like the save/load members in Persistence/MLNetModelContext.cs). It is read
    /// after every step's progress report, the moment the engine looks at the token next, so a context cancelled there
    /// stops at the very step a token cancelled there would; and every 50 ms by a timer, for MPI ranks other than 0,
    /// which get no progress reports.
    /// </summary>
    private sealed class ContextCancellation : IDisposable
    {
        private static readonly PropertyInfo? IsCanceledProperty =
            typeof(IHostEnvironment).Assembly.GetType("Microsoft.ML.Runtime.ICancelable")?.GetProperty("IsCanceled");

        private readonly object[] _environments;
        private readonly CancellationTokenSource _linked;
        private readonly Timer _timer;
        private readonly Lock _gate = new(); // the timer may fire while Fit disposes this
        private bool _disposed;

        /// <param name="environments">The MLContext (or host) the trainer was made with and its own host: either may carry the flag.</param>
        /// <param name="token">The options' token.</param>
        public ContextCancellation(object[] environments, CancellationToken token)
        {
            if (IsCanceledProperty is null)
                throw new InvalidOperationException($"Microsoft.ML.Core {typeof(IHostEnvironment).Assembly.GetName().Version} lacks 'ICancelable.IsCanceled', which mlContext.CancelExecution() support needs; Microsoft.ML.DiLoCo is built against Microsoft.ML 5.0.1.");
            _environments = environments;
            _linked = CancellationTokenSource.CreateLinkedTokenSource(token);
            Poll(); // cancelled before Fit: stop as a token cancelled before Fit does
            _timer = new Timer(_ => Poll(), null, TimeSpan.FromMilliseconds(50), TimeSpan.FromMilliseconds(50));
        }

        public CancellationToken Token => _linked.Token;

        /// <summary>Cancels <see cref="Token"/> if the MLContext has been cancelled.</summary>
        public void Poll()
        {
            lock (_gate)
            {
                if (_disposed || _linked.IsCancellationRequested) return;
                if (_environments.Any(e => IsCanceledProperty!.DeclaringType!.IsInstanceOfType(e) && (bool)IsCanceledProperty.GetValue(e)!))
                    _linked.Cancel();
            }
        }

        public void Dispose()
        {
            lock (_gate)
            {
                if (_disposed) return;
                _disposed = true;
            }
            _timer.Dispose();
            _linked.Dispose();
        }
    }
}
