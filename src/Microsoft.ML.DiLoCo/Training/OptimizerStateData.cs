using Microsoft.ML.DiLoCo.Training.Optimizers;
using static TorchSharp.torch;

namespace Microsoft.ML.DiLoCo.Training;

/// <summary>
/// The per-parameter state of the library's AdamW or SGD optimizer (step count and moment buffers). Learning rates are
/// not stored: the schedule sets them from the step before every inner step, and the outer learning rate is an option.
/// The layout is the one TorchSharp's optimizers had (parameters in group order, the same buffers), so checkpoints
/// written before the library had its own optimizers still load.
/// </summary>
/// <param name="Kind">"AdamW" or "SGD".</param>
/// <param name="Steps">Per parameter (in the optimizer's group order): AdamW's step count; 0 for SGD.</param>
/// <param name="Buffers">Per parameter: AdamW exp_avg, exp_avg_sq, max_exp_avg_sq; SGD momentum_buffer. Null where absent.</param>
internal sealed record OptimizerStateData(string Kind, long[] Steps, TensorData?[][] Buffers)
{
    public const string AdamWKind = AdamWOptimizer.KindName;
    public const string SgdKind = SgdOptimizer.KindName;
    public const int MaximumParameters = 1 << 20;

    /// <summary>Copies the optimizer's state out (FP32, detached from libtorch).</summary>
    public static OptimizerStateData Capture(TensorOptimizer optimizer)
    {
        int count = optimizer.Parameters.Count;
        var steps = new long[count];
        var buffers = new TensorData?[count][];
        for (int i = 0; i < count; i++)
        {
            steps[i] = optimizer.StepsOf(i);
            buffers[i] = optimizer.BuffersOf(i).Select(b => b is null ? null : TensorData.Of(b)).ToArray();
        }
        return new OptimizerStateData(optimizer.Kind, steps, buffers);
    }

    /// <summary>Writes the state back into <paramref name="optimizer"/> (the same kind over parameters of the same shapes).</summary>
    /// <exception cref="InvalidDataException">The kind, the number of parameters or a shape differs.</exception>
    public void Restore(TensorOptimizer optimizer, string what)
    {
        if (Kind != optimizer.Kind)
            throw new InvalidDataException($"The checkpoint's {what} is {Kind} state but the optimizer is {optimizer.Kind}.");
        var parameters = optimizer.Parameters;
        if (parameters.Count != Steps.Length)
            throw new InvalidDataException($"The checkpoint's {what} has state for {Steps.Length} parameters but the optimizer has {parameters.Count}.");
        for (int i = 0; i < parameters.Count; i++)
        {
            if (Buffers[i].Length != optimizer.BuffersPerParameter)
                throw new InvalidDataException($"The checkpoint's {what} has {Buffers[i].Length} buffers for parameter {i}; {Kind} keeps {optimizer.BuffersPerParameter}.");
            using var scope = NewDisposeScope();
            var saved = new Tensor?[Buffers[i].Length];
            for (int b = 0; b < saved.Length; b++)
            {
                var data = Buffers[i][b];
                if (data is null) continue;
                if (!parameters[i].shape.SequenceEqual(data.Shape))
                    throw new InvalidDataException($"The checkpoint's {what} buffer {b} of parameter {i} has shape [{string.Join(", ", data.Shape)}] but the parameter's is [{string.Join(", ", parameters[i].shape)}].");
                saved[b] = data.ToTensor(parameters[i].device).to(parameters[i].dtype);
            }
            try { optimizer.SetState(i, Steps[i], saved); }
            catch (ArgumentException e) { throw new InvalidDataException($"The checkpoint's {what} does not fit parameter {i}: {e.Message}", e); }
        }
    }
}
