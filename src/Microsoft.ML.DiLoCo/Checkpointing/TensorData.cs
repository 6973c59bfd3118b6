using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.DiLoCo.Checkpointing;

/// <summary>The shape and FP32 values of one tensor, detached from libtorch (a checkpoint holds these).</summary>
internal sealed record TensorData(long[] Shape, float[] Values)
{
    public const int MaximumRank = 8;

    /// <summary>Copies a tensor (any device, any float type) out as FP32.</summary>
    public static TensorData Of(Tensor tensor)
    {
        using var scope = NewDisposeScope();
        var cpu = tensor.detach().to(ScalarType.Float32, CPU).contiguous();
        return new TensorData(tensor.shape.ToArray(), cpu.data<float>().ToArray());
    }

    /// <summary>Copies the values into <paramref name="target"/> after checking its shape.</summary>
    /// <exception cref="InvalidDataException">The shapes differ.</exception>
    public void CopyInto(Tensor target, string what)
    {
        if (!target.shape.SequenceEqual(Shape))
            throw new InvalidDataException($"The checkpoint's {what} has shape [{string.Join(", ", Shape)}] but the model's is [{string.Join(", ", target.shape)}].");
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        target.copy_(ToTensor(target.device));
    }

    /// <summary>A new tensor holding the values (caller disposes).</summary>
    public Tensor ToTensor(Device device) => tensor(Values, Shape).to(device);

    public bool BitwiseEquals(TensorData other) =>
        Shape.SequenceEqual(other.Shape) &&
        System.Runtime.InteropServices.MemoryMarshal.AsBytes(Values.AsSpan()).SequenceEqual(System.Runtime.InteropServices.MemoryMarshal.AsBytes(other.Values.AsSpan()));
}
