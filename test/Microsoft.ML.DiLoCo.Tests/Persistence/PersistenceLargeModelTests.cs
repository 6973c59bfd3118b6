using System.Diagnostics;
using Microsoft.ML.DiLoCo.Model;
using Microsoft.ML.DiLoCo.Tokenization;
using static TorchSharp.torch;

namespace Microsoft.ML.DiLoCo.Tests.Persistence;

/// <summary>
/// The 100M+ parameter proof (docs/persistence.md): save, load in a fresh process, score one row bit-identically.
/// Slow (about a minute, 0.9 GB of disk): skipped unless DILOCO_SLOW_TESTS=1, e.g.
/// <c>DILOCO_SLOW_TESTS=1 bash build/test.sh --filter "FullyQualifiedName~PersistenceLargeModelTests" --output detailed</c>.
/// </summary>
[TestClass]
public sealed class PersistenceLargeModelTests
{
    [TestMethod]
    [TestCategory("Slow")]
    public void HundredMillionParameters_SaveLoadInAFreshProcessAndScore()
    {
        if (Environment.GetEnvironmentVariable("DILOCO_SLOW_TESTS") != "1")
            Assert.Inconclusive("Slow: set DILOCO_SLOW_TESTS=1 to run.");
        string directory = SavedModels.TempDirectory();
        try
        {
            var timer = Stopwatch.StartNew();
            manual_seed(3);
            var options = new TransformerOptions { ContextLength = 128, EmbeddingSize = 768, NumberOfLayers = 15, NumberOfHeads = 12 };
            var tokenizer = LanguageModelTokenizer.Create(TokenizerKind.Bytes);
            var model = new LanguageModelTransformer(new TransformerLanguageModel(options, tokenizer.VocabularySize), tokenizer, "Text", report: null);
            Assert.IsTrue(model.ParameterCount >= 100_000_000, $"{model.ParameterCount:N0} parameters");
            double build = timer.Elapsed.TotalSeconds;

            var ml = new MLContext(seed: 1);
            string text = "The state of the union is strong, and the weights survive the trip.";
            var engine = ml.Model.CreatePredictionEngine<SavedModels.Input, SavedModels.Output>(model);
            var expected = engine.Predict(new SavedModels.Input { Text = text });

            timer.Restart();
            string path = SavedModels.Save(ml, model, directory);
            double save = timer.Elapsed.TotalSeconds;

            timer.Restart();
            var loaded = LanguageModelTransformer.Load(path);
            double loadInProcess = timer.Elapsed.TotalSeconds;
            Assert.AreEqual(model.ParameterCount, loaded.ParameterCount);

            timer.Restart();
            var lines = PersistenceSaveLoadTests.RunFreshProcess(path, [text], out long peak);
            double fresh = timer.Elapsed.TotalSeconds;
            Assert.AreEqual($"score {BitConverter.SingleToInt32Bits(expected.Loss):x8} {BitConverter.SingleToInt32Bits(expected.Perplexity):x8} {expected.TokenCount}", lines[0]);

            Console.WriteLine($"{model.ParameterCount:N0} parameters, zip {new FileInfo(path).Length / 1e6:F0} MB: build {build:F1} s, " +
                              $"save {save:F1} s, load in process {loadInProcess:F1} s, fresh process (start + load + score one row + generate 10 tokens) {fresh:F1} s, " +
                              $"its peak working set {peak / 1e6:F0} MB");
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}
