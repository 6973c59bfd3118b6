using Microsoft.ML.DiLoCo.Training;
using Microsoft.ML.DiLoCo.Data;
using Microsoft.ML.DiLoCo.Model;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.DiLoCo.Runs;

/// <summary>A worker's transformer and its shard of packed windows: next-token loss on the next batch.</summary>
internal sealed class TransformerReplica : IReplica
{
    private readonly TransformerLanguageModel _model;
    private readonly BatchSampler _sampler;
    private readonly Device _device;
    private readonly long[] _batch;
    private readonly long[] _shape;

    public TransformerReplica(TransformerLanguageModel model, BatchSampler sampler, Device device)
    {
        _model = model;
        _sampler = sampler;
        _device = device;
        _batch = new long[sampler.BatchTokenCount];
        _shape = new long[] { sampler.BatchSize, sampler.WindowLength };
        Parameters = model.parameters().ToArray();
        TokensPerStep = (long)sampler.BatchSize * (sampler.WindowLength - 1);
    }

    public IReadOnlyList<Parameter> Parameters { get; }

    public long TokensPerStep { get; }

    public TransformerLanguageModel Model => _model;

    /// <summary>The worker's batch sampler (checkpoints save its position).</summary>
    public BatchSampler Sampler => _sampler;

    public Tensor NextLoss()
    {
        _sampler.NextBatch(_batch);
        var windows = tensor(_batch, _shape).to(_device);
        long length = _shape[1];
        var inputs = windows.narrow(1, 0, length - 1);
        var targets = windows.narrow(1, 1, length - 1);
        return _model.Loss(inputs, targets);
    }

    public void Dispose() => _model.Dispose();
}
