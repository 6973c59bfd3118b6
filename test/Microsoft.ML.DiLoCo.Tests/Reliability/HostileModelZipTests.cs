using System.IO.Compression;
using Microsoft.ML.DiLoCo.Tests.Persistence;

namespace Microsoft.ML.DiLoCo.Tests.Reliability;

/// <summary>
/// Zip entry names are never paths: ML.NET 5.0.1's RepositoryReader keys entries by name and extracts only the
/// entries its loaders ask for by fixed names, each to a temporary file with a random name inside its own temporary
/// folder; this library reads only its own two entries through it.
/// </summary>
[TestClass]
public sealed class HostileModelZipTests
{
    [TestMethod]
    public void EntriesNamedOutsideTheFolderAreNeverWrittenAndTheModelLoads()
    {
        string root = SavedModels.TempDirectory();
        string deep = Directory.CreateDirectory(Path.Combine(root, "a", "b", "c")).FullName;
        string temp = Directory.CreateDirectory(Path.Combine(root, "mltemp", "x")).FullName;
        string tag = Guid.NewGuid().ToString("N");
        string absolute = Path.Combine(Path.GetTempPath(), $"evil-{tag}-absolute.txt");
        var ml = new MLContext(seed: 1) { TempFilePath = temp };
        var model = SavedModels.Random();
        string path = SavedModels.Save(ml, model, deep);
        string[] hostileNames =
        [
            $"../../evil-{tag}.txt",
            $"../../../../../../../../../../../../evil-{tag}-far.txt",
            absolute,
            $"..\\..\\evil-{tag}-backslash.txt",
            $"TransformerChain/../../evil-{tag}-nested.txt",
        ];
        using (var zip = ZipFile.Open(path, ZipArchiveMode.Update))
        {
            foreach (string name in hostileNames)
            {
                using var writer = new StreamWriter(zip.CreateEntry(name).Open());
                writer.Write("should never be written to disk");
            }
        }
        using (var zip = ZipFile.OpenRead(path))
            CollectionAssert.IsSubsetOf(hostileNames, zip.Entries.Select(e => e.FullName).ToArray(), "the zip really holds the hostile names");

        var expected = SavedModels.Score(ml, model);
        var loaded = LanguageModelTransformer.Load(path, ml);
        var viaMlNet = ml.Model.Load(path, out _);
        foreach (var scores in new[] { SavedModels.Score(ml, loaded), SavedModels.Score(ml, viaMlNet) })
            for (int i = 0; i < expected.Length; i++)
            {
                Assert.AreEqual(expected[i].TokenCount, scores[i].TokenCount);
                Assert.AreEqual(BitConverter.SingleToInt32Bits(expected[i].Loss), BitConverter.SingleToInt32Bits(scores[i].Loss));
            }

        var found = Directory.EnumerateFiles(root, $"*{tag}*", SearchOption.AllDirectories)
            .Concat(Directory.EnumerateFiles(Path.GetTempPath(), $"*{tag}*"))
            .Concat(Directory.EnumerateFiles(Directory.GetCurrentDirectory(), $"*{tag}*"))
            .Concat(Directory.EnumerateFiles("/", $"*{tag}*"))
            .ToArray();
        Assert.AreEqual(0, found.Length, string.Join(", ", found));
        Assert.IsFalse(File.Exists(absolute));
        Assert.AreEqual(0, Directory.EnumerateFileSystemEntries(temp).Count(), "ML.NET removed its temporary folder");
    }

    [TestMethod]
    public void OurEntryRenamedWithATraversalIsNotFoundAndTheLoadIsRefused()
    {
        string root = SavedModels.TempDirectory();
        var ml = new MLContext(seed: 1);
        string path = SavedModels.Save(ml, SavedModels.Random(), root);
        using (var zip = ZipFile.Open(path, ZipArchiveMode.Update))
        {
            var manifest = zip.Entries.Single(e => e.FullName == "TransformerChain/Manifest.json");
            byte[] bytes;
            using (var stream = manifest.Open()) using (var copy = new MemoryStream()) { stream.CopyTo(copy); bytes = copy.ToArray(); }
            manifest.Delete();
            using var renamed = zip.CreateEntry("TransformerChain/../TransformerChain/Manifest.json").Open();
            renamed.Write(bytes);
        }

        var e = Assert.ThrowsExactly<InvalidDataException>(() => LanguageModelTransformer.Load(path, ml));
        StringAssert.Contains(e.Message, "no Manifest.json entry");
    }
}
