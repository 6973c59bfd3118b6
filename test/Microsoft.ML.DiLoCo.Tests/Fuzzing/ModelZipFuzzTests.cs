using System.IO.Compression;
using System.Text;
using System.Text.Json;
using Microsoft.ML.DiLoCo.Tests.Checkpointing;
using Microsoft.ML.DiLoCo.Tests.Persistence;

namespace Microsoft.ML.DiLoCo.Tests.Fuzzing;

/// <summary>
/// Mutates a saved tiny model (fixed seed) and loads each with <see cref="LanguageModelTransformer.Load"/>: it must
/// throw <see cref="InvalidDataException"/> or <see cref="FormatException"/> (the documented types), never anything
/// else, never hang; a model that loads anyway must hold the original weights bit for bit, the same architecture,
/// text column and scoring stride, and score exactly as the original (the manifest's ModelSha256 and the weights'
/// SHA-256 guarantee it). Two kinds of mutation: the zip container's bytes (the CRC-32
/// of each entry and the weights' SHA-256 stand guard), and one entry's content rewritten into a well-formed zip (the
/// manifest's JSON edited, the weights or ML.NET's own entries changed), which reaches the readers behind the zip.
/// </summary>
[TestClass]
public sealed class ModelZipFuzzTests
{
    private static readonly TimeSpan TimeCap = TimeSpan.FromSeconds(8);

    private string _directory = "";
    private MLContext _ml = null!;
    private byte[] _zip = [];
    private (string Name, byte[] Bytes)[] _entries = [];
    private SavedModels.Output[] _scores = [];
    private LanguageModelTransformer _original = null!;

    [TestInitialize]
    public void SaveAModel()
    {
        _directory = SavedModels.TempDirectory();
        _ml = new MLContext(seed: 1);
        string path = SavedModels.Save(_ml, SavedModels.Random(), _directory, "original.zip");
        _zip = File.ReadAllBytes(path);
        using (var zip = ZipFile.OpenRead(path))
            _entries = zip.Entries.Select(e => (e.FullName, SavedModels.ReadEntry(path, e.FullName))).ToArray();
        _original = LanguageModelTransformer.Load(path, _ml);
        _scores = SavedModels.Score(_ml, _original);
    }

    [TestCleanup]
    public void DeleteDirectory() => Directory.Delete(_directory, recursive: true);

    [TestMethod]
    [Timeout(600_000, CooperativeCancellation = true)]
    public void MutatedZipContainersFailOnlyWithDocumentedExceptions()
    {
        var random = new Random(11_2026);
        Run(random, (i, r) => (CheckpointReaderFuzzTests.Mutate(_zip, r, out string how), $"container: {how}"), FuzzIterations.Or(1200));
    }

    [TestMethod]
    [Timeout(600_000, CooperativeCancellation = true)]
    public void MutatedEntriesInAWellFormedZipFailOnlyWithDocumentedExceptions()
    {
        var random = new Random(12_2026);
        int manifest = Array.FindIndex(_entries, e => e.Name.EndsWith("Manifest.json", StringComparison.Ordinal));
        Run(random, (i, r) =>
        {
            // Half the edits go to the manifest (the JSON every size and shape comes from), half to the other entries.
            int which = r.Next(2) == 0 ? manifest : r.Next(_entries.Length);
            string how;
            byte[] content;
            if (which == manifest)
            {
                string text = Encoding.UTF8.GetString(_entries[which].Bytes);
                int edits = 1 + r.Next(2);
                var hows = new List<string>();
                for (int e = 0; e < edits && text.Length > 0; e++)
                {
                    text = JsonTextMutation.Mutate(text, r, out string one);
                    hows.Add(one);
                }
                content = Encoding.UTF8.GetBytes(text);
                how = string.Join("; ", hows);
            }
            else
            {
                content = CheckpointReaderFuzzTests.Mutate(_entries[which].Bytes, r, out how);
            }
            return (Rezip(which, content), $"entry {_entries[which].Name}: {how}");
        }, FuzzIterations.Or(600));
    }

