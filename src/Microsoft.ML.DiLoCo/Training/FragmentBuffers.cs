using System.Runtime.InteropServices;
using Microsoft.ML.DiLoCo.Communication;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.DiLoCo.Training;

/// <summary>
/// The reusable buffers of one fragment's exchange: the FP32 values that leave (pseudo-gradient or gradient),
/// the encoded payload, the error-feedback residual, and the FP32 mean that comes back. Allocated once:
/// fresh large allocations are slow on our machines, and a sync happens every few steps. They never take part in autograd.
/// </summary>
internal sealed class FragmentBuffers : IDisposable
{
    private readonly int[] _parameterIndices;
    private readonly int[] _offsets;
    private readonly Tensor[] _staging;      // CPU FP32, one per parameter, shaped like it
    private readonly IWireCodec _codec;
    private readonly float[] _decoded;
    private readonly float[]? _residual;

    public FragmentBuffers(int[] parameterIndices, IReadOnlyList<Tensor> parameters, IWireCodec codec, bool errorFeedback)
    {
        _parameterIndices = parameterIndices;
        _codec = codec;
        _offsets = new int[parameterIndices.Length + 1];
        _staging = new Tensor[parameterIndices.Length];
        for (int j = 0; j < parameterIndices.Length; j++)
        {
            var p = parameters[parameterIndices[j]];
            long n = p.numel();
            if (_offsets[j] + n > int.MaxValue) throw new NotSupportedException("A fragment larger than 2^31 values must be split into more fragments.");
            if (n > int.MaxValue / sizeof(float)) throw new NotSupportedException($"A parameter of {n:N0} values (over 2 GiB) is not supported by the exchange buffers.");
            _offsets[j + 1] = _offsets[j] + (int)n;
            _staging[j] = zeros(p.shape, ScalarType.Float32).DetachFromDisposeScope();
        }
        int count = _offsets[^1];
        Values = new float[count];
        Mean = new float[count];
        _decoded = new float[count];
        _residual = errorFeedback ? new float[count] : null;
        Payload = new byte[codec.EncodedLength(count)];
    }

    /// <summary>The FP32 values to send.</summary>
    public float[] Values { get; }

    /// <summary>The encoded bytes of <see cref="Values"/>.</summary>
    public byte[] Payload { get; }

    /// <summary>The error-feedback residual (null without error feedback); checkpoints save and restore it.</summary>
    public float[]? Residual => _residual;

    /// <summary>The mean over workers of the decoded payloads.</summary>
    public float[] Mean { get; }

    /// <summary>Values ← global − local for every parameter of the fragment.</summary>
    public void ReadDifference(IReadOnlyList<Tensor> global, IReadOnlyList<Tensor> local)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad(); // θ̂ and the replica require grad: with autograd on, every sync chained a graph onto _staging
        for (int j = 0; j < _parameterIndices.Length; j++)
        {
            int i = _parameterIndices[j];
            if (global[i].device_type == DeviceType.CPU && local[i].device_type == DeviceType.CPU)
                _staging[j].copy_(global[i]).sub_(local[i]);  // in place: no allocation per sync
            else
                _staging[j].copy_(global[i].sub(local[i]));   // on the replica's device (a CPU buffer cannot take a CUDA operand), then one copy
            CopyOut(j);
        }
    }

    /// <summary>Values ← the gradients (zero where a parameter has none).</summary>
    public void ReadGradients(IReadOnlyList<Tensor> parameters)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        for (int j = 0; j < _parameterIndices.Length; j++)
        {
            var grad = parameters[_parameterIndices[j]].grad;
            if (grad is null) _staging[j].zero_();
            else _staging[j].copy_(grad);
            CopyOut(j);
        }
    }

    /// <summary>Payload ← Q(Values [+ residual]); with error feedback the new residual is what Q lost.</summary>
    public void Encode()
    {
        if (_residual is not null) TensorPrimitives.Add(Values, _residual, Values);
        _codec.Encode(Values, Payload);
        if (_residual is not null)
        {
            _codec.Decode(Payload, _decoded);
            TensorPrimitives.Subtract(Values, _decoded, _residual);
        }
    }

    /// <summary>
    /// Mean ← (1/n) Σ deQ(payload) over the <paramref name="contributions"/> that decode to finite values, summed in rank order so
    /// every worker gets the same bits. A payload the codec refuses (NaN, infinity, a corrupt FP4 scale) is left out when
    /// <paramref name="skipRefused"/>, else refused with a <see cref="PeerPayloadException"/> naming its sender, the step and the
    /// fragment. Returns n, the number averaged (Mean is zero when n = 0).
    /// </summary>
    public int AverageInRankOrder(IReadOnlyList<PeerPayload> contributions, long step, int fragment, bool skipRefused)
    {
        Array.Clear(Mean);
        int averaged = 0;
        foreach (var (sender, bytes) in contributions)
        {
            // The collective checked the lengths already; this guards the codec against a collective that did not.
            PeerPayloads.ThrowIfLengthDiffers(sender, $"worker {sender}", bytes.Length, Payload.Length, step, fragment);
            try
            {
                _codec.Decode(bytes.Span, _decoded);
            }
            catch (ArgumentException e)
            {
                if (skipRefused) continue;
                throw new PeerPayloadException(sender, $"worker {sender}", e.Message + " Nothing of it reached θ̂ (NonFiniteValuePolicy.SkipContribution would leave it out and go on).", step, fragment, e);
            }

            TensorPrimitives.Add(Mean, _decoded, Mean);
            averaged++;
        }

        if (averaged > 0) TensorPrimitives.Divide(Mean, averaged, Mean);
        return averaged;
    }

    /// <summary>Writes <see cref="Mean"/> into the .grad of each parameter of the fragment (creating it if absent).</summary>
    public void WriteAsGradients(IReadOnlyList<Tensor> parameters)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        for (int j = 0; j < _parameterIndices.Length; j++)
        {
            var p = parameters[_parameterIndices[j]];
            new ReadOnlySpan<float>(Mean, _offsets[j], _offsets[j + 1] - _offsets[j]).CopyTo(Staged(j));
            var grad = p.grad;
            if (grad is null)
            {
                p.grad = zeros_like(p);
                grad = p.grad;
            }
            grad.copy_(_staging[j]);
        }
    }

    private void CopyOut(int j) =>
        Staged(j).CopyTo(new Span<float>(Values, _offsets[j], _offsets[j + 1] - _offsets[j]));

    /// <summary>
    /// The staging tensor's own memory (CPU, contiguous, FP32: we made it). TorchSharp's element accessor
    /// (<c>data&lt;float&gt;().CopyTo/CopyFrom</c>) went value by value (~60 ns each on the loaded dev VM: 100+ ms per
    /// data-parallel step at 0.84 M parameters); this is a plain memory copy.
    /// </summary>
    private Span<float> Staged(int j) => MemoryMarshal.Cast<byte, float>(_staging[j].bytes);

    public void Dispose()
    {
        foreach (var t in _staging) t.Dispose();
    }
}
