using Microsoft.ML.DiLoCo.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.DiLoCo.Tests.Training;

/// <summary>torchft's fixture: scalar weights starting at 1.0 whose gradient is always 2.</summary>
internal sealed class ConstantGradientReplica : IReplica
{
    public ConstantGradientReplica(int parameterCount, int size = 1)
    {
        Parameters = Enumerable.Range(0, parameterCount).Select(_ => new Parameter(ones(size), requires_grad: true)).ToArray();
    }

    public IReadOnlyList<Parameter> Parameters { get; }

    public long TokensPerStep => 1;

    // d/dw (2·Σw) = 2 for every weight.
    public Tensor NextLoss() => Parameters.Select(p => p.sum()).Aggregate((a, b) => a + b) * 2;

    public void Dispose()
    {
        foreach (var p in Parameters) p.Dispose();
    }
}

/// <summary>Least squares on fixed random data; each call takes the next batch of its own row sequence (or an explicit row list per step).</summary>
internal sealed class LinearRegressionReplica : IReplica
{
    private readonly Tensor _x, _y;
    private readonly int _batch;
    private readonly int[] _rowOrder;
    private readonly IReadOnlyList<int[]>? _batches;
    private int _cursor, _step;

    /// <param name="dataSeed">Seed of the data (same for every worker in "identical data" tests).</param>
    /// <param name="rowOrder">Which rows this replica visits, in order, <paramref name="batch"/> at a time.</param>
    public LinearRegressionReplica(int dataSeed, int[] rowOrder, int batch, int features = 4)
        : this(dataSeed, features)
    {
        _rowOrder = rowOrder;
        _batch = batch;
    }

    /// <param name="dataSeed">Seed of the data.</param>
    /// <param name="batches">batches[t] = the rows of inner step t + 1 (all of the same size).</param>
    public LinearRegressionReplica(int dataSeed, IReadOnlyList<int[]> batches, int features = 4)
        : this(dataSeed, features)
    {
        _batches = batches;
        _batch = batches[0].Length;
    }

    private LinearRegressionReplica(int dataSeed, int features)
    {
        var g = new Generator((ulong)dataSeed);
        _x = randn(new long[] { 256, features }, generator: g).DetachFromDisposeScope();
        var wTrue = randn(new long[] { features, 1 }, generator: g);
        _y = (_x.matmul(wTrue) + 0.1 * randn(new long[] { 256, 1 }, generator: g)).DetachFromDisposeScope();
        _rowOrder = Array.Empty<int>();
        Parameters = new[]
        {
            new Parameter(zeros(features, 1), requires_grad: true),
            new Parameter(zeros(1), requires_grad: true),
        };
    }

    public IReadOnlyList<Parameter> Parameters { get; }

    public long TokensPerStep => _batch;

    public Tensor NextLoss()
    {
        var rows = new long[_batch];
        if (_batches is not null)
        {
            var batch = _batches[_step++];
            for (int i = 0; i < _batch; i++) rows[i] = batch[i];
        }
        else
        {
            for (int i = 0; i < _batch; i++) rows[i] = _rowOrder[(_cursor + i) % _rowOrder.Length];
            _cursor = (_cursor + _batch) % _rowOrder.Length;
        }
        using var index = tensor(rows);
        var x = _x.index_select(0, index);
        var y = _y.index_select(0, index);
        var prediction = x.matmul(Parameters[0]) + Parameters[1];
        return (prediction - y).pow(2).mean();
    }

    public void Dispose()
    {
        _x.Dispose();
        _y.Dispose();
        foreach (var p in Parameters) p.Dispose();
    }
}
