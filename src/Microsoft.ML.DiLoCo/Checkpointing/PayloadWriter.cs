using System.Text;

namespace Microsoft.ML.DiLoCo.Checkpointing;

/// <summary>Writes the primitive values of one checkpoint entry in the layout <see cref="PayloadReader"/> reads.</summary>
internal sealed class PayloadWriter
{
    private readonly MemoryStream _stream = new();
    private readonly BinaryWriter _writer;

    public PayloadWriter() => _writer = new BinaryWriter(_stream, Encoding.UTF8, leaveOpen: true);

    public void Write(byte value) => _writer.Write(value);
    public void Write(bool value) => _writer.Write((byte)(value ? 1 : 0));
    public void Write(int value) => _writer.Write(value);
    public void Write(long value) => _writer.Write(value);
    public void Write(double value) => _writer.Write(value);

    public void Write(string value)
    {
        var bytes = Encoding.UTF8.GetBytes(value);
        _writer.Write(bytes.Length);
        _writer.Write(bytes);
    }

    /// <summary>A length-prefixed byte string.</summary>
    public void WriteBytes(ReadOnlySpan<byte> bytes)
    {
        _writer.Write(bytes.Length);
        _writer.Write(bytes);
    }

    public void Write(ReadOnlySpan<float> values)
    {
        _writer.Write(values.Length);
        _writer.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(values));
    }

    public void Write(TensorData tensor)
    {
        _writer.Write(tensor.Shape.Length);
        foreach (long d in tensor.Shape) _writer.Write(d);
        Write(tensor.Values);
    }

    public byte[] ToArray()
    {
        _writer.Flush();
        return _stream.ToArray();
    }
}
