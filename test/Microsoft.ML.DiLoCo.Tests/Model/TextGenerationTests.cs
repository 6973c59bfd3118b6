using Microsoft.ML.DiLoCo.Model;
using static TorchSharp.torch;

namespace Microsoft.ML.DiLoCo.Tests.Model;

[TestClass]
public sealed class TextGenerationTests
{
    private static TransformerLanguageModel TinyModel(PositionEncoding positions = PositionEncoding.Learned)
    {
        manual_seed(11);
        return new TransformerLanguageModel(new TransformerOptions
        {
            ContextLength = 8, EmbeddingSize = 16, NumberOfLayers = 1, NumberOfHeads = 2, PositionEncoding = positions,
        }, vocabularySize: 257);
    }

    [TestMethod]
    [DataRow(PositionEncoding.Learned)]
    [DataRow(PositionEncoding.Rotary)]
    public void Greedy_IsDeterministicAndInRange_PastTheContextLength(PositionEncoding positions)
    {
        using var model = TinyModel(positions);
        int[] prompt = [72, 101, 108, 108, 111];
        var first = TextGeneration.Sample(model, prompt, 20, temperature: 0f, topK: 0, topP: 1f, seed: 1, CPU).ToArray();
        var second = TextGeneration.Sample(model, prompt, 20, temperature: 0f, topK: 0, topP: 1f, seed: 99, CPU).ToArray();
        Assert.AreEqual(20, first.Length);
        CollectionAssert.AreEqual(first, second);
        Assert.IsTrue(first.All(t => t is >= 0 and < 257));
    }

    [TestMethod]
    public void Greedy_TakesTheMostLikelyNextToken()
    {
        using var model = TinyModel();
        int[] prompt = [1, 2, 3];
        int next = TextGeneration.Sample(model, prompt, 1, 0f, 0, 1f, 0, CPU).Single();
        model.eval();
        using var tokens = tensor(new long[] { 1, 2, 3 }).unsqueeze(0);
        using var logits = model.forward(tokens);
        Assert.AreEqual(logits[0, -1].argmax().item<long>(), next);
    }

    [TestMethod]
    public void Sampling_IsDeterministicForASeed_AndRestoresTrainingMode()
    {
        using var model = TinyModel();
        model.train();
        int[] prompt = [10, 20];
        var a = TextGeneration.Sample(model, prompt, 30, 1.0f, 0, 1f, seed: 5, CPU).ToArray();
        var b = TextGeneration.Sample(model, prompt, 30, 1.0f, 0, 1f, seed: 5, CPU).ToArray();
        var c = TextGeneration.Sample(model, prompt, 30, 1.0f, 0, 1f, seed: 6, CPU).ToArray();
        CollectionAssert.AreEqual(a, b);
        CollectionAssert.AreNotEqual(a, c);
        Assert.IsTrue(model.training);
    }

    [TestMethod]
    public void Sample_ValidatesEagerly()
    {
        using var model = TinyModel();
        Assert.ThrowsExactly<ArgumentException>(() => TextGeneration.Sample(model, [], 5, 0f, 0, 1f, 0, CPU));
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => TextGeneration.Sample(model, [257], 5, 0f, 0, 1f, 0, CPU));
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => TextGeneration.Sample(model, [1], 5, -1f, 0, 1f, 0, CPU));
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => TextGeneration.Sample(model, [1], 5, 1f, 0, 0f, 0, CPU));
    }

    [TestMethod]
    public void Choose_TopKAndTopP_KeepOnlyTheMostLikelyTokens()
    {
        float[] logits = [0f, 3f, 1f, 2.9f, -1f];
        var random = new Random(0);
        var topTwo = Enumerable.Range(0, 500).Select(_ => TextGeneration.Choose(logits, 1f, 2, 1f, random)).ToHashSet();
        CollectionAssert.AreEquivalent(new[] { 1, 3 }, topTwo.ToArray());
        // p(1) ≈ 0.46, p(3) ≈ 0.42: a nucleus of 0.3 holds token 1 alone, 0.6 holds tokens 1 and 3.
        var tiny = Enumerable.Range(0, 200).Select(_ => TextGeneration.Choose(logits, 1f, 0, 0.3f, random)).ToHashSet();
        CollectionAssert.AreEquivalent(new[] { 1 }, tiny.ToArray());
        var nucleus = Enumerable.Range(0, 500).Select(_ => TextGeneration.Choose(logits, 1f, 0, 0.6f, random)).ToHashSet();
        CollectionAssert.AreEquivalent(new[] { 1, 3 }, nucleus.ToArray());
        var all = Enumerable.Range(0, 2000).Select(_ => TextGeneration.Choose(logits, 1f, 0, 1f, random)).ToHashSet();
        CollectionAssert.AreEquivalent(new[] { 0, 1, 2, 3, 4 }, all.ToArray());
        Assert.AreEqual(1, TextGeneration.Choose(logits, 0f, 0, 1f, random));
    }

    [TestMethod]
    public void Choose_FollowsTheSoftmaxDistribution()
    {
        float[] logits = [0f, (float)Math.Log(3)];   // probabilities 1/4 and 3/4
        var random = new Random(1);
        int ones = Enumerable.Range(0, 4000).Count(_ => TextGeneration.Choose(logits, 1f, 0, 1f, random) == 1);
        Assert.AreEqual(0.75, ones / 4000.0, 0.03);
        // Temperature 2 flattens to sqrt(3) : 1, i.e. p(1) ≈ 0.634.
        int hot = Enumerable.Range(0, 4000).Count(_ => TextGeneration.Choose(logits, 2f, 0, 1f, random) == 1);
        Assert.AreEqual(Math.Sqrt(3) / (1 + Math.Sqrt(3)), hot / 4000.0, 0.03);
    }
}
