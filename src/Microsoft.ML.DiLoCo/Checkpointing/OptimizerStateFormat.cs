using Microsoft.ML.DiLoCo.Training;

namespace Microsoft.ML.DiLoCo.Checkpointing;

/// <summary>How an <see cref="OptimizerStateData"/> is laid out in a checkpoint entry (kind, then per parameter its step and buffers).</summary>
internal static class OptimizerStateFormat
{
    public static void Write(PayloadWriter w, OptimizerStateData state)
    {
        var (Kind, Steps, Buffers) = (state.Kind, state.Steps, state.Buffers);
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

    public static OptimizerStateData Read(PayloadReader r, string what)
    {
        string kind = r.ReadString(what + " kind", 16);
        if (kind is not (OptimizerStateData.AdamWKind or OptimizerStateData.SgdKind)) throw r.Corrupt($"{what} kind is '{kind}'");
        int count = r.ReadInt32(what + " parameter count", 0, (int)Math.Min(OptimizerStateData.MaximumParameters, r.Remaining / 12));
        var steps = new long[count];
        var buffers = new TensorData?[count][];
        int perParameter = kind == OptimizerStateData.AdamWKind ? 3 : 1;
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
