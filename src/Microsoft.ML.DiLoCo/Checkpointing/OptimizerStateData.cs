using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.DiLoCo.Checkpointing;

/// <summary>
/// The per-parameter state of a TorchSharp AdamW or SGD optimizer (step count and moment buffers), read from and
/// written back into the live state objects of <c>state_dict()</c>. Learning rates are not stored: the schedule sets
/// them from the step before every inner step, and the outer learning rate is an option.
/// </summary>
/// <param name="Kind">"AdamW" or "SGD".</param>
/// <param name="Steps">Per parameter (in the optimizer's group order): AdamW's step count; 0 for SGD.</param>
/// <param name="Buffers">Per parameter: AdamW exp_avg, exp_avg_sq, max_exp_avg_sq; SGD momentum_buffer. Null where absent.</param>
internal sealed record OptimizerStateData(string Kind, long[] Steps, TensorData?[][] Buffers)
{
    public const string AdamWKind = "AdamW";
    public const string SgdKind = "SGD";
    public const int MaximumParameters = 1 << 20;

    public static OptimizerStateData Capture(optim.Optimizer optimizer)
    {
        var states = StatesOf(optimizer);
        string kind = states.Count > 0 && states[0] is SGD.State ? SgdKind : AdamWKind;
        var steps = new long[states.Count];
        var buffers = new TensorData?[states.Count][];
        for (int i = 0; i < states.Count; i++)
        {
            switch (states[i])
            {
                case AdamW.State a:
                    steps[i] = a.step;
                    buffers[i] = new[] { Copy(a.exp_avg), Copy(a.exp_avg_sq), Copy(a.max_exp_avg_sq) };
                    break;
                case SGD.State s:
                    buffers[i] = new[] { Copy(s.momentum_buffer) };
                    break;
                default:
                    throw new NotSupportedException($"Checkpoints hold AdamW and SGD optimizer state; this optimizer keeps {states[i].GetType().Name}.");
            }
        }
        return new OptimizerStateData(kind, steps, buffers);
    }

    /// <summary>Writes the state back into <paramref name="optimizer"/> (the same kind over parameters of the same shapes).</summary>
    /// <exception cref="InvalidDataException">The kind, the number of parameters or a shape differs.</exception>
    public void Restore(optim.Optimizer optimizer, string what)
    {
        var states = StatesOf(optimizer);
        var parameters = ParametersOf(optimizer);
        if (states.Count != Steps.Length)
            throw new InvalidDataException($"The checkpoint's {what} has state for {Steps.Length} parameters but the optimizer has {states.Count}.");
        for (int i = 0; i < states.Count; i++)
        {
            switch (states[i])
            {
                case AdamW.State a when Kind == AdamWKind:
                    a.step = Steps[i];
                    a.exp_avg = Place(a.exp_avg, Buffers[i][0], parameters[i], $"{what} exp_avg {i}");
                    a.exp_avg_sq = Place(a.exp_avg_sq, Buffers[i][1], parameters[i], $"{what} exp_avg_sq {i}");
                    a.max_exp_avg_sq = Place(a.max_exp_avg_sq, Buffers[i][2], parameters[i], $"{what} max_exp_avg_sq {i}");
                    break;
                case SGD.State s when Kind == SgdKind:
                    s.momentum_buffer = Place(s.momentum_buffer, Buffers[i][0], parameters[i], $"{what} momentum {i}");
                    break;
                default:
                    throw new InvalidDataException($"The checkpoint's {what} is {Kind} state but the optimizer keeps {states[i].GetType().DeclaringType?.Name ?? states[i].GetType().Name} state.");
            }
        }
    }

    /// <summary>Zeroes the moments and the step count: the optimizer starts afresh on its current parameters.</summary>
    public static void Reset(optim.Optimizer optimizer)
    {
        using var _ = no_grad();
        foreach (var state in StatesOf(optimizer))
        {
            switch (state)
            {
                case AdamW.State a:
                    a.step = 0;
                    a.exp_avg?.zero_();
                    a.exp_avg_sq?.zero_();
                    a.max_exp_avg_sq?.zero_();
                    break;
                case SGD.State s:
                    s.momentum_buffer?.Dispose();
                    s.momentum_buffer = null!;
                    break;
            }
        }
    }

    private static TensorData? Copy(Tensor? t) => t is null || t.IsInvalid ? null : TensorData.Of(t);

    // Restores into the live buffer when there is one (keeps its device and dtype); creates or drops it otherwise.
    private static Tensor Place(Tensor? live, TensorData? saved, Tensor parameter, string what)
    {
        if (saved is null)
        {
            if (live is null || live.IsInvalid) return live!;
            using (no_grad()) live.zero_();
            return live;
        }
        if (live is null || live.IsInvalid)
        {
            if (!parameter.shape.SequenceEqual(saved.Shape))
                throw new InvalidDataException($"The checkpoint's {what} has shape [{string.Join(", ", saved.Shape)}] but the parameter's is [{string.Join(", ", parameter.shape)}].");
            using var scope = NewDisposeScope();
            return saved.ToTensor(parameter.device).to(parameter.dtype).DetachFromDisposeScope();
        }
        saved.CopyInto(live, what);
        return live;
    }

    private static IList<OptimizerState> StatesOf(optim.Optimizer optimizer) => optimizer is OptimizerHelper helper
        ? helper.state_dict().State
        : throw new NotSupportedException($"Checkpoints hold the state of TorchSharp's built-in optimizers; {optimizer.GetType().Name} is not one.");

    private static Tensor[] ParametersOf(optim.Optimizer optimizer) =>
        optimizer.parameters().Select(p => (Tensor)p).ToArray();

    public void WriteTo(PayloadWriter w)
    {
        w.Write(Kind);
        w.Write(Steps.Length);
        for (int i = 0; i < Steps.Length; i++)
        {
            w.Write(Steps[i]);
            w.Write(Buffers[i].Length);
            foreach (var b in Buffers[i])
            {
                w.Write(b is not null);
                if (b is not null) w.Write(b);
            }
        }
    }

    public static OptimizerStateData ReadFrom(PayloadReader r, string what)
    {
        string kind = r.ReadString(what + " kind", 16);
        if (kind is not (AdamWKind or SgdKind)) throw r.Corrupt($"{what} kind is '{kind}'");
        int count = r.ReadInt32(what + " parameter count", 0, (int)Math.Min(MaximumParameters, r.Remaining / 12));
        var steps = new long[count];
        var buffers = new TensorData?[count][];
        int perParameter = kind == AdamWKind ? 3 : 1;
        for (int i = 0; i < count; i++)
        {
            steps[i] = r.ReadInt64($"{what} step {i}", 0, long.MaxValue);
            r.ReadInt32($"{what} buffer count {i}", perParameter, perParameter);
            buffers[i] = new TensorData?[perParameter];
            for (int b = 0; b < perParameter; b++)
                buffers[i][b] = r.ReadBoolean($"{what} buffer {i}.{b} presence") ? r.ReadTensor($"{what} buffer {i}.{b}") : null;
        }
        return new OptimizerStateData(kind, steps, buffers);
    }
}
