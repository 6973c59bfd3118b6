using System.Text.Json;

namespace Microsoft.ML.DiLoCo.Tests.Persistence;

/// <summary>Export and import of the outer parameters as safetensors under the documented names.</summary>
[TestClass]
public sealed class SafetensorsInterchangeTests
{
    private string _directory = "";

    [TestInitialize]
    public void CreateDirectory() => _directory = SavedModels.TempDirectory();

    [TestCleanup]
    public void DeleteDirectory() => Directory.Delete(_directory, recursive: true);

    [TestMethod]
    [DataRow(PositionEncoding.Learned, true)]
    [DataRow(PositionEncoding.Rotary, false)]
    public void RoundTrip_GivesTheSameParametersAndScores(PositionEncoding positions, bool tied)
    {
        var ml = new MLContext(seed: 1);
        var model = SavedModels.Random(positions, tied);
        string path = Path.Combine(_directory, "lm.safetensors");
        model.ExportSafetensors(path);

        var imported = LanguageModelTransformer.ImportSafetensors(path, model.ModelOptions, TokenizerKind.Bytes);
        var before = model.Model.named_parameters().ToList();
        var after = imported.Model.named_parameters().ToList();
        CollectionAssert.AreEqual(before.Select(p => p.name).ToArray(), after.Select(p => p.name).ToArray());
        for (int i = 0; i < before.Count; i++)
            Assert.IsTrue(before[i].parameter.eq(after[i].parameter).all().item<bool>(), before[i].name);
        var expected = SavedModels.Score(ml, model);
        var actual = SavedModels.Score(ml, imported);
        CollectionAssert.AreEqual(expected.Select(r => r.Loss).ToArray(), actual.Select(r => r.Loss).ToArray());
    }

    [TestMethod]
    public void File_IsPlainSafetensors_WithTheDocumentedNames()
    {
        var model = SavedModels.Random(PositionEncoding.Learned, tied: false);
        string path = Path.Combine(_directory, "lm.safetensors");
        model.ExportSafetensors(path);

        // Read it the way any safetensors reader does: u64 header length, JSON header, raw little-endian data.
        byte[] file = File.ReadAllBytes(path);
        long headerLength = BitConverter.ToInt64(file, 0);
        using var header = JsonDocument.Parse(file.AsMemory(8, (int)headerLength));
        var names = header.RootElement.EnumerateObject().Select(p => p.Name).Where(n => n != "__metadata__").Order(StringComparer.Ordinal).ToArray();
        CollectionAssert.AreEqual(model.Model.named_parameters().Select(p => p.name).Order(StringComparer.Ordinal).ToArray(), names);
        var head = header.RootElement.GetProperty("head.weight");
        Assert.AreEqual("F32", head.GetProperty("dtype").GetString());
        CollectionAssert.AreEqual(new long[] { 257, 32 }, head.GetProperty("shape").EnumerateArray().Select(e => e.GetInt64()).ToArray());
        long begin = head.GetProperty("data_offsets")[0].GetInt64();
        float first = BitConverter.ToSingle(file, (int)(8 + headerLength + begin));
        Assert.AreEqual(model.Model.named_parameters().Single(p => p.name == "head.weight").parameter[0, 0].item<float>(), first);
    }

    [TestMethod]
    public void Import_WithAnotherArchitecture_NamesTheMismatch()
    {
        var model = SavedModels.Random();
        string path = Path.Combine(_directory, "lm.safetensors");
        model.ExportSafetensors(path);

        var wider = model.ModelOptions;
        wider.MlpRatio = 2;
        StringAssert.Contains(Assert.ThrowsExactly<InvalidDataException>(() => LanguageModelTransformer.ImportSafetensors(path, wider)).Message, "mlp.up.weight");
        var untied = model.ModelOptions;
        untied.TiedEmbeddings = false;
        StringAssert.Contains(Assert.ThrowsExactly<InvalidDataException>(() => LanguageModelTransformer.ImportSafetensors(path, untied)).Message, "head.weight");
        File.WriteAllBytes(path, File.ReadAllBytes(path)[..1000]);
        Assert.ThrowsExactly<InvalidDataException>(() => LanguageModelTransformer.ImportSafetensors(path, model.ModelOptions));
    }
}
