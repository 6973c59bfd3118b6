namespace Microsoft.ML.DiLoCo.Scoring;

/// <summary>
/// One context window of a text being scored. Positions index the text's sequence (end-of-text, then its tokens);
/// targets are the tokens, so position k predicts token k.
/// </summary>
/// <param name="Text">Index of the text.</param>
/// <param name="Begin">First input position in the text's sequence.</param>
/// <param name="Length">Inputs (and targets) in the window.</param>
/// <param name="FirstCounted">First position of the window whose target is scored here (earlier ones were scored by an
/// earlier window); negative or 0 means all of them.</param>
internal readonly record struct ScoringWindow(int Text, int Begin, int Length, int FirstCounted)
{
    /// <summary>
    /// The windows that cover a text of <paramref name="targets"/> tokens, in order and lazily (a list of every window of
    /// a 100 MB text at stride 1 would take gigabytes): each advances by <paramref name="stride"/> and scores only targets
    /// no earlier window scored, so each target sees at least <paramref name="context"/> − stride tokens of context.
    /// </summary>
    public static IEnumerable<ScoringWindow> Cover(int text, int targets, int context, int stride)
    {
        for (int begin = 0, scored = 0; scored < targets; begin += stride)
        {
            int length = Math.Min(context, targets - begin);
            yield return new ScoringWindow(text, begin, length, scored - begin);
            scored = begin + length;
        }
    }

    /// <summary>How many windows one scoring forward pass holds.</summary>
    /// <remarks>
    /// On the CPU, measured (`bash build/bench.sh scoring`, batch table): bytes score fastest at 16–32 windows a pass
    /// (64 was ~12 % slower), and the GPT-2 vocabulary at one window, because logits over 32 MB leave glibc's heap for
    /// mmap, so every pass page-faults them in again: at most 8 M logits (32 MB) and 32 windows. A GPU wants big
    /// batches and has no such allocator: about 64 M logits (256 MB) and 64 windows.
    /// </remarks>
    public static int PerForwardPass(int context, int vocabulary, bool gpu)
    {
        long logitsBound = gpu ? 64L << 20 : 8L << 20;
        return (int)Math.Clamp(logitsBound / ((long)context * vocabulary), 1, gpu ? 64 : 32);
    }
}
