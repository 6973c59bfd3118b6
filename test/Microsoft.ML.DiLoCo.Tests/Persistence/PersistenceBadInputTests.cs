using System.IO.Compression;
using System.Text.RegularExpressions;

namespace Microsoft.ML.DiLoCo.Tests.Persistence;

/// <summary>Model files that are missing, truncated, corrupted, newer or inconsistent fail Load with a clear message.</summary>
[TestClass]
public sealed class PersistenceBadInputTests
{
    private string _directory = "";
    private MLContext _ml = null!;
    private string _path = "";

    [TestInitialize]
    public void SaveAModel()
    {
        _directory = SavedModels.TempDirectory();
        _ml = new MLContext(seed: 1);
        _path = SavedModels.Save(_ml, SavedModels.Random(), _directory);
    }

    [TestCleanup]
    public void DeleteDirectory() => Directory.Delete(_directory, recursive: true);

    /// <summary>ML.NET calls our loader by reflection, so Model.Load wraps the error; LanguageModelTransformer.Load does not.</summary>
    private Exception LoadFails()
    {
        var wrapped = Assert.ThrowsExactly<System.Reflection.TargetInvocationException>(() => _ml.Model.Load(_path, out _));
        Assert.IsInstanceOfType<InvalidDataException>(wrapped.InnerException);
        var direct = Assert.ThrowsExactly<InvalidDataException>(() => LanguageModelTransformer.Load(_path));
        Assert.AreEqual(wrapped.InnerException.Message, direct.Message);
        return direct;
    }

    [TestMethod]
    public void TheZipHoldsTheDocumentedEntries()
    {
        using var zip = ZipFile.OpenRead(_path);
        var names = zip.Entries.Select(e => e.FullName).Order(StringComparer.Ordinal).ToArray();
        CollectionAssert.AreEqual(new[] { "Schema", "TrainingInfo/Version.txt", "TransformerChain/Manifest.json", "TransformerChain/Model.key", "TransformerChain/Weights.bin" }, names, string.Join(", ", names));
    }

    [TestMethod]
    public void MissingFile_FailsWithFileNotFound()
    {
        Assert.ThrowsExactly<FileNotFoundException>(() => _ml.Model.Load(Path.Combine(_directory, "nothing.zip"), out _));
        Assert.ThrowsExactly<FileNotFoundException>(() => LanguageModelTransformer.Load(Path.Combine(_directory, "nothing.zip")));
    }

    [TestMethod]
    public void TruncatedZip_FailsWithFormatException()
    {
        var bytes = File.ReadAllBytes(_path);
        File.WriteAllBytes(_path, bytes[..(bytes.Length / 2)]);
        Assert.ThrowsExactly<FormatException>(() => _ml.Model.Load(_path, out _));
        Assert.ThrowsExactly<FormatException>(() => LanguageModelTransformer.Load(_path));
    }

    [TestMethod]
    public void FlippedByteInTheWeights_IsCaughtByTheChecksum()
    {
        SavedModels.EditEntry(_path, "Weights.bin", bytes => { bytes[bytes.Length / 3] ^= 0x10; return bytes; });
        StringAssert.Contains(LoadFails().Message, "SHA-256");
    }

    [TestMethod]
    public void TruncatedWeightsEntry_FailsBeforeTheModelIsAllocated()
    {
        SavedModels.EditEntry(_path, "Weights.bin", bytes => bytes[..(bytes.Length - 100)]);
        StringAssert.Contains(LoadFails().Message, "truncated");
    }

    [TestMethod]
    public void MissingWeightsEntry_IsNamed()
    {
        using (var zip = ZipFile.Open(_path, ZipArchiveMode.Update))
            zip.Entries.Single(e => e.FullName.EndsWith("Weights.bin", StringComparison.Ordinal)).Delete();
        StringAssert.Contains(LoadFails().Message, "no Weights.bin entry");
    }

    [TestMethod]
    public void NewerFormatVersion_AsksForANewerLibrary()
    {
        // Our main stream follows ML.NET's header in TransformerChain/Model.key: its first int32 is the format version (1).
        SavedModels.EditEntry(_path, "TransformerChain/Model.key", bytes =>
        {
            int at = FindFormatVersion(bytes);
            BitConverter.GetBytes(2).CopyTo(bytes, at);
            return bytes;
        });
        StringAssert.Contains(LoadFails().Message, "format version 2");
    }

    [TestMethod]
    public void NewerFormatVersionInTheManifest_AsksForANewerLibrary()
    {
        SavedModels.EditManifest(_path, json => json.Replace("\"FormatVersion\": 1", "\"FormatVersion\": 2"));
        StringAssert.Contains(LoadFails().Message, "FormatVersion 2 differs");
    }

    [TestMethod]
    public void TensorShapeThatDoesNotMatchTheArchitecture_IsNamed()
    {
        SavedModels.EditManifest(_path, json => Regex.Replace(json,
            "(\"Name\": \"blocks.1.mlp.up.weight\",\\s*\"Shape\": \\[\\s*)128", "${1}127"));
        StringAssert.Contains(LoadFails().Message, "blocks.1.mlp.up.weight");
    }

    [TestMethod]
    [DataRow(4096, "token_embedding.weight")]
    [DataRow(1073741824, "more parameters than a model can hold")]
    public void LargerArchitectureThanTheTensors_FailsWithoutAllocating(int embeddingSize, string message)
    {
        SavedModels.EditManifest(_path, json => json.Replace("\"EmbeddingSize\": 32", $"\"EmbeddingSize\": {embeddingSize}"));
        StringAssert.Contains(LoadFails().Message, message);
    }

    [TestMethod]
    public void UnknownTokenizer_IsNamed()
    {
        SavedModels.EditManifest(_path, json => json.Replace("\"Tokenizer\": \"Bytes\"", "\"Tokenizer\": \"Klingon\""));
        StringAssert.Contains(LoadFails().Message, "unknown tokenizer 'Klingon'");
    }

    [TestMethod]
    public void InvalidArchitecture_IsNamed()
    {
        SavedModels.EditManifest(_path, json => json.Replace("\"NumberOfHeads\": 2", "\"NumberOfHeads\": 3"));
        StringAssert.Contains(LoadFails().Message, "Architecture.NumberOfHeads");
    }

    [TestMethod]
    public void ManifestThatIsNotJson_FailsWithInvalidData()
    {
        SavedModels.EditManifest(_path, json => json[..(json.Length / 2)]);
        StringAssert.Contains(LoadFails().Message, "Manifest.json");
    }

    private static int FindFormatVersion(byte[] modelKey)
    {
        // ML.NET's header says where the model data starts: FpModel is the int64 at offset 16 of its header.
        long fpModel = BitConverter.ToInt64(modelKey, 16);
        Assert.AreEqual(1, BitConverter.ToInt32(modelKey, (int)fpModel), "the format version sits at the start of the model data");
        return (int)fpModel;
    }
}
