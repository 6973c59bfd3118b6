using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.DiLoCo.Model;

/// <summary>
/// Autoregressive sampling. With the key/value cache (the default) the prompt is read once and each new token
/// costs one position; once prompt and output exceed ContextLength, every step re-encodes the last ContextLength
/// tokens (absolute positions shift by one each step, so cached keys would be stale), exactly as without the cache.
/// Sampling itself runs on the CPU with System.Random, so a seed gives the same tokens on any device.
/// </summary>
internal static class TextGeneration
{
    /// <summary>
    /// Yields up to <paramref name="maxNewTokens"/> token ids following the prompt, lazily (the caller may stop early).
    /// Temperature 0 is greedy; topK 0 and topP 1 turn those filters off. Each step runs in eval mode under no_grad
    /// and restores the model's training mode before yielding. A prompt longer than the context is read from its
    /// last ContextLength tokens, as every later step is.
    /// </summary>
    public static IEnumerable<int> Sample(
        TransformerLanguageModel model, int[] promptIds, int maxNewTokens, float temperature, int topK, float topP, int seed, Device device,
        bool useCache = true)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(promptIds);
        ArgumentNullException.ThrowIfNull(device);
        if (promptIds.Length == 0)
            throw new ArgumentException("The prompt must hold at least one token (start with the end-of-text token for an empty prompt).", nameof(promptIds));
        foreach (int id in promptIds)
            if (id < 0 || id >= model.VocabularySize)
                throw new ArgumentOutOfRangeException(nameof(promptIds), id, $"Token ids must be in [0, {model.VocabularySize}).");
        ArgumentOutOfRangeException.ThrowIfNegative(maxNewTokens);
        if (!(temperature >= 0f) || float.IsInfinity(temperature))
            throw new ArgumentOutOfRangeException(nameof(temperature), temperature, "must be a finite number of at least 0 (0 = greedy).");
        ArgumentOutOfRangeException.ThrowIfNegative(topK);
        if (!(topP > 0f && topP <= 1f))
            throw new ArgumentOutOfRangeException(nameof(topP), topP, "must be in (0, 1] (1 = off).");
        return SampleTokens(model, promptIds, maxNewTokens, temperature, topK, topP, seed, device, useCache);
    }

    private static IEnumerable<int> SampleTokens(
        TransformerLanguageModel model, int[] promptIds, int maxNewTokens, float temperature, int topK, float topP, int seed, Device device,
        bool useCache)
    {
        var random = new Random(seed);
        // Only the last ContextLength tokens are ever read. Keeping ContextLength + 1 of a longer prompt keeps it
        // longer than the context, so the same (uncached) path runs as with the whole prompt, and a 100 MB prompt
        // costs no more than its encoding.
        int kept = Math.Min(promptIds.Length, model.Options.ContextLength + 1);
        var context = new List<long>(kept + Math.Min(maxNewTokens, 1 << 16));
        foreach (int id in promptIds.AsSpan(promptIds.Length - kept)) context.Add(id);
        using var cache = useCache && maxNewTokens > 0 ? new KeyValueCache(model) : null;
        for (int step = 0; step < maxNewTokens; step++)
        {
            float[] logits = cache is null || context.Count > model.Options.ContextLength
                ? NextTokenLogits(model, context, device)
                : NextTokenLogitsCached(model, context, cache, device);
            int next = Choose(logits, temperature, topK, topP, random);
            context.Add(next);
            yield return next;
        }
    }

    private static float[] NextTokenLogits(TransformerLanguageModel model, List<long> context, Device device)
    {
        bool wasTraining = model.training;
        model.eval();
        try
        {
            using var noGrad = no_grad();
            using var scope = NewDisposeScope();
            int length = Math.Min(context.Count, model.Options.ContextLength);
            var window = context.GetRange(context.Count - length, length).ToArray();
            var tokens = tensor(window, dtype: ScalarType.Int64, device: device).unsqueeze(0);
            var last = model.forward(tokens)[0, -1].to(ScalarType.Float32).cpu();
            return last.data<float>().ToArray();
        }
        finally
        {
            model.train(wasTraining);
        }
    }

    // The cache holds every token but the last (or nothing, before the prompt is read): feed what it lacks.
    private static float[] NextTokenLogitsCached(TransformerLanguageModel model, List<long> context, KeyValueCache cache, Device device)
    {
        bool wasTraining = model.training;
        model.eval();
        try
        {
            using var noGrad = no_grad();
            using var scope = NewDisposeScope();
            var fresh = cache.Length == 0 ? context.ToArray() : [context[^1]];
            var tokens = tensor(fresh, dtype: ScalarType.Int64, device: device).unsqueeze(0);
            var last = model.ForwardCached(tokens, cache)[0].to(ScalarType.Float32).cpu();
            return last.data<float>().ToArray();
        }
        finally
        {
            model.train(wasTraining);
        }
    }

    /// <summary>Picks a token from raw logits: greedy at temperature 0, else softmax(logits / T) restricted by top-k and top-p.</summary>
    internal static int Choose(float[] logits, float temperature, int topK, float topP, Random random)
    {
        if (temperature == 0f)
            return ArgMax(logits);

        // Token ids by descending logit; ties keep the lower id first so the order is deterministic.
        var order = Enumerable.Range(0, logits.Length).ToArray();
        Array.Sort(order, (a, b) => logits[b] != logits[a] ? logits[b].CompareTo(logits[a]) : a.CompareTo(b));
        int kept = topK > 0 ? Math.Min(topK, order.Length) : order.Length;

        double max = logits[order[0]] / (double)temperature;
        var weights = new double[kept];
        double total = 0;
        for (int i = 0; i < kept; i++)
            total += weights[i] = Math.Exp(logits[order[i]] / (double)temperature - max);

        if (topP < 1f)
        {
            // Keep the smallest prefix whose probability reaches topP (always at least the top token).
            double cumulative = 0;
            int nucleus = 0;
            while (nucleus < kept && cumulative < topP * total)
                cumulative += weights[nucleus++];
            kept = Math.Max(nucleus, 1);
            total = weights.Take(kept).Sum();
        }

        double draw = random.NextDouble() * total;
        for (int i = 0; i < kept; i++)
        {
            draw -= weights[i];
            if (draw < 0)
                return order[i];
        }
        return order[kept - 1];
    }

    private static int ArgMax(float[] values)
    {
        int best = 0;
        for (int i = 1; i < values.Length; i++)
            if (values[i] > values[best])
                best = i;
        return best;
    }
}