    /// <summary>
    /// An edit of the manifest that keeps the parameter layout (the head count: same shapes, other attention) is the
    /// one change the weights' SHA-256 cannot see; the manifest must not load as another model.
    /// </summary>
    [TestMethod]
    public void AHeadCountEditedInTheManifestDoesNotLoadAsAnotherModel()
    {
        int manifest = Array.FindIndex(_entries, e => e.Name.EndsWith("Manifest.json", StringComparison.Ordinal));
        string text = Encoding.UTF8.GetString(_entries[manifest].Bytes);
        StringAssert.Contains(text, "\"NumberOfHeads\": 2");
        foreach (int heads in new[] { 1, 4 })
        {
            string path = Path.Combine(_directory, $"heads{heads}.zip");
            File.WriteAllBytes(path, Rezip(manifest, Encoding.UTF8.GetBytes(text.Replace("\"NumberOfHeads\": 2", $"\"NumberOfHeads\": {heads}", StringComparison.Ordinal))));
            try
            {
                CheckSameModel(LanguageModelTransformer.Load(path, _ml), $"NumberOfHeads = {heads}");
            }
            catch (InvalidDataException e)
            {
                StringAssert.Contains(e.Message, "manifest");
            }
        }
    }

    private void Run(Random random, Func<int, Random, (byte[] Zip, string How)> mutate, int iterations)
    {
        string path = Path.Combine(_directory, "mutated.zip");
        int loaded = 0, refused = 0;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        for (int i = 0; i < iterations && (FuzzIterations.IsLongRun || clock.Elapsed < TimeCap); i++)
        {
            var (bytes, how) = mutate(i, random);
            File.WriteAllBytes(path, bytes);
            LanguageModelTransformer model;
            try
            {
                model = LanguageModelTransformer.Load(path, _ml);
            }
            catch (Exception e) when (e is InvalidDataException or FormatException)
            {
                Assert.IsFalse(string.IsNullOrWhiteSpace(e.Message), $"iteration {i} ({how}): empty message");
                refused++;
                continue;
            }
            catch (Exception e)
            {
                Assert.Fail($"iteration {i} ({how}): {e.GetType().FullName}: {e.Message}\n{e.StackTrace}");
                return;
            }
            loaded++;
            CheckSameModel(model, $"iteration {i} ({how})");
        }
        Assert.IsTrue(refused > 50, $"the mutations reach the checks: {refused} refused, {loaded} loaded");
        Console.WriteLine($"{loaded + refused} mutated zips: {loaded} loaded, {refused} refused");
    }

    /// <summary>A model that loaded despite the mutation: same weights (the SHA-256), same architecture, same scores.</summary>
    private void CheckSameModel(LanguageModelTransformer model, string what)
    {
        var expected = _original.Model.named_parameters().ToArray();
        var actual = model.Model.named_parameters().ToArray();
        Assert.AreEqual(expected.Length, actual.Length, what);
        for (int p = 0; p < expected.Length; p++)
        {
            Assert.AreEqual(expected[p].name, actual[p].name, what);
            CollectionAssert.AreEqual(expected[p].parameter.bytes.ToArray(), actual[p].parameter.bytes.ToArray(), $"{what}: {expected[p].name}");
        }
        Assert.AreEqual(JsonSerializer.Serialize(_original.ModelOptions), JsonSerializer.Serialize(model.ModelOptions), $"{what}: architecture");
        Assert.AreEqual(_original.Tokenizer, model.Tokenizer, what);
        Assert.AreEqual(_original.TextColumnName, model.TextColumnName, what);
        Assert.AreEqual(_original.ScoringStride, model.ScoringStride, what);
        var scores = SavedModels.Score(_ml, model);
        Assert.AreEqual(_scores.Length, scores.Length, what);
        for (int r = 0; r < scores.Length; r++)
        {
            Assert.AreEqual(_scores[r].Loss, scores[r].Loss, $"{what}: row {r}");
            Assert.AreEqual(_scores[r].TokenCount, scores[r].TokenCount, $"{what}: row {r}");
        }
    }

    private byte[] Rezip(int replaced, byte[] content)
    {
        using var stream = new MemoryStream();
        using (var zip = new ZipArchive(stream, ZipArchiveMode.Create, leaveOpen: true))
        {
            for (int e = 0; e < _entries.Length; e++)
            {
                using var entry = zip.CreateEntry(_entries[e].Name).Open();
                entry.Write(e == replaced ? content : _entries[e].Bytes);
            }
        }
        return stream.ToArray();
    }
}
