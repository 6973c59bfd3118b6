using Microsoft.ML.DiLoCo.Training;
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;

namespace Microsoft.ML.DiLoCo.Checkpointing;

/// <summary>
/// Writes the primitive values of one checkpoint entry in the layout <see cref="PayloadReader"/> reads, straight to a
/// stream (or to nothing, to measure an entry), counting the bytes and feeding them to an optional incremental SHA-256.
/// Nothing is buffered here beyond a few bytes: tensors go out chunk by chunk (<see cref="TensorData.WriteValues"/>).
/// </summary>
internal sealed class PayloadWriter
{
    private readonly Stream? _output;
    private readonly IncrementalHash? _hash;

    /// <param name="output">Where the bytes go; null only counts and hashes them.</param>
    /// <param name="hash">Sees every byte written, in order; null for none.</param>
    public PayloadWriter(Stream? output, IncrementalHash? hash = null)
    {
        _output = output;
        _hash = hash;
    }

    /// <summary>A writer into memory, for small messages between ranks (<see cref="ToArray"/>).</summary>
    public static PayloadWriter InMemory() => new(new MemoryStream());

    /// <summary>The bytes of an <see cref="InMemory"/> writer.</summary>
    public byte[] ToArray() => _output is MemoryStream memory ? memory.ToArray() : throw new InvalidOperationException("Only an in-memory writer has its bytes.");

    /// <summary>The number of bytes written so far.</summary>
    public long Length { get; private set; }

    public void Write(byte value) => WriteRaw(stackalloc byte[] { value });
    public void Write(bool value) => Write((byte)(value ? 1 : 0));

    public void Write(int value)
    {
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(b, value);
        WriteRaw(b);
    }

    public void Write(long value)
    {
        Span<byte> b = stackalloc byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(b, value);
        WriteRaw(b);
    }

    public void Write(double value)
    {
        Span<byte> b = stackalloc byte[8];
        BinaryPrimitives.WriteDoubleLittleEndian(b, value);
        WriteRaw(b);
    }

    public void Write(string value)
    {
        var bytes = Encoding.UTF8.GetBytes(value);
        Write(bytes.Length);
        WriteRaw(bytes);
    }

    /// <summary>A length-prefixed byte string.</summary>
    public void WriteBytes(ReadOnlySpan<byte> bytes)
    {
        Write(bytes.Length);
        WriteRaw(bytes);
    }

    /// <summary>A length-prefixed FP32 array (int32 count, then the values).</summary>
    public void Write(ReadOnlySpan<float> values)
    {
        Write(values.Length);
        WriteFloats(values);
    }

    /// <summary>A length-prefixed FP32 array of <paramref name="values"/> (the layout of <see cref="Write(ReadOnlySpan{float})"/>), chunk by chunk.</summary>
    public void WriteFloatArray(TensorData values)
    {
        if (values.ElementCount > int.MaxValue) throw new ArgumentException($"A checkpoint array holds at most {int.MaxValue} values; this one has {values.ElementCount}.", nameof(values));
        Write((int)values.ElementCount);
        values.WriteValues(WriteRaw);
    }

    /// <summary>A tensor: rank, each dimension, then its values as a length-prefixed FP32 array.</summary>
    public void Write(TensorData tensor)
    {
        Write(tensor.Shape.Length);
        foreach (long d in tensor.Shape) Write(d);
        WriteFloatArray(tensor);
    }

    /// <summary>FP32 values without a count, in pieces of at most <see cref="CheckpointFile.ChunkBytes"/>.</summary>
    public void WriteFloats(ReadOnlySpan<float> values)
    {
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("Checkpoints are little-endian.");
        int chunk = Math.Max(1, CheckpointFile.ChunkBytes / sizeof(float));
        for (int start = 0; start < values.Length; start += chunk)
            WriteRaw(MemoryMarshal.AsBytes(values.Slice(start, Math.Min(chunk, values.Length - start))));
    }

    /// <summary>Bytes as they are.</summary>
    public void WriteRaw(ReadOnlySpan<byte> bytes)
    {
        _output?.Write(bytes);
        _hash?.AppendData(bytes);
        Length += bytes.Length;
    }
}
