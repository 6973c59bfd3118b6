using Microsoft.ML.DiLoCo.Training;
using System.Buffers.Binary;
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
/// <remarks>
/// Entries are streamed both ways, so a checkpoint of any size is written and read in bounded memory (at most
/// <see cref="ChunkBytes"/> of an entry at once): writing measures each entry first (its length and SHA-256 precede
/// it) and then writes it, reading verifies the whole file in one pass and parses entries from the file afterwards.
/// The layout is the one the first release wrote (format version 1), so files written before streaming still read.
/// </remarks>
internal static class CheckpointFile
{
    public const int FormatVersion = 1;
    public const int MaximumEntries = 4096;
    public const int MaximumNameBytes = 256;
    private static readonly byte[] Magic = "DLCKPT01"u8.ToArray();
    private static readonly byte[] EndMarker = "DLCKEND!"u8.ToArray();

    /// <summary>The most bytes of an entry held in memory at once when writing or reading (tests lower it).</summary>
    internal static int ChunkBytes { get => TensorData.ChunkBytes; set => TensorData.ChunkBytes = value; }

    /// <summary>Writes the entries to <paramref name="path"/>: temporary file in the same folder, flush to disk, rename.</summary>
    /// <returns>The SHA-256 of the file's bytes (an MPI manifest names each rank's part file with it).</returns>
    public static byte[] Write(string path, IReadOnlyList<CheckpointEntry> entries)
    {
        string temporary = path + ".tmp-" + Guid.NewGuid().ToString("N");
        try
        {
            byte[] hash;
            using (var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            {
                hash = Write(stream, entries);
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

    /// <summary>Writes the container to a stream (the fuzz tests mutate these bytes) and returns the SHA-256 of what it wrote.</summary>
    public static byte[] Write(Stream stream, IReadOnlyList<CheckpointEntry> entries)
    {
        if (entries.Count > MaximumEntries) throw new ArgumentException($"At most {MaximumEntries} entries.", nameof(entries));
        using var fileHash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var file = new PayloadWriter(stream, fileHash);
        file.WriteRaw(Magic);
        file.Write(FormatVersion);
        file.Write(entries.Count);
        foreach (var entry in entries)
        {
            var nameBytes = Encoding.UTF8.GetBytes(entry.Name);
            if (nameBytes.Length is 0 or > MaximumNameBytes) throw new ArgumentException($"Entry name '{entry.Name}' must be 1..{MaximumNameBytes} UTF-8 bytes.", nameof(entries));
            using var entryHash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            var measure = new PayloadWriter(output: null, entryHash);
            entry.Write(measure);
            file.Write(nameBytes.Length);
            file.WriteRaw(nameBytes);
            file.Write(measure.Length);
            file.WriteRaw(entryHash.GetHashAndReset());
            long start = file.Length;
            entry.Write(file);
            if (file.Length - start != measure.Length) // the producer must be deterministic: the header already promised this length
                throw new InvalidOperationException($"Entry '{entry.Name}' wrote {file.Length - start} bytes after measuring {measure.Length}: its state changed while it was written.");
        }
        file.WriteRaw(EndMarker);
        return fileHash.GetHashAndReset();
    }

    /// <summary>The SHA-256 of a whole file's bytes.</summary>
    public static byte[] Sha256Of(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        return SHA256.HashData(stream);
    }

    /// <summary>Opens the file at <paramref name="path"/> and verifies every entry (see <see cref="Read(Stream, string?, bool)"/>).</summary>
    /// <exception cref="InvalidDataException">The file is not a checkpoint of this version, is truncated, or an entry's checksum does not match.</exception>
    public static CheckpointEntries Read(string path)
    {
        var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        return Read(stream, path, ownsStream: true);
    }

    /// <summary>
    /// Verifies the container and the SHA-256 of every entry in one streaming pass (a seekable stream: its length bounds
    /// every declared size), and returns the entries for parsing. The stream stays open in the result (closed with it
    /// when <paramref name="ownsStream"/>; closed at once on failure then).
    /// </summary>
    /// <exception cref="InvalidDataException">See <see cref="Read(string)"/>.</exception>
    public static CheckpointEntries Read(Stream stream, string? source = null, bool ownsStream = false)
    {
        if (!stream.CanSeek) throw new ArgumentException("The stream must be seekable.", nameof(stream));
        try
        {
            var (entries, sha256) = Verify(stream, source);
            return new CheckpointEntries(stream, ownsStream, source ?? "(stream)", entries, sha256);
        }
        catch (EndOfStreamException e)
        {
            if (ownsStream) stream.Dispose();
            throw new InvalidDataException("The checkpoint is truncated.", e);
        }
        catch
        {
            if (ownsStream) stream.Dispose();
            throw;
        }
    }

    // One pass over every byte of the file: the container checks, each entry's SHA-256, and the SHA-256 of the whole file.
    private static (Dictionary<string, (long Offset, long Length)> Entries, byte[] FileSha256) Verify(Stream stream, string? source)
    {
        using var reader = new HashingReader(stream);
        if (!reader.ReadExactly(Magic.Length, "the header").AsSpan().SequenceEqual(Magic))
            throw new InvalidDataException("Not a DiLoCo checkpoint (wrong magic bytes).");
        int version = reader.ReadInt32("the format version");
        if (version != FormatVersion)
            throw new InvalidDataException($"The checkpoint {source ?? "file"} has format version {version}; this library reads version {FormatVersion} only " +
                                           "(written by another version of Microsoft.ML.DiLoCo: resume it with that version, or move the file away to start afresh).");
        int count = reader.ReadInt32("the entry count");
        if (count < 0 || count > MaximumEntries)
            throw new InvalidDataException($"The checkpoint claims {count} entries; allowed 0..{MaximumEntries}.");

        var entries = new Dictionary<string, (long, long)>(StringComparer.Ordinal);
        var buffer = new byte[(int)Math.Clamp(stream.Length, 1, Math.Max(1, ChunkBytes))];
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        for (int e = 0; e < count; e++)
        {
            var (name, offset, length) = VerifyEntry(reader, e, buffer, hash);
            if (!entries.TryAdd(name, (offset, length))) throw new InvalidDataException($"Entry '{name}' appears twice.");
        }
        if (!reader.ReadExactly(EndMarker.Length, "the end marker").AsSpan().SequenceEqual(EndMarker))
            throw new InvalidDataException("The checkpoint's end marker is missing: the file is corrupt.");
        if (reader.Remaining != 0) throw new InvalidDataException($"{reader.Remaining} unexpected bytes follow the end marker.");
        return (entries, reader.FileSha256());
    }

    // Entry e: its name, length and checksum, then its bytes, hashed chunk by chunk and compared with the checksum.
    private static (string Name, long Offset, long Length) VerifyEntry(HashingReader reader, int e, byte[] buffer, IncrementalHash hash)
    {
        int nameLength = reader.ReadInt32("an entry name length");
        if (nameLength < 1 || nameLength > MaximumNameBytes)
            throw new InvalidDataException($"Entry {e} has a name of {nameLength} bytes; allowed 1..{MaximumNameBytes}.");
        string name;
        try { name = StrictUtf8.GetString(reader.ReadExactly(nameLength, $"the name of entry {e}")); }
        catch (DecoderFallbackException) { throw new InvalidDataException($"The name of entry {e} is not valid UTF-8."); }
        if (reader.Remaining < 8) throw new InvalidDataException($"The checkpoint is truncated in entry '{name}'.");
        long length = BinaryPrimitives.ReadInt64LittleEndian(reader.ReadExactly(8, $"the length of entry '{name}'"));
        var expected = reader.ReadExactly(32, $"the checksum of entry '{name}'");
        if (length < 0 || length > reader.Remaining)
            throw new InvalidDataException($"Entry '{name}' claims {length} bytes but {reader.Remaining} remain: the checkpoint is truncated or corrupt.");
        long offset = reader.Position;
        for (long left = length; left > 0;)
        {
            int n = (int)Math.Min(left, buffer.Length);
            reader.Read(buffer.AsSpan(0, n));
            hash.AppendData(buffer, 0, n);
            left -= n;
        }
        if (!hash.GetHashAndReset().AsSpan().SequenceEqual(expected))
            throw new InvalidDataException($"Entry '{name}' fails its SHA-256 check: the checkpoint is corrupt.");
        return (name, offset, length);
    }

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>Reads a checkpoint stream while hashing every byte read, with sizes checked against what remains before allocating.</summary>
    private sealed class HashingReader(Stream stream) : IDisposable
    {
        private readonly IncrementalHash _fileHash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);

        public long Remaining => stream.Length - stream.Position;

        public long Position => stream.Position;

        public void Read(Span<byte> destination)
        {
            stream.ReadExactly(destination);
            _fileHash.AppendData(destination);
        }

        public byte[] ReadExactly(long count, string what)
        {
            if (count < 0 || count > Remaining)
                throw new InvalidDataException($"The checkpoint is truncated or corrupt: {what} claims {count} bytes but {Remaining} remain.");
            var bytes = new byte[count];
            Read(bytes);
            return bytes;
        }

        public int ReadInt32(string what) => Remaining < 4
            ? throw new InvalidDataException($"The checkpoint is truncated before {what}.")
            : BinaryPrimitives.ReadInt32LittleEndian(ReadExactly(4, what));

        public byte[] FileSha256() => _fileHash.GetHashAndReset();

        public void Dispose() => _fileHash.Dispose();
    }
}
