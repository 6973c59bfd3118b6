using System.Diagnostics;
using Microsoft.ML.DiLoCo.Model;
using static TorchSharp.torch;

namespace Microsoft.ML.DiLoCo.Tests.Model;

/// <summary>Generation with the key/value cache equals the no-cache reference, token for token.</summary>
[TestClass]
public sealed class KeyValueCacheGenerationTests
{
    private static TransformerLanguageModel Model(PositionEncoding positions, int context, int embedding = 32, int layers = 2)
    {
        manual_seed(23);
        var model = new TransformerLanguageModel(new TransformerOptions
        {
            ContextLength = context, EmbeddingSize = embedding, NumberOfLayers = layers, NumberOfHeads = 4, PositionEncoding = positions,
        }, vocabularySize: 257);
        model.eval();
        return model;
    }

    [TestMethod]
    [DataRow(PositionEncoding.Learned)]
    [DataRow(PositionEncoding.Rotary)]
    public void CachedLogits_MatchTheFullForward_AtEveryPosition(PositionEncoding positions)
    {
        using var model = Model(positions, context: 12);
        long[] ids = [256, 72, 101, 108, 108, 111, 32, 119, 111, 114, 108, 100];
        using var noGrad = no_grad();
        using var full = model.forward(tensor(ids).unsqueeze(0));          // [1, 12, V]
        using var cache = new KeyValueCache(model);
        using (var prompt = model.ForwardCached(tensor(ids[..4]).unsqueeze(0), cache))
            Assert.IsTrue(prompt.allclose(full[0, 3].unsqueeze(0), rtol: 1e-4, atol: 1e-5), "prompt of 4 tokens");
        for (int i = 4; i < ids.Length; i++)
        {
            using var step = model.ForwardCached(tensor(new[] { ids[i] }).unsqueeze(0), cache);
            Assert.IsTrue(step.allclose(full[0, i].unsqueeze(0), rtol: 1e-4, atol: 1e-5), $"position {i}");
        }
        Assert.AreEqual(12, cache.Length);
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => model.ForwardCached(tensor(new[] { 1L }).unsqueeze(0), cache), "the cache is full");
    }

    [TestMethod]
    [DataRow(PositionEncoding.Learned)]
    [DataRow(PositionEncoding.Rotary)]
    public void GreedyWithCache_EqualsTheNoCacheReference_WithinAndPastTheContext(PositionEncoding positions)
    {
        using var model = Model(positions, context: 16);
        int[] prompt = [256, 84, 104, 101, 32];
        // 40 new tokens: the first 11 fill the context from the cache, the rest re-encode the last 16 tokens.
        var cached = TextGeneration.Sample(model, prompt, 40, 0f, 0, 1f, seed: 1, CPU, useCache: true).ToArray();
        var reference = TextGeneration.Sample(model, prompt, 40, 0f, 0, 1f, seed: 1, CPU, useCache: false).ToArray();
        CollectionAssert.AreEqual(reference, cached);
    }

    [TestMethod]
    public void SampledWithCache_EqualsTheNoCacheReference_ForTheSameSeed()
    {
        using var model = Model(PositionEncoding.Rotary, context: 32);
        int[] prompt = [256, 65];
        var cached = TextGeneration.Sample(model, prompt, 25, 0.9f, 40, 0.95f, seed: 5, CPU, useCache: true).ToArray();
        var reference = TextGeneration.Sample(model, prompt, 25, 0.9f, 40, 0.95f, seed: 5, CPU, useCache: false).ToArray();
        CollectionAssert.AreEqual(reference, cached);
    }

    [TestMethod]
    public void Speed_CachedVersusNoCache_Printed()
    {
        using var model = Model(PositionEncoding.Learned, context: 128, embedding: 128, layers: 2);
        int[] prompt = [256, 84];
        _ = TextGeneration.Sample(model, prompt, 3, 0f, 0, 1f, 1, CPU, useCache: true).ToArray();  // warm-up
        var timer = Stopwatch.StartNew();
        var cached = TextGeneration.Sample(model, prompt, 120, 0f, 0, 1f, 1, CPU, useCache: true).ToArray();
        double cachedSeconds = timer.Elapsed.TotalSeconds;
        timer.Restart();
        var reference = TextGeneration.Sample(model, prompt, 120, 0f, 0, 1f, 1, CPU, useCache: false).ToArray();
        double referenceSeconds = timer.Elapsed.TotalSeconds;
        CollectionAssert.AreEqual(reference, cached);
        Console.WriteLine($"120 greedy tokens, d=128, 2 layers, context 128: cache {120 / cachedSeconds:F0} tokens/s, no cache {120 / referenceSeconds:F0} tokens/s ({referenceSeconds / cachedSeconds:F1}×)");
    }
}
