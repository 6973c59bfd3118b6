using System.IO.Compression;
using Microsoft.ML.DiLoCo.Model;
using Microsoft.ML.DiLoCo.Tokenization;
using static TorchSharp.torch;

namespace Microsoft.ML.DiLoCo.Tests.Persistence;

/// <summary>Small models, their saved zips, and edits of those zips for the persistence tests.</summary>
internal static class SavedModels
{
    public sealed class Input
    {
        public string Text { get; set; } = "";
    }

    public sealed class Output
    {
        public string Text { get; set; } = "";
        public float Loss { get; set; }
        public float Perplexity { get; set; }
        public int TokenCount { get; set; }
    }

    public static readonly string[] Texts =
    [
        "the cat sees the moon.",
        "",
        "   ",
        "a dog follows the river, and the old king paints a small house; our teacher finds some bread. " +
        "Longer than the context: the scorer slides its window over every token once.",
    ];

    /// <summary>A randomly initialised (seeded) byte-level model.</summary>
    public static LanguageModelTransformer Random(PositionEncoding positions = PositionEncoding.Learned, bool tied = true, int seed = 5)
    {
        manual_seed(seed);
        var options = new TransformerOptions
        {
            ContextLength = 16, EmbeddingSize = 32, NumberOfLayers = 2, NumberOfHeads = 2,
            PositionEncoding = positions, TiedEmbeddings = tied,
        };
        var tokenizer = LanguageModelTokenizer.Create(TokenizerKind.Bytes);
        return new LanguageModelTransformer(new TransformerLanguageModel(options, tokenizer.VocabularySize), tokenizer, "Text", report: null);
    }

    public static IDataView Data(MLContext ml) => ml.Data.LoadFromEnumerable(Texts.Select(t => new Input { Text = t }));

    public static string Save(MLContext ml, ITransformer model, string directory, string name = "lm.zip")
    {
        string path = Path.Combine(directory, name);
        ml.Model.Save(model, Data(ml).Schema, path);
        return path;
    }

    public static Output[] Score(MLContext ml, ITransformer model) =>
        ml.Data.CreateEnumerable<Output>(model.Transform(Data(ml)), reuseRowObject: false).ToArray();

    /// <summary>Rewrites the zip entry whose name ends with <paramref name="suffix"/>.</summary>
    public static void EditEntry(string zipPath, string suffix, Func<byte[], byte[]> edit)
    {
        using var zip = ZipFile.Open(zipPath, ZipArchiveMode.Update);
        var entry = zip.Entries.Single(e => e.FullName.EndsWith(suffix, StringComparison.Ordinal));
        byte[] bytes;
        using (var stream = entry.Open())
        using (var copy = new MemoryStream())
        {
            stream.CopyTo(copy);
            bytes = copy.ToArray();
        }
        string name = entry.FullName;
        entry.Delete();
        using var rewritten = zip.CreateEntry(name).Open();
        rewritten.Write(edit(bytes));
    }

    public static void EditManifest(string zipPath, Func<string, string> edit) =>
        EditEntry(zipPath, "Manifest.json", bytes => System.Text.Encoding.UTF8.GetBytes(edit(System.Text.Encoding.UTF8.GetString(bytes))));

    public static byte[] ReadEntry(string zipPath, string suffix)
    {
        using var zip = ZipFile.OpenRead(zipPath);
        using var stream = zip.Entries.Single(e => e.FullName.EndsWith(suffix, StringComparison.Ordinal)).Open();
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }

    public static string TempDirectory()
    {
        string path = Path.Combine(Path.GetTempPath(), "diloco-persist-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(path);
        return path;
    }
}
