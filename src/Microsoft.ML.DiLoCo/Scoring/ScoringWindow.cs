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
    /// On the CPU (`bash build/bench.sh scoring`, windows table): GPT-2-vocabulary windows scored fastest one or two to
    /// a pass, not the ten that a 256 MB bound allows: logits over 32 MB leave glibc's heap for mmap, so each pass
    /// page-faults them in again. Hence at most 8 M logits (32 MB; one GPT-2 window is 25 MB). Byte-level windows
    /// showed no optimum between 4 and 64 a pass that held across runs (one run: 64 about 12 % slower than 16–32;
    /// the next: flat within noise), so 32. A GPU wants big batches and has no such allocator: 64 M logits, 64 windows.
    /// </remarks>
    public static int PerForwardPass(int context, int vocabulary, bool gpu)
    {
        long logitsBound = gpu ? 64L << 20 : 8L << 20;
        return (int)Math.Clamp(logitsBound / ((long)context * vocabulary), 1, gpu ? 64 : 32);
    }
}
