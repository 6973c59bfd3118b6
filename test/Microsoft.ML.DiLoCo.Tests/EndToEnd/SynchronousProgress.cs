namespace Microsoft.ML.DiLoCo.Tests.EndToEnd;

/// <summary>Reports on the training thread (Progress&lt;T&gt; would post to the thread pool, later).</summary>
internal sealed class SynchronousProgress(Action<TrainingProgressUpdate> report) : IProgress<TrainingProgressUpdate>
{
    public void Report(TrainingProgressUpdate value) => report(value);
}
