using System.Security.Cryptography;
using System.Text;

namespace Microsoft.ML.DiLoCo.Checkpointing;

/// <summary>
/// The container of one checkpoint: named entries, each with its length and SHA-256, written atomically.
/// Layout (little-endian): 8-byte magic "DLCKPT01", int32 format version, int32 entry count, then per entry
/// int32 name length, UTF-8 name, int64 payload length, 32-byte SHA-256 of the payload, payload; then the
/// 8-byte end marker "DLCKEND!". Every length is checked against what the file can still hold before anything
/// is allocated, and every failure is an <see cref="InvalidDataException"/>.
/// </summary>
internal static class CheckpointFile
{
    public const int FormatVersion = 1;
    public const int MaximumEntries = 4096;
    public const int MaximumNameBytes = 256;
    private static readonly byte[] Magic = "DLCKPT01"u8.ToArray();
    private static readonly byte[] EndMarker = "DLCKEND!"u8.ToArray();

    /// <summary>Writes the entries to <paramref name="path"/>: temporary file in the same folder, flush to disk, rename.</summary>
    /// <returns>The SHA-256 of the file's bytes (an MPI manifest names each rank's part file with it).</returns>
    public static byte[] Write(string path, IReadOnlyList<KeyValuePair<string, byte[]>> entries)
    {
        if (entries.Count > MaximumEntries) throw new ArgumentException($"At most {MaximumEntries} entries.", nameof(entries));
        string temporary = path + ".tmp-" + Guid.NewGuid().ToString("N");
        try
        {
            byte[] hash;
            using (var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            {
                using var sha = SHA256.Create();
                // A hash algorithm's transform copies its input: the file gets the bytes unchanged and the hash sees them.
                using (var hashing = new CryptoStream(stream, sha, CryptoStreamMode.Write, leaveOpen: true))
                    Write(hashing, entries);
                hash = sha.Hash!;
                stream.Flush(flushToDisk: true); // the bytes are on disk before the name appears
            }
            File.Move(temporary, path, overwrite: true); // atomic on one file system: readers see all or nothing
            return hash;
        }
        catch
        {
            try { File.Delete(temporary); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            throw;
        }
    }

    /// <summary>Writes the container to a stream (the fuzz tests mutate these bytes).</summary>
    public static void Write(Stream stream, IReadOnlyList<KeyValuePair<string, byte[]>> entries)
    {
        using var writer = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true);
        writer.Write(Magic);
        writer.Write(FormatVersion);
        writer.Write(entries.Count);
        foreach (var (name, payload) in entries)
        {
            var nameBytes = Encoding.UTF8.GetBytes(name);
            if (nameBytes.Length is 0 or > MaximumNameBytes) throw new ArgumentException($"Entry name '{name}' must be 1..{MaximumNameBytes} UTF-8 bytes.", nameof(entries));
            writer.Write(nameBytes.Length);
            writer.Write(nameBytes);
            writer.Write((long)payload.Length);
            writer.Write(SHA256.HashData(payload));
            writer.Write(payload);
        }
        writer.Write(EndMarker);
    }

    /// <summary>The SHA-256 of a whole file's bytes.</summary>
    public static byte[] Sha256Of(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        return SHA256.HashData(stream);
    }

    /// <summary>Reads and verifies every entry of the file at <paramref name="path"/>.</summary>
    /// <exception cref="InvalidDataException">The file is not a checkpoint of this version, is truncated, or an entry's checksum does not match.</exception>
    public static Dictionary<string, byte[]> Read(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        return Read(stream);
    }

    /// <summary>Reads and verifies every entry of a seekable stream (its length bounds every allocation).</summary>
    /// <exception cref="InvalidDataException">See <see cref="Read(string)"/>.</exception>
    public static Dictionary<string, byte[]> Read(Stream stream)
    {
        if (!stream.CanSeek) throw new ArgumentException("The stream must be seekable.", nameof(stream));
        try
        {
            using var reader = new BinaryReader(stream, Encoding.UTF8, leaveOpen: true);
            long Remaining() => stream.Length - stream.Position;
            byte[] ReadExactly(long count, string what)
            {
                if (count < 0 || count > Remaining())
                    throw new InvalidDataException($"The checkpoint is truncated or corrupt: {what} claims {count} bytes but {Remaining()} remain.");
                var bytes = reader.ReadBytes((int)count);
                if (bytes.Length != count) throw new InvalidDataException($"The checkpoint is truncated in {what}.");
                return bytes;
            }

            if (!ReadExactly(Magic.Length, "the header").AsSpan().SequenceEqual(Magic))
                throw new InvalidDataException("Not a DiLoCo checkpoint (wrong magic bytes).");
            int version = ReadInt32(reader, Remaining(), "the format version");
            if (version != FormatVersion)
                throw new InvalidDataException($"Checkpoint format version {version}; this library reads version {FormatVersion}.");
            int count = ReadInt32(reader, Remaining(), "the entry count");
            if (count < 0 || count > MaximumEntries)
                throw new InvalidDataException($"The checkpoint claims {count} entries; allowed 0..{MaximumEntries}.");

            var entries = new Dictionary<string, byte[]>(StringComparer.Ordinal);
            var strict = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);
            for (int e = 0; e < count; e++)
            {
                int nameLength = ReadInt32(reader, Remaining(), "an entry name length");
                if (nameLength < 1 || nameLength > MaximumNameBytes)
                    throw new InvalidDataException($"Entry {e} has a name of {nameLength} bytes; allowed 1..{MaximumNameBytes}.");
                string name;
                try { name = strict.GetString(ReadExactly(nameLength, $"the name of entry {e}")); }
                catch (DecoderFallbackException) { throw new InvalidDataException($"The name of entry {e} is not valid UTF-8."); }
                if (Remaining() < 8) throw new InvalidDataException($"The checkpoint is truncated in entry '{name}'.");
                long length = reader.ReadInt64();
                var expected = ReadExactly(32, $"the checksum of entry '{name}'");
                if (length < 0 || length > Remaining() || length > Array.MaxLength)
                    throw new InvalidDataException($"Entry '{name}' claims {length} bytes but {Remaining()} remain: the checkpoint is truncated or corrupt.");
                var payload = ReadExactly(length, $"entry '{name}'");
                if (!SHA256.HashData(payload).AsSpan().SequenceEqual(expected))
                    throw new InvalidDataException($"Entry '{name}' fails its SHA-256 check: the checkpoint is corrupt.");
                if (!entries.TryAdd(name, payload)) throw new InvalidDataException($"Entry '{name}' appears twice.");
            }
            if (!ReadExactly(EndMarker.Length, "the end marker").AsSpan().SequenceEqual(EndMarker))
                throw new InvalidDataException("The checkpoint's end marker is missing: the file is corrupt.");
            if (Remaining() != 0) throw new InvalidDataException($"{Remaining()} unexpected bytes follow the end marker.");
            return entries;
        }
        catch (EndOfStreamException e)
        {
            throw new InvalidDataException("The checkpoint is truncated.", e);
        }
    }

    private static int ReadInt32(BinaryReader reader, long remaining, string what)
    {
        if (remaining < 4) throw new InvalidDataException($"The checkpoint is truncated before {what}.");
        return reader.ReadInt32();
    }
}
