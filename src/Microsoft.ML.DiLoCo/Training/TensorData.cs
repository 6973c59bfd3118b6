using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.DiLoCo.Training;

/// <summary>
/// The shape and FP32 values of one tensor, detached from libtorch (a checkpoint holds these). The values are either in
/// memory (a capture, or values a test made) or a region of a verified checkpoint file, read chunk by chunk straight into
/// the tensor they restore (<see cref="CopyInto(Tensor, string)"/>): resuming never holds a second copy of the model in memory.
/// </summary>
internal sealed class TensorData
{
    public const int MaximumRank = 8;

    /// <summary>The largest piece of values copied at once (reading, writing, staging); a test hook may lower it.</summary>
    internal static int ChunkBytes { get; set; } = 4 << 20;

    private float[]? _values;
    private readonly ITensorValueSource? _file;
    private readonly long _offset;

    /// <summary>Values in memory, row-major.</summary>
    /// <exception cref="ArgumentException">The shape does not hold <paramref name="values"/>.Length values.</exception>
    public TensorData(long[] shape, float[] values)
    {
        Shape = shape;
        ElementCount = CountOf(shape);
        if (ElementCount != values.LongLength)
            throw new ArgumentException($"Shape [{string.Join(", ", shape)}] holds {ElementCount} values, not {values.LongLength}.", nameof(values));
        _values = values;
    }

    /// <summary>Values left in a verified file at <paramref name="offset"/> (the checkpoint reader makes these).</summary>
    internal TensorData(long[] shape, ITensorValueSource file, long offset)
    {
        Shape = shape;
        ElementCount = CountOf(shape);
        _file = file;
        _offset = offset;
    }

    public long[] Shape { get; }

    public long ElementCount { get; }

    /// <summary>The values in memory (read from the file on first use: tests and small arrays; restoring uses <see cref="CopyInto(Tensor, string)"/>).</summary>
    public float[] Values
    {
        get
        {
            if (_values is null)
            {
                var values = new float[ElementCount];
                for (long start = 0; start < values.LongLength; start += 1 << 28) // spans of bytes stop at 2 GB
                {
                    int n = (int)Math.Min(1 << 28, values.LongLength - start);
                    ReadInto(start, MemoryMarshal.AsBytes(values.AsSpan((int)start, n)));
                }
                _values = values;
            }
            return _values;
        }
    }

    /// <summary>Copies a tensor (any device, any float type) out as FP32.</summary>
    public static TensorData Of(Tensor tensor)
    {
        using var scope = NewDisposeScope();
        var values = new float[tensor.numel()];
        var flat = tensor.detach().to(ScalarType.Float32, CPU).contiguous().view(-1);
        ForEachPiece(flat, (start, bytes) => bytes.CopyTo(MemoryMarshal.AsBytes(values.AsSpan((int)start, bytes.Length / sizeof(float))))); // memory copies, not value by value
        return new TensorData(tensor.shape.ToArray(), values);
    }

    /// <summary>Copies the values into <paramref name="target"/> (any device and float type) after checking its shape.</summary>
    /// <exception cref="InvalidDataException">The shapes differ.</exception>
    public void CopyInto(Tensor target, string what)
    {
        if (!target.shape.SequenceEqual(Shape))
            throw new InvalidDataException($"The checkpoint's {what} has shape [{string.Join(", ", Shape)}] but the model's is [{string.Join(", ", target.shape)}].");
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        if (target.device_type == DeviceType.CPU && target.dtype == ScalarType.Float32 && target.is_contiguous())
        {
            ForEachPiece(target.view(-1), ReadInto); // straight into the tensor's own memory
            return;
        }
        // Another device or type: through a CPU staging tensor of at most one chunk.
        var flat = target.view(-1);
        long chunk = Math.Max(1, ChunkBytes / sizeof(float));
        var staging = empty(Math.Min(chunk, Math.Max(1, ElementCount)), ScalarType.Float32, CPU);
        for (long start = 0; start < ElementCount; start += chunk)
        {
            long n = Math.Min(chunk, ElementCount - start);
            using var piece = staging.narrow(0, 0, n);
            ReadInto(start, piece.bytes);
            using var destination = flat.narrow(0, start, n);
            destination.copy_(piece);
        }
    }

