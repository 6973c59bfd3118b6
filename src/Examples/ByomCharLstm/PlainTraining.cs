using Microsoft.ML.DiLoCo;
using TorchSharp;

namespace ByomCharLstm;

/// <summary>An ordinary TorchSharp training loop: one model, one optimizer, one process.</summary>
public static class PlainTraining
{
    /// <returns>The held-out loss of the trained model.</returns>
    public static float Train(CharCorpus corpus, ExampleSettings settings)
    {
        torch.manual_seed(settings.Seed);
        using var model = new CharLstm(corpus.VocabularySize);
        using var optimizer = ScalarSafeOptimizer.Adam(model.parameters(), settings.LearningRate);

        using var batches = corpus.Batches(settings.Seed, settings.BatchSize, settings.SequenceLength).GetEnumerator();
        for (int step = 1; step <= settings.Steps; step++)
        {
            using var scope = torch.NewDisposeScope();
            batches.MoveNext();
            var (inputs, targets) = batches.Current;
            optimizer.zero_grad();
            var loss = model.Loss(inputs, targets);
            loss.backward();
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0);
            optimizer.step();
            if (step % 50 == 0) settings.Log?.Invoke($"step {step}: loss {loss.item<float>():F3}");
        }

        return corpus.ValidationLoss(model);
    }
}
