using Microsoft.ML.DiLoCo.Training;
using System.Buffers.Binary;
using System.Text;

namespace Microsoft.ML.DiLoCo.Checkpointing;

/// <summary>
/// Reads the primitive values of one verified checkpoint entry from its file (<see cref="CheckpointEntries"/>), through
/// a small buffer. Every count and size is checked against the bytes that remain in the entry before anything is
/// allocated; every failure is an <see cref="InvalidDataException"/> naming the entry. Tensors are not read here: they
/// stay regions of the file (<see cref="TensorData"/>) until their values are copied into their targets.
/// </summary>
internal sealed class PayloadReader
{
    private const int BufferBytes = 64 << 10;
    private readonly CheckpointEntries _file;
    private readonly long _start;
    private readonly long _length;
    private readonly string _entry;
    private readonly byte[] _buffer;
    private long _position;        // relative to the entry's start
    private long _bufferStart = -1; // relative position of _buffer[0]; -1: empty
    private int _bufferCount;

    public PayloadReader(CheckpointEntries file, long start, long length, string entry)
    {
        _file = file;
        _start = start;
        _length = length;
        _entry = entry;
        _buffer = new byte[(int)Math.Clamp(length, 1, BufferBytes)];
    }

    /// <summary>A reader over bytes in memory: a message from another rank, parsed with the same checks as a file entry.</summary>
    public static PayloadReader Of(byte[] bytes, string what) => CheckpointEntries.InMemory(what, bytes).Open(what);

    /// <summary>Bytes of the entry not read yet.</summary>
    public long Remaining => _length - _position;

    public byte ReadByte(string what) => Take(1, what)[0];

    public bool ReadBoolean(string what) => ReadByte(what) switch
    {
        0 => false,
        1 => true,
        var b => throw Corrupt($"{what} is {b}, not 0 or 1"),
    };

    public int ReadInt32(string what, int minimum = int.MinValue, int maximum = int.MaxValue)
    {
        int value = BinaryPrimitives.ReadInt32LittleEndian(Take(4, what));
        if (value < minimum || value > maximum) throw Corrupt($"{what} is {value}; allowed {minimum}..{maximum}");
        return value;
    }

    public long ReadInt64(string what, long minimum = long.MinValue, long maximum = long.MaxValue)
    {
        long value = BinaryPrimitives.ReadInt64LittleEndian(Take(8, what));
        if (value < minimum || value > maximum) throw Corrupt($"{what} is {value}; allowed {minimum}..{maximum}");
        return value;
    }

    public double ReadDouble(string what) => BinaryPrimitives.ReadDoubleLittleEndian(Take(8, what));

    public string ReadString(string what, int maximumBytes)
    {
        int length = ReadInt32(what + " length", 0, maximumBytes);
        try { return new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(Take(length, what)); }
        catch (DecoderFallbackException) { throw Corrupt($"{what} is not valid UTF-8"); }
    }

    /// <summary>A length-prefixed byte string of at most <paramref name="maximumBytes"/>.</summary>
    public byte[] ReadBytes(string what, int maximumBytes) => Take(ReadInt32(what + " length", 0, maximumBytes), what).ToArray();

    /// <summary>A length-prefixed FP32 array read into memory (small arrays: losses); the count is checked against the remaining bytes first.</summary>
    public float[] ReadFloats(string what)
    {
        var region = ReadFloatArray(what);
        return region.Values;
    }

    /// <summary>A length-prefixed FP32 array left in the file: a one-dimensional <see cref="TensorData"/> read when it is used.</summary>
    public TensorData ReadFloatArray(string what, long[]? shape = null)
    {
        int count = ReadInt32(what + " count", 0, (int)Math.Min(int.MaxValue, Remaining / sizeof(float)));
        long offset = _start + _position;
        Skip(count * (long)sizeof(float));
        return new TensorData(shape ?? new long[] { count }, _file, offset);
    }

    /// <summary>A tensor: rank (0..8), dims (each ≥ 0), then the FP32 values; the element count must fit the remaining bytes.</summary>
    public TensorData ReadTensor(string what)
    {
        int rank = ReadInt32(what + " rank", 0, TensorData.MaximumRank);
        var shape = new long[rank];
        long elements = 1;
        for (int d = 0; d < rank; d++)
        {
            shape[d] = ReadInt64($"{what} dimension {d}", 0, int.MaxValue);
            elements = shape[d] == 0 ? 0 : (elements > int.MaxValue / shape[d] ? long.MaxValue : elements * shape[d]);
        }
        int count = BinaryPrimitives.ReadInt32LittleEndian(Peek(4, what + " count"));
        if (count != elements) throw Corrupt($"{what} holds {count} values for shape [{string.Join(", ", shape)}]");
        return ReadFloatArray(what, shape);
    }

    /// <summary>Throws unless every byte was read: trailing bytes mean a writer/reader mismatch.</summary>
    public void EnsureEnd()
    {
        if (Remaining != 0) throw Corrupt($"{Remaining} unexpected bytes at the end");
    }

    public InvalidDataException Corrupt(string detail) => new($"Checkpoint entry '{_entry}' is corrupt: {detail}.");

    private void Skip(long count)
    {
        if (count < 0 || count > Remaining) throw Corrupt($"{count} bytes needed but {Remaining} remain");
        _position += count;
    }

    private ReadOnlySpan<byte> Take(int count, string what)
    {
        var span = Peek(count, what);
        _position += count;
        return span;
    }

    // The next count bytes without consuming them: from the buffer, refilled from the file when they are not all in it.
    private ReadOnlySpan<byte> Peek(int count, string what)
    {
        if (count < 0 || count > Remaining) throw Corrupt($"{what} needs {count} bytes but {Remaining} remain");
        if (count > _buffer.Length)
        {
            var large = new byte[count]; // strings and byte strings only, bounded by their callers' maximum
            _file.ReadAt(_start + _position, large);
            return large;
        }
        if (_bufferStart < 0 || _position < _bufferStart || _position + count > _bufferStart + _bufferCount)
        {
            _bufferCount = (int)Math.Min(_buffer.Length, Remaining);
            _file.ReadAt(_start + _position, _buffer.AsSpan(0, _bufferCount));
            _bufferStart = _position;
        }
        return new ReadOnlySpan<byte>(_buffer, (int)(_position - _bufferStart), count);
    }
}
