using System.Globalization;

namespace Microsoft.ML.DiLoCo.Checkpointing;

/// <summary>
/// The checkpoint folder: files "checkpoint-&lt;step, 12 digits&gt;.dlc", the newest K kept. Loading takes the newest file
/// that reads and verifies; a damaged newer one is refused with a logged message. Under MPI the same file is rank 0's
/// manifest, and each rank r writes its workers' part "checkpoint-&lt;step&gt;.rank-&lt;r&gt;.part" beside it
/// (<see cref="RankCheckpoints"/>).
/// </summary>
internal sealed class CheckpointStore
{
    private const string Prefix = "checkpoint-";
    private const string Extension = ".dlc";

    public CheckpointStore(string directory, int keep, CheckpointSignature? signer = null)
    {
        Directory = Path.GetFullPath(directory);
        Keep = keep;
        Signer = signer;
    }

    /// <summary>Signs every file written and requires a valid signature on every file read; null: neither.</summary>
    public CheckpointSignature? Signer { get; }

    public string Directory { get; }

    public int Keep { get; }

    public string PathOf(long step) => Path.Combine(Directory, Prefix + step.ToString("D12", CultureInfo.InvariantCulture) + Extension);

    /// <summary>The file name of rank <paramref name="rank"/>'s part of the MPI checkpoint of <paramref name="step"/>.</summary>
    public static string PartNameOf(long step, int rank) =>
        Prefix + step.ToString("D12", CultureInfo.InvariantCulture) + ".rank-" + rank.ToString(CultureInfo.InvariantCulture) + PartExtension;

    public string PartPathOf(long step, int rank) => Path.Combine(Directory, PartNameOf(step, rank));

    private const string PartExtension = ".part";

    /// <summary>Writes the checkpoint atomically, then deletes all but the newest <see cref="Keep"/> and any leftover temporary files.</summary>
    public string Save(TrainingCheckpoint checkpoint) => SaveEntries(checkpoint.Step, checkpoint.ToEntries());

    /// <summary>Writes the checkpoint file of <paramref name="step"/> (in-process: the whole checkpoint; MPI: the manifest) like <see cref="Save"/>.</summary>
    public string SaveEntries(long step, IReadOnlyList<CheckpointEntry> entries)
    {
        System.IO.Directory.CreateDirectory(Directory);
        string path = PathOf(step);
        byte[] sha256 = CheckpointFile.Write(path, entries); // not inside Signer?.Sign(...): ?. would skip the write when unsigned
        Signer?.Sign(path, sha256);
        foreach (var (_, old) in Files().Skip(Keep)) TryDelete(old);
        foreach (var leftover in System.IO.Directory.EnumerateFiles(Directory, Prefix + "*" + Extension + ".tmp-*")) TryDelete(leftover);
        return path;
    }

    /// <summary>Writes rank <paramref name="rank"/>'s part atomically and returns its file name and SHA-256.</summary>
    public (string Name, byte[] Sha256) SavePart(long step, int rank, IReadOnlyList<CheckpointEntry> entries)
    {
        System.IO.Directory.CreateDirectory(Directory);
        byte[] sha256 = CheckpointFile.Write(PartPathOf(step, rank), entries);
        Signer?.Sign(PartPathOf(step, rank), sha256);
        return (PartNameOf(step, rank), sha256);
    }

    /// <summary>
    /// Deletes rank <paramref name="rank"/>'s parts of steps up to <paramref name="upTo"/> that no kept manifest names, and its
    /// leftover temporary files. Parts of later steps are left alone (a stale later checkpoint is overwritten when training gets there).
    /// </summary>
    public void DeletePartsExcept(int rank, IReadOnlyCollection<long> kept, long upTo)
    {
        foreach (var (step, path) in PartFiles(rank))
            if (step <= upTo && !kept.Contains(step)) TryDelete(path);
        if (!System.IO.Directory.Exists(Directory)) return;
        foreach (var leftover in System.IO.Directory.EnumerateFiles(Directory, Prefix + "*" + PartSuffix(rank) + ".tmp-*")) TryDelete(leftover);
    }

    /// <summary>Rank <paramref name="rank"/>'s part files in the folder, newest first.</summary>
    public IEnumerable<(long Step, string Path)> PartFiles(int rank)
    {
        string suffix = PartSuffix(rank);
        return StepFiles(Prefix + "*" + suffix, suffix.Length);
    }

    private static string PartSuffix(int rank) => ".rank-" + rank.ToString(CultureInfo.InvariantCulture) + PartExtension;

    /// <summary>The newest checkpoint that reads and verifies, or null when the folder holds none.</summary>
    /// <exception cref="InvalidDataException">The folder holds checkpoint files but none of them is valid.</exception>
    public (TrainingCheckpoint Checkpoint, string Path)? LoadNewest(Action<string>? log)
    {
        var files = Files().ToArray();
        var refused = new List<string>();
        foreach (var (_, path) in files)
        {
            try
            {
                var entries = CheckpointFile.Read(path);
                TrainingCheckpoint checkpoint;
                try
                {
                    Signer?.Verify(path, entries.FileSha256);
                    checkpoint = TrainingCheckpoint.FromEntries(entries);
                }
                catch { entries.Dispose(); throw; }
                if (refused.Count > 0) log?.Invoke($"Using the older checkpoint {path}.");
                return (checkpoint, path);
            }
            catch (Exception e) when (e is InvalidDataException or IOException or UnauthorizedAccessException)
            {
                log?.Invoke($"Refused checkpoint {path}: {e.Message}");
                refused.Add($"{Path.GetFileName(path)}: {e.Message}");
            }
        }
        if (refused.Count > 0)
            throw new InvalidDataException($"CheckpointDirectory {Directory} holds {refused.Count} checkpoint files and none is valid ({string.Join("; ", refused)}). " +
                                           "Move them away to start afresh.");
        return null;
    }

    /// <summary>Checkpoint files, newest (highest step) first.</summary>
    public IEnumerable<(long Step, string Path)> Files() => StepFiles(Prefix + "*" + Extension, Extension.Length);

    // Files named Prefix + 12-digit step + a suffix of suffixLength characters, newest first.
    private IEnumerable<(long Step, string Path)> StepFiles(string pattern, int suffixLength)
    {
        if (!System.IO.Directory.Exists(Directory)) return Array.Empty<(long, string)>();
        return System.IO.Directory.EnumerateFiles(Directory, pattern)
            .Select(p => (Name: Path.GetFileName(p), Path: p))
            .Where(f => f.Name.Length == Prefix.Length + 12 + suffixLength)
            .Select(f => (Ok: long.TryParse(f.Name.AsSpan(Prefix.Length, 12), NumberStyles.None, CultureInfo.InvariantCulture, out long step), Step: step, f.Path))
            .Where(f => f.Ok)
            .OrderByDescending(f => f.Step)
            .Select(f => (f.Step, f.Path))
            .ToArray();
    }

    private static void TryDelete(string path)
    {
        try { File.Delete(path); File.Delete(path + CheckpointSignature.Suffix); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
