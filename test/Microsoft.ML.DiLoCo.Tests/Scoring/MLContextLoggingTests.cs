using Microsoft.ML.Runtime;

namespace Microsoft.ML.DiLoCo.Tests.Scoring;

/// <summary>
/// Pins what an assembly outside ML.NET can do with MLContext's logging in Microsoft.ML 5.0.1: messages sent
/// through IHostEnvironment.Register → IHost.Start → IChannel reach MLContext.Log; progress channels are
/// accepted but kept in an internal tracker that no public API reads, so nothing reaches the Log.
/// </summary>
[TestClass]
public sealed class MLContextLoggingTests
{
    [TestMethod]
    public void ChannelMessagesReachTheLogEventAndProgressDoesNot()
    {
        var ml = new MLContext(seed: 1);
        var messages = new List<LoggingEventArgs>();
        ml.Log += (_, e) => { lock (messages) messages.Add(e); };

        IHost host = ((IHostEnvironment)ml).Register("DiLoCo");
        using (IChannel channel = host.Start("Training"))
        {
            // The convenience overloads without MessageSensitivity are internal (HostExtensions).
            channel.Info(MessageSensitivity.None, "step {0} loss {1:F2}", 10, 2.5);
            channel.Warning(MessageSensitivity.None, "slow link");
        }
        int before;
        lock (messages) before = messages.Count;

        using (IProgressChannel progress = host.StartProgressChannel("Training"))
        {
            int step = 0;
            double loss = 5;
            progress.SetHeader(new ProgressHeader(["loss"], ["step"]), entry =>
            {
                entry.SetProgress(0, step, 3);
                entry.SetMetric(0, loss);
            });
            for (; step < 3; step++)
                progress.Checkpoint(loss -= 0.5, step);
        }

        lock (messages)
        {
            var info = messages.Single(m => m.Kind == ChannelMessageKind.Info);
            Assert.AreEqual("step 10 loss 2.50", info.RawMessage);
            Assert.AreEqual("DiLoCo; Training", info.Source);
            Assert.AreEqual("slow link", messages.Single(m => m.Kind == ChannelMessageKind.Warning).RawMessage);
            Assert.HasCount(before, messages, "progress checkpoints do not reach MLContext.Log");
        }
    }
}
