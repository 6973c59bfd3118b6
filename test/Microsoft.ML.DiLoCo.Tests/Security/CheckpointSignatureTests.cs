using System.Security.Cryptography;
using Microsoft.ML.DiLoCo.Tests.Checkpointing;

namespace Microsoft.ML.DiLoCo.Tests.Security;

/// <summary>Signed checkpoints (issue 16, part 3): with ExchangeSecurity = Encrypted every checkpoint carries an HMAC of the run's secret.</summary>
[TestClass]
public sealed class CheckpointSignatureTests
{
    private static StreamingDiLoCoTrainer.Options Encrypted(string checkpoints, string keyFile)
    {
        var o = CheckpointRuns.Options(checkpoints);
        o.ExchangeSecurity = ExchangeSecurity.Encrypted;
        o.ExchangeKeyFile = keyFile;
        o.KeepCheckpoints = 3;
        return o;
    }

    [TestMethod]
    public void ACheckpointSignedWithAnotherKeyOrUnsignedIsRefusedAndTheOlderOneIsUsed()
    {
        string directory = CheckpointRuns.NewDirectory();
        try
        {
            string keyA = Path.Combine(directory, "a.key"), keyB = Path.Combine(directory, "b.key");
            File.WriteAllBytes(keyA, RandomNumberGenerator.GetBytes(32));
            File.WriteAllBytes(keyB, RandomNumberGenerator.GetBytes(32));
            string runA = Path.Combine(directory, "a"), runB = Path.Combine(directory, "b");
            var (expected, _) = CheckpointRuns.Train(Encrypted(runA, keyA));
            CheckpointRuns.Train(Encrypted(runB, keyB));
            var files = Directory.GetFiles(runA, "checkpoint-*.dlc").Order(StringComparer.Ordinal).ToArray();
            Assert.AreEqual(3, files.Length);
            foreach (var f in files) Assert.IsTrue(File.Exists(f + ".hmac"), $"{f} is signed");

            // The newest file replaced by one with valid checksums and a signature, but under another key (a forged checkpoint).
            string newest = files[^1];
            File.Copy(Path.Combine(runB, Path.GetFileName(newest)), newest, overwrite: true);
            File.Copy(Path.Combine(runB, Path.GetFileName(newest)) + ".hmac", newest + ".hmac", overwrite: true);
            var log = new List<string>();
            var (resumed, _) = CheckpointRuns.Train(Encrypted(runA, keyA), log);
            Assert.IsTrue(log.Any(l => l.Contains("Refused checkpoint") && l.Contains("does not match its signature")), string.Join("\n", log));
            CheckpointRuns.AssertBitIdentical(expected, resumed, "resumed from the older, valid checkpoint");

            // Without its signature, a checkpoint is refused too.
            foreach (var f in Directory.GetFiles(runA, "checkpoint-*.dlc.hmac")) File.Delete(f);
            var refused = Assert.ThrowsExactly<InvalidDataException>(() => CheckpointRuns.Train(Encrypted(runA, keyA)));
            StringAssert.Contains(refused.Message, "has no signature");
        }
        finally { Directory.Delete(directory, recursive: true); }
    }

    [TestMethod]
    public void ARenamedSignedCheckpointIsRefused()
    {
        string directory = CheckpointRuns.NewDirectory();
        try
        {
            string key = Path.Combine(directory, "key");
            File.WriteAllBytes(key, RandomNumberGenerator.GetBytes(32));
            string run = Path.Combine(directory, "run");
            CheckpointRuns.Train(Encrypted(run, key));
            var files = Directory.GetFiles(run, "checkpoint-*.dlc").Order(StringComparer.Ordinal).ToArray();
            // An older checkpoint with its own signature, passed off as the newest.
            File.Copy(files[0], files[^1], overwrite: true);
            File.Copy(files[0] + ".hmac", files[^1] + ".hmac", overwrite: true);
            var log = new List<string>();
            CheckpointRuns.Train(Encrypted(run, key), log);
            Assert.IsTrue(log.Any(l => l.Contains("Refused checkpoint " + files[^1]) && l.Contains("altered or renamed")), string.Join("\n", log));
        }
        finally { Directory.Delete(directory, recursive: true); }
    }
}
