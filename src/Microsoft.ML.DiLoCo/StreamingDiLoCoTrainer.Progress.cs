namespace Microsoft.ML.DiLoCo;

public sealed partial class StreamingDiLoCoTrainer
{
    public sealed partial class Options
    {
        /// <summary>
        /// Receives a snapshot after every inner step (taken on worker 0's thread: keep the handler short).
        /// ML.NET's progress channel has no public reader, so progress bars listen here; <c>ml.Log</c> also gets
        /// a progress line every 5 % of the steps. Default null.
        /// </summary>
        public IProgress<TrainingProgressUpdate>? Progress;
    }
}
