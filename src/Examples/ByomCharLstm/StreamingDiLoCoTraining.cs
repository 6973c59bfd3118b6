using Microsoft.ML.DiLoCo;
using Microsoft.ML.DiLoCo.Communication;
using TorchSharp;

namespace ByomCharLstm;

/// <summary>The loop of <see cref="PlainTraining"/> with Streaming DiLoCo added (docs/byom.md shows the diff).</summary>
public static class StreamingDiLoCoTraining
{
    /// <returns>The held-out loss of the trained model.</returns>
    public static float Train(CharCorpus corpus, ExampleSettings settings, ICollective collective, StreamingDiLoCoOptions options)
    {
        torch.manual_seed(settings.Seed);
        using var model = new CharLstm(corpus.VocabularySize);
        using var optimizer = ScalarSafeOptimizer.Adam(model.parameters(), settings.LearningRate);
        using var diloco = new StreamingDiLoCo(model, optimizer, collective, options);

        using var batches = corpus.Batches(settings.Seed + collective.Rank, settings.BatchSize, settings.SequenceLength).GetEnumerator();
        for (int step = 1; step <= settings.Steps; step++)
        {
            using var scope = torch.NewDisposeScope();
            batches.MoveNext();
            var (inputs, targets) = batches.Current;
            optimizer.zero_grad();
            var loss = model.Loss(inputs, targets);
            loss.backward();
            diloco.AverageGradients();  // data-parallel: averages the gradients; otherwise does nothing
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0);
            optimizer.step();
            diloco.Step();
            if (step % 50 == 0) settings.Log?.Invoke($"step {step}: loss {loss.item<float>():F3}");
        }

        diloco.Finish();
        diloco.CopyOuterParametersTo(model);  // the model to keep is θ̂
        settings.Log?.Invoke(ReportText.Of(diloco.Report));
        return corpus.ValidationLoss(model);
    }
}
