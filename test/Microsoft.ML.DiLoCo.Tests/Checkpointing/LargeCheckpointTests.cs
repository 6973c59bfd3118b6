using System.Diagnostics;
using Microsoft.ML.DiLoCo.Checkpointing;

namespace Microsoft.ML.DiLoCo.Tests.Checkpointing;

/// <summary>
/// A checkpoint beyond what one byte array holds: a 139M-parameter run (one worker, FP4 with error feedback) whose
/// worker entry is 2.2 GB and whose file is 3.3 GB is written, and the run resumed from it equals the uninterrupted run
/// bit for bit. Slow (4 minutes on 2 busy cores, 6.7 GB of disk, 16 GB peak resident for both runs in one process;
/// docs/reliability.md): skipped unless DILOCO_SLOW_TESTS=1, e.g.
/// <c>DILOCO_SLOW_TESTS=1 /usr/bin/time -v bash build/test.sh --filter "FullyQualifiedName~LargeCheckpointTests" --output detailed</c>.
/// </summary>
[TestClass]
public sealed class LargeCheckpointTests
{
    [TestMethod]
    [TestCategory("Slow")]
    public void ARunWithAWorkerEntryOver2GBCheckpointsAndResumesBitIdentically()
    {
        if (Environment.GetEnvironmentVariable("DILOCO_SLOW_TESTS") != "1")
            Assert.Inconclusive("Slow: set DILOCO_SLOW_TESTS=1 to run.");
        string dir = CheckpointRuns.NewDirectory();
        try
        {
            var o = CheckpointRuns.Options(dir);
            o.Model.EmbeddingSize = 1024;
            o.Model.NumberOfLayers = 11; // 138.8M parameters: a worker entry (θ_m, 2 AdamW moments, residual) of 16 bytes each, 2.2 GB
            o.Model.NumberOfHeads = 8;
            o.NumberOfWorkers = 1;
            o.InnerSteps = 2;
            o.NumberOfFragments = 1; // Δt = 2: steps 2 and 4 are quiescent
            o.BatchSize = 1;
            o.WarmupSteps = 1;
            o.TrainingSteps = 4;
            o.CheckpointInterval = 2;
            o.KeepCheckpoints = 2;

            // The uninterrupted run writes the checkpoints of steps 2 and 4; the one of step 4 is then removed and the run resumed from step 2.
            var timer = Stopwatch.StartNew();
            var log = new List<(double Seconds, string Message)>();
            var (straight, _) = CheckpointRuns.Train(o, onLog: m => { lock (log) log.Add((timer.Elapsed.TotalSeconds, Stamp(m))); });
            double straightSeconds = timer.Elapsed.TotalSeconds;
            var store = new CheckpointStore(dir, 2);
            var files = store.Files().ToArray();
            CollectionAssert.AreEqual(new long[] { 4, 2 }, files.Select(f => f.Step).ToArray());
            long workerEntry;
            using (var entries = CheckpointFile.Read(files[1].Path)) workerEntry = entries.LengthOf("worker/0");
            Assert.IsTrue(workerEntry > int.MaxValue, $"the worker entry is {workerEntry} bytes: more than one byte array holds");
            long fileBytes = new FileInfo(files[1].Path).Length;
            File.Delete(files[0].Path);

            GC.Collect(); // the first run's replicas and buffers: the resumed run starts from what a fresh process holds
            timer.Restart();
            var resumedLog = new List<(double Seconds, string Message)>();
            var (resumed, _) = CheckpointRuns.Train(o, onLog: m => { lock (resumedLog) resumedLog.Add((timer.Elapsed.TotalSeconds, Stamp(m))); });
            double resumedSeconds = timer.Elapsed.TotalSeconds;
            Assert.IsTrue(resumedLog.Any(l => l.Message.Contains("Resuming from") && l.Message.Contains("at step 2 of 4")), string.Join("\n", resumedLog));
            CheckpointRuns.AssertBitIdentical(straight, resumed, "θ̂ after resuming from the 3.3 GB checkpoint");

            Console.WriteLine($"{straight.Length:N0} parameters; checkpoint of step 2: {fileBytes / 1e9:F2} GB (worker entry {workerEntry / 1e9:F2} GB); " +
                              $"uninterrupted run with 2 checkpoints {straightSeconds:F0} s, resumed run {resumedSeconds:F0} s; " +
                              $"peak working set {Process.GetCurrentProcess().PeakWorkingSet64 / 1e9:F1} GB");
            foreach (var (seconds, message) in log.Concat(resumedLog)) Console.WriteLine($"{seconds,8:F1} s  {message}");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    // The message with the process's memory when it was logged: resident set and managed heap.
    private static string Stamp(string message)
    {
        using var self = Process.GetCurrentProcess();
        string line = $"[RSS {self.WorkingSet64 / 1e9:F1} GB, managed {GC.GetTotalMemory(false) / 1e9:F1} GB] {message}";
        Console.Error.WriteLine(line);
        return line;
    }
}
