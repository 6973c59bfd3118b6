namespace Microsoft.ML.DiLoCo.Data;

/// <summary>
/// Training windows cut from a token stream: window i holds tokens [i·C, i·C + C] (C + 1 tokens, C = context
/// length): C inputs and, shifted by one, C targets. The stride is C, so consecutive windows share one token and
/// every token after the first is a target exactly once. A tail shorter than a window is dropped.
/// </summary>
internal sealed class PackedWindows
{
    private readonly int[] _tokens;

    /// <summary>Cuts <paramref name="tokens"/> into windows of <paramref name="contextLength"/> + 1 tokens.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="contextLength"/> is less than 1.</exception>
    /// <exception cref="ArgumentException">There are fewer than <paramref name="contextLength"/> + 1 tokens.</exception>
    public PackedWindows(int[] tokens, int contextLength)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        if (contextLength < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(contextLength), contextLength, "Context length must be at least 1.");
        }

        if (tokens.Length < contextLength + 1)
        {
            throw new ArgumentException(
                $"The text has {tokens.Length} tokens, but at least {contextLength + 1} are needed for one window of context length {contextLength}.",
                nameof(tokens));
        }

        _tokens = tokens;
        ContextLength = contextLength;
        Count = (tokens.Length - 1) / contextLength;
    }

    /// <summary>Number of input positions per window (C).</summary>
    public int ContextLength { get; }

    /// <summary>Tokens per window: C + 1.</summary>
    public int WindowLength => ContextLength + 1;

    /// <summary>Number of windows.</summary>
    public int Count { get; }

    /// <summary>Number of tokens in the stream the windows were cut from.</summary>
    public int TokenCount => _tokens.Length;

    /// <summary>The tokens of window <paramref name="index"/>.</summary>
    public ReadOnlySpan<int> GetWindow(int index)
    {
        if ((uint)index >= (uint)Count)
        {
            throw new ArgumentOutOfRangeException(nameof(index), index, $"Window index must be in [0, {Count}).");
        }

        return _tokens.AsSpan(index * ContextLength, WindowLength);
    }

    /// <summary>Copies window <paramref name="index"/> into the first <see cref="WindowLength"/> slots of <paramref name="destination"/>.</summary>
    public void CopyWindow(int index, Span<long> destination)
    {
        ReadOnlySpan<int> window = GetWindow(index);
        if (destination.Length < window.Length)
        {
            throw new ArgumentException($"Destination holds {destination.Length} tokens; a window has {window.Length}.", nameof(destination));
        }

        for (int i = 0; i < window.Length; i++)
        {
            destination[i] = window[i];
        }
    }
}
