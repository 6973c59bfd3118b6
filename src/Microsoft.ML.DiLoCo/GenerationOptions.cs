namespace Microsoft.ML.DiLoCo;

/// <summary>How text is sampled from a trained language model.</summary>
public sealed class GenerationOptions
{
    /// <summary>The most tokens to generate after the prompt (at least 0). Default 100.</summary>
    public int MaxNewTokens { get; set; } = 100;

    /// <summary>Divides the logits before sampling (at least 0; 0 means greedy: always the most likely token). Default 0.8.</summary>
    public float Temperature { get; set; } = 0.8f;

    /// <summary>Samples only among the <c>TopK</c> most likely tokens (at least 0; 0 turns it off). Default 0.</summary>
    public int TopK { get; set; }

    /// <summary>Samples only among the most likely tokens whose probabilities add up to <c>TopP</c> (nucleus sampling; in (0, 1]; 1 turns it off). Default 1.</summary>
    public float TopP { get; set; } = 1f;

    /// <summary>The seed of the sampler: the same seed, model and prompt give the same text. Null picks a random seed. Default null.</summary>
    public int? Seed { get; set; }

    /// <summary>Generation stops as soon as the text ends with one of these strings (which is then cut off). Default none.</summary>
    public string[] StopSequences { get; set; } = [];

    /// <summary>Returns a copy of these options (the stop sequences array is copied too).</summary>
    public GenerationOptions Clone()
    {
        var copy = (GenerationOptions)MemberwiseClone();
        copy.StopSequences = StopSequences is null ? [] : (string[])StopSequences.Clone();
        return copy;
    }

    /// <summary>Throws when an option is out of range; messages name the option as <c>{prefix}.{Name}</c>.</summary>
    internal void Validate(string prefix = "GenerationOptions")
    {
        if (MaxNewTokens < 0)
            throw new ArgumentOutOfRangeException($"{prefix}.{nameof(MaxNewTokens)}", MaxNewTokens, "must be at least 0.");
        if (!(Temperature >= 0f) || float.IsInfinity(Temperature))
            throw new ArgumentOutOfRangeException($"{prefix}.{nameof(Temperature)}", Temperature, "must be a finite number of at least 0 (0 = greedy).");
        if (TopK < 0)
            throw new ArgumentOutOfRangeException($"{prefix}.{nameof(TopK)}", TopK, "must be at least 0 (0 = off).");
        if (!(TopP > 0f && TopP <= 1f))
            throw new ArgumentOutOfRangeException($"{prefix}.{nameof(TopP)}", TopP, "must be in (0, 1] (1 = off).");
        if (StopSequences is null)
            throw new ArgumentNullException($"{prefix}.{nameof(StopSequences)}", "must not be null (use an empty array).");
        if (StopSequences.Any(string.IsNullOrEmpty))
            throw new ArgumentException($"{prefix}.{nameof(StopSequences)} must not contain null or empty strings.", $"{prefix}.{nameof(StopSequences)}");
    }
}
