using Microsoft.ML.DiLoCo.Training;
namespace Microsoft.ML.DiLoCo.Checkpointing;

/// <summary>
/// The entries of one checkpoint file after <see cref="CheckpointFile.Read(Stream, string?, bool)"/> has verified the
/// container and every entry's SHA-256: each entry is a region of the file, parsed on demand (<see cref="Open"/>) and
/// tensors are read chunk by chunk into their targets (<see cref="TensorData"/>), so no entry is ever held in memory
/// whole. Keeps the file open until disposed (a checkpoint read from it reads its tensors from here).
/// </summary>
internal sealed class CheckpointEntries : ITensorValueSource, IDisposable
{
    private readonly Stream _stream;
    private readonly bool _ownsStream;
    private readonly Dictionary<string, (long Offset, long Length)> _entries;
    private readonly object _gate = new();
    private bool _disposed;

    public CheckpointEntries(Stream stream, bool ownsStream, string source, Dictionary<string, (long Offset, long Length)> entries, byte[] fileSha256)
    {
        FileSha256 = fileSha256;
        _stream = stream;
        _ownsStream = ownsStream;
        Source = source;
        _entries = entries;
    }

    /// <summary>The file's path (or a description of the stream) for messages.</summary>
    public string Source { get; }

    /// <summary>The SHA-256 of the whole file, computed while it was verified (an MPI manifest names each part by it).</summary>
    public byte[] FileSha256 { get; }

    public int Count => _entries.Count;

    public IEnumerable<string> Names => _entries.Keys;

    public bool Contains(string name) => _entries.ContainsKey(name);

    /// <summary>The length in bytes of entry <paramref name="name"/>.</summary>
    public long LengthOf(string name) => Region(name).Length;

    /// <summary>A reader over entry <paramref name="name"/>.</summary>
    /// <exception cref="InvalidDataException">The file has no such entry.</exception>
    public PayloadReader Open(string name)
    {
        var (offset, length) = Region(name);
        return new PayloadReader(this, offset, length, name);
    }

    /// <summary>Entries of a message or payload already in memory (not a file: nothing was verified; the readers' checks still apply).</summary>
    public static CheckpointEntries InMemory(string name, byte[] bytes) =>
        new(new MemoryStream(bytes, writable: false), ownsStream: true, name, new() { [name] = (0, bytes.LongLength) }, Array.Empty<byte>());

    /// <summary>Fills <paramref name="destination"/> from absolute position <paramref name="offset"/> of the file.</summary>
    public void ReadAt(long offset, Span<byte> destination)
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _stream.Position = offset;
            try { _stream.ReadExactly(destination); }
            catch (EndOfStreamException e) { throw new InvalidDataException($"The checkpoint {Source} became shorter after it was verified.", e); }
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed) return;
            _disposed = true;
            if (_ownsStream) _stream.Dispose();
        }
    }

    private (long Offset, long Length) Region(string name) =>
        _entries.TryGetValue(name, out var region) ? region : throw new InvalidDataException($"The checkpoint has no '{name}' entry.");
}
