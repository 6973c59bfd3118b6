using Microsoft.ML.DiLoCo.Checkpointing;
using Microsoft.ML.DiLoCo.Tests.Checkpointing;

namespace Microsoft.ML.DiLoCo.Tests.Reliability;

/// <summary>Checkpoint folders that hold nothing usable, and checkpoints that parse but do not fit the model.</summary>
[TestClass]
public sealed class HostileCheckpointTests
{
    private static StreamingDiLoCoTrainer.Options ShortRun(string directory, int embedding = 16, int layers = 2)
    {
        var o = CheckpointRuns.Options(directory);
        o.TrainingSteps = 8;
        o.Model.EmbeddingSize = embedding;
        o.Model.NumberOfLayers = layers;
        return o;
    }

    private static Dictionary<string, (long Length, DateTime Written)> Snapshot(string directory) =>
        Directory.EnumerateFiles(directory).ToDictionary(p => Path.GetFileName(p), p => (new FileInfo(p).Length, File.GetLastWriteTimeUtc(p)));

    [TestMethod]
    public void AFolderOfOnlyInvalidCheckpointsIsRefusedListingThemAndLeftAsItIs()
    {
        string dir = CheckpointRuns.NewDirectory();
        CheckpointRuns.Train(ShortRun(dir));
        var files = new CheckpointStore(dir, 2).Files().ToArray();
        Assert.AreEqual(2, files.Length, "steps 8 and 4");
        using (var s = File.Open(files[0].Path, FileMode.Open)) s.SetLength(s.Length - 1);         // truncated
        var bytes = File.ReadAllBytes(files[1].Path);
        bytes[bytes.Length / 3] ^= 0x01;                                                            // one bit flipped
        File.WriteAllBytes(files[1].Path, bytes);
        var before = Snapshot(dir);

        var log = new List<string>();
        var e = Assert.ThrowsExactly<InvalidDataException>(() => CheckpointRuns.Train(ShortRun(dir), log));
        foreach (var (_, path) in files) StringAssert.Contains(e.Message, Path.GetFileName(path));
        StringAssert.Contains(e.Message, "none is valid");
        Assert.AreEqual(2, log.Count(l => l.StartsWith("Refused checkpoint")), string.Join("\n", log));
        CollectionAssert.AreEquivalent(before.ToArray(), Snapshot(dir).ToArray(), "no file written, deleted or changed: no silent restart over them");
    }

    [TestMethod]
    public void ACheckpointOfAnotherModelShapeIsRefusedNamingTheSettingOrTheTensor()
    {
        // A checkpoint of a 16-wide model, and the fingerprint of a 24-wide (or 3-layer) run.
        string small = CheckpointRuns.NewDirectory();
        CheckpointRuns.Train(ShortRun(small));
        string smallest = new CheckpointStore(small, 2).Files().Last().Path; // step 4
        var checkpoint = TrainingCheckpoint.FromEntries(CheckpointFile.Read(smallest));

        // As written: the fingerprint differs, so Fit names the setting.
        string wide = CheckpointRuns.NewDirectory();
        File.Copy(smallest, Path.Combine(wide, Path.GetFileName(smallest)));
        var named = Assert.ThrowsExactly<ArgumentException>(() => CheckpointRuns.Train(ShortRun(wide, embedding: 24)));
        Assert.AreEqual(nameof(StreamingDiLoCoTrainer.Options.CheckpointDirectory), named.ParamName);
        StringAssert.Contains(named.Message, "EmbeddingSize");

        foreach (var (embedding, layers, expected) in new[] { (24, 2, "has shape ["), (16, 3, "global parameters but the model has") })
        {
            // Crafted: the other run's own fingerprint on the small model's tensors.
            string other = CheckpointRuns.NewDirectory();
            var fingerprintSource = ShortRun(other, embedding, layers);
            fingerprintSource.TrainingSteps = 8;
            using (var cancel = new CancellationTokenSource())
            {
                fingerprintSource.CancellationToken = cancel.Token;
                Assert.ThrowsExactly<OperationCanceledException>(() => CheckpointRuns.Train(fingerprintSource, afterStep: _ => cancel.Cancel()));
            }
            var genuine = TrainingCheckpoint.FromEntries(CheckpointFile.Read(new CheckpointStore(other, 2).Files().First().Path));
            foreach (var file in Directory.EnumerateFiles(other)) File.Delete(file);
            var crafted = new TrainingCheckpoint
            {
                Fingerprint = genuine.Fingerprint, Seed = checkpoint.Seed, Step = checkpoint.Step, TrainingSteps = checkpoint.TrainingSteps,
                Shared = checkpoint.Shared, Workers = checkpoint.Workers, Validation = checkpoint.Validation,
            };
            string craftedPath = Path.Combine(other, Path.GetFileName(smallest));
            CheckpointFile.Write(craftedPath, crafted.ToEntries());
            var before = Snapshot(other);

            var refused = Assert.ThrowsExactly<InvalidDataException>(() => CheckpointRuns.Train(ShortRun(other, embedding, layers)));
            StringAssert.Contains(refused.Message, expected);
            StringAssert.Contains(refused.Message, "global parameter");
            CollectionAssert.AreEquivalent(before.ToArray(), Snapshot(other).ToArray(), "nothing written over the refused checkpoint");
        }
    }
}
