using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using Microsoft.ML.DiLoCo.Tests.EndToEnd;

namespace Microsoft.ML.DiLoCo.Tests.Security;

/// <summary>The model file's HMAC-SHA256 (issue 16, part 3): a reader with the secret refuses a file that was altered.</summary>
[TestClass]
public sealed class ModelSignatureTests
{
    private static readonly Lazy<(MLContext Ml, LanguageModelTransformer Model, DataViewSchema Schema)> Trained = new(() =>
    {
        var ml = new MLContext(seed: 1);
        var text = ml.Data.LoadFromEnumerable(SyntheticText.Documents(12, 6, seed: 1));
        var options = FitTests.SmallOptions();
        options.TrainingSteps = 4;
        return (ml, ml.LanguageModeling().Trainers.StreamingDiLoCo(options).Fit(text), text.Schema);
    });

    private sealed class Folder : IDisposable
    {
        public string Path { get; } = Directory.CreateTempSubdirectory("diloco-signature-").FullName;

        public string Key(string name)
        {
            string file = System.IO.Path.Combine(Path, name);
            File.WriteAllBytes(file, RandomNumberGenerator.GetBytes(32));
            return file;
        }

        public string Save(string? keyFile, string name = "model.zip")
        {
            var (ml, model, schema) = Trained.Value;
            string file = System.IO.Path.Combine(Path, name);
            model.SigningKeyFile = keyFile;
            try { ml.Model.Save(model, schema, file); }
            finally { model.SigningKeyFile = null; }
            return file;
        }

        public void Dispose() => Directory.Delete(Path, recursive: true);
    }

    /// <summary>
    /// Tampers as an attacker with write access would: changes a weight and recomputes every checksum the file carries
    /// (the weights' SHA-256 and the manifest's ModelSha256), so that nothing but the HMAC can tell.
    /// </summary>
    private static void AlterWeights(string file)
    {
        using var zip = ZipFile.Open(file, ZipArchiveMode.Update);
        var weightsEntry = zip.Entries.Single(e => e.FullName.EndsWith("Weights.bin", StringComparison.Ordinal));
        var manifestEntry = zip.Entries.Single(e => e.FullName.EndsWith("Manifest.json", StringComparison.Ordinal));
        byte[] weights = ReadAll(weightsEntry);
        var manifest = System.Text.Json.JsonSerializer.Deserialize<Microsoft.ML.DiLoCo.Persistence.ModelManifest>(ReadAll(manifestEntry), Microsoft.ML.DiLoCo.Persistence.ModelManifest.JsonOptions)!;
        weights[^3] ^= 0x40; // one weight of the last tensor changes
        manifest.WeightsSha256 = Convert.ToHexStringLower(SHA256.HashData(weights));
        manifest.ModelSha256 = manifest.ComputeModelSha256();
        Rewrite(zip, weightsEntry, weights);
        Rewrite(zip, manifestEntry, Encoding.UTF8.GetBytes(manifest.ToJson()));
    }

    private static byte[] ReadAll(ZipArchiveEntry entry)
    {
        using var stream = entry.Open();
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }

    private static void Rewrite(ZipArchive zip, ZipArchiveEntry entry, byte[] bytes)
    {
        string name = entry.FullName;
        entry.Delete();
        using var stream = zip.CreateEntry(name).Open();
        stream.Write(bytes);
    }

    [TestMethod]
    public void ASignedModelLoadsWithItsKeyAndScoresTheSame()
    {
        using var folder = new Folder();
        string key = folder.Key("key");
        string file = folder.Save(key);
        using (var zip = ZipFile.OpenRead(file))
            Assert.IsTrue(zip.Entries.Any(e => e.FullName.EndsWith("Signature.hmac", StringComparison.Ordinal)), "the file carries its signature");
        var loaded = LanguageModelTransformer.Load(file, signingKeyFile: key);
        Assert.AreEqual(Trained.Value.Model.ParameterCount, loaded.ParameterCount);
        Assert.IsNotNull(LanguageModelTransformer.Load(file), "without a key, a signed file loads as today");
        KeyMaterial.AssertAbsent(File.ReadAllBytes(key), [("model file", File.ReadAllBytes(file))]);
    }

    [TestMethod]
    public void AnAlteredFileLoadsWithoutTheKeyButIsRefusedWithIt()
    {
        using var folder = new Folder();
        string key = folder.Key("key");
        string file = folder.Save(key);
        AlterWeights(file);
        Assert.IsNotNull(LanguageModelTransformer.Load(file), "the recomputed checksums hide the change: what the HMAC is for");
        var e = Assert.ThrowsExactly<InvalidDataException>(() => LanguageModelTransformer.Load(file, signingKeyFile: key));
        StringAssert.Contains(e.Message, "signature does not match");
    }

    [TestMethod]
    public void AnUnsignedFileOrAnotherKeyIsRefused()
    {
        using var folder = new Folder();
        string key = folder.Key("key");
        string unsigned = folder.Save(null, "unsigned.zip");
        StringAssert.Contains(Assert.ThrowsExactly<InvalidDataException>(() => LanguageModelTransformer.Load(unsigned, signingKeyFile: key)).Message,
            "carries no Signature.hmac");
        string signed = folder.Save(key, "signed.zip");
        Assert.ThrowsExactly<InvalidDataException>(() => LanguageModelTransformer.Load(signed, signingKeyFile: folder.Key("other")));
    }

    [TestMethod]
    public void MlNetsLoadChecksWithTheKeyInTheEnvironment()
    {
        using var folder = new Folder();
        string key = folder.Key("key");
        string file = folder.Save(key);
        AlterWeights(file);
        string? before = Environment.GetEnvironmentVariable("DILOCO_EXCHANGE_KEY");
        try
        {
            Environment.SetEnvironmentVariable("DILOCO_EXCHANGE_KEY", Convert.ToHexString(File.ReadAllBytes(key)));
            var e = Assert.ThrowsExactly<System.Reflection.TargetInvocationException>(() => new MLContext().Model.Load(file, out _));
            Assert.IsInstanceOfType<InvalidDataException>(e.InnerException);
        }
        finally
        {
            Environment.SetEnvironmentVariable("DILOCO_EXCHANGE_KEY", before);
        }
    }
}
