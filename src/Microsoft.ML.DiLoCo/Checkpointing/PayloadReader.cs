using System.Buffers.Binary;
using System.Text;

namespace Microsoft.ML.DiLoCo.Checkpointing;

/// <summary>
/// Reads the primitive values of one checkpoint entry. Every count and size is checked against the bytes that
/// remain before anything is allocated; every failure is an <see cref="InvalidDataException"/> naming the entry.
/// </summary>
internal sealed class PayloadReader
{
    private readonly byte[] _bytes;
    private readonly string _entry;
    private int _position;

    public PayloadReader(byte[] bytes, string entry)
    {
        _bytes = bytes;
        _entry = entry;
    }

    public int Remaining => _bytes.Length - _position;

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

    /// <summary>A length-prefixed FP32 array; the length is checked against the remaining bytes first.</summary>
    public float[] ReadFloats(string what)
    {
        int count = ReadInt32(what + " count", 0, Remaining / 4);
        var values = new float[count];
        Take(count * 4, what).CopyTo(System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()));
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("Checkpoints are little-endian.");
        return values;
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
        var values = ReadFloats(what);
        if (values.LongLength != elements) throw Corrupt($"{what} holds {values.Length} values for shape [{string.Join(", ", shape)}]");
        return new TensorData(shape, values);
    }

    /// <summary>Throws unless every byte was read: trailing bytes mean a writer/reader mismatch.</summary>
    public void EnsureEnd()
    {
        if (Remaining != 0) throw Corrupt($"{Remaining} unexpected bytes at the end");
    }

    public InvalidDataException Corrupt(string detail) => new($"Checkpoint entry '{_entry}' is corrupt: {detail}.");

    private ReadOnlySpan<byte> Take(int count, string what)
    {
        if (count < 0 || count > Remaining) throw Corrupt($"{what} needs {count} bytes but {Remaining} remain");
        var span = new ReadOnlySpan<byte>(_bytes, _position, count);
        _position += count;
        return span;
    }
}