    /// <summary>Copies the values into <paramref name="target"/> (an error-feedback residual) after checking the length.</summary>
    /// <exception cref="InvalidDataException">The lengths differ.</exception>
    public void CopyInto(Span<float> target, string what)
    {
        if (target.Length != ElementCount)
            throw new InvalidDataException($"The checkpoint's {what} has {ElementCount} values; this run needs {target.Length}.");
        for (int start = 0; start < target.Length; start += 1 << 28) // spans of bytes stop at 2 GB
            ReadInto(start, MemoryMarshal.AsBytes(target.Slice(start, Math.Min(1 << 28, target.Length - start))));
    }

    /// <summary>A new tensor holding the values (caller disposes).</summary>
    public Tensor ToTensor(Device device)
    {
        var cpu = empty(Shape, ScalarType.Float32, CPU);
        using (var flat = cpu.view(-1)) ForEachPiece(flat, ReadInto);
        if (device.type == DeviceType.CPU) return cpu;
        using (cpu) return cpu.to(device);
    }

    /// <summary>Hands the values' bytes (no count) to <paramref name="sink"/> in pieces of at most <see cref="ChunkBytes"/>.</summary>
    public void WriteValues(ByteSink sink)
    {
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("Checkpoints are little-endian.");
        int chunk = Math.Max(sizeof(float), ChunkBytes);
        long total = ElementCount * sizeof(float);
        if (_values is not null)
        {
            int values = chunk / sizeof(float);
            for (int start = 0; start < _values.Length; start += values)
                sink(MemoryMarshal.AsBytes(_values.AsSpan(start, Math.Min(values, _values.Length - start))));
            return;
        }
        var buffer = new byte[(int)Math.Min(chunk, Math.Max(sizeof(float), total))];
        for (long done = 0; done < total; done += buffer.Length)
        {
            int n = (int)Math.Min(buffer.Length, total - done);
            _file!.ReadAt(_offset + done, buffer.AsSpan(0, n));
            sink(buffer.AsSpan(0, n));
        }
    }

    public bool BitwiseEquals(TensorData other) =>
        Shape.SequenceEqual(other.Shape) && MemoryMarshal.AsBytes(Values.AsSpan()).SequenceEqual(MemoryMarshal.AsBytes(other.Values.AsSpan()));

    // Fills destination with the values' bytes from value index firstValue on, from memory or from the file in chunks.
    private void ReadInto(long firstValue, Span<byte> destination)
    {
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("Checkpoints are little-endian.");
        if (_values is not null)
        {
            MemoryMarshal.AsBytes(_values.AsSpan(checked((int)firstValue), destination.Length / sizeof(float))).CopyTo(destination);
            return;
        }
        int chunk = Math.Max(sizeof(float), ChunkBytes);
        long at = _offset + firstValue * sizeof(float);
        for (int done = 0; done < destination.Length; done += chunk)
        {
            int n = Math.Min(chunk, destination.Length - done);
            _file!.ReadAt(at + done, destination.Slice(done, n));
        }
    }

    /// <summary>Receives consecutive pieces of bytes.</summary>
    internal delegate void ByteSink(ReadOnlySpan<byte> bytes);

    private delegate void PieceAction(long firstValue, Span<byte> bytes);

    // Calls action on consecutive pieces of a flat, contiguous CPU FP32 tensor, each at most one chunk: the memory of a
    // tensor over 2 GB does not fit one span.
    private static void ForEachPiece(Tensor flat, PieceAction action)
    {
        long count = flat.numel();
        long chunk = Math.Max(1, ChunkBytes / sizeof(float));
        for (long start = 0; start < count; start += chunk)
        {
            using var piece = flat.narrow(0, start, Math.Min(chunk, count - start));
            action(start, piece.bytes);
        }
    }

    private static long CountOf(long[] shape)
    {
        if (shape.Length > MaximumRank) throw new ArgumentException($"A tensor has at most {MaximumRank} dimensions.", nameof(shape));
        long count = 1;
        foreach (long d in shape)
        {
            if (d < 0) throw new ArgumentException("Dimensions are not negative.", nameof(shape));
            count = checked(count * d);
        }
        return count;
    }
}
