namespace Microsoft.ML.DiLoCo.Data;

/// <summary>
/// Draws batches of windows from one worker's shard: each epoch walks the whole shard in an order shuffled by
/// (seed, epoch), then the next epoch reshuffles. A batch may span the end of one epoch and the start of the next,
/// so a shard smaller than a batch works too. The sequence of batches depends only on the seed.
/// </summary>
internal sealed class BatchSampler
{
    private readonly PackedWindows _windows;
    private readonly int[] _shard;
    private readonly int[] _order;
    private readonly int _seed;
    private int _position;
    private int _orderEpoch;

    /// <summary>Creates a sampler over <paramref name="shard"/> (indices into <paramref name="windows"/>).</summary>
    /// <exception cref="ArgumentException">The shard is empty or holds an index outside the windows.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batchSize"/> is less than 1.</exception>
    public BatchSampler(PackedWindows windows, int[] shard, int batchSize, int seed)
    {
        ArgumentNullException.ThrowIfNull(windows);
        ArgumentNullException.ThrowIfNull(shard);
        if (shard.Length == 0)
        {
            throw new ArgumentException("The shard holds no windows.", nameof(shard));
        }

        foreach (int index in shard)
        {
            if ((uint)index >= (uint)windows.Count)
            {
                throw new ArgumentException($"The shard holds window {index}; windows are numbered 0..{windows.Count - 1}.", nameof(shard));
            }
        }

        if (batchSize < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "Batch size must be at least 1.");
        }

        _windows = windows;
        _shard = (int[])shard.Clone();
        _order = new int[shard.Length];
        _seed = seed;
        BatchSize = batchSize;
        Shuffle(0);
    }

    /// <summary>Windows per batch.</summary>
    public int BatchSize { get; }

    /// <summary>Tokens per window (context length + 1).</summary>
    public int WindowLength => _windows.WindowLength;

    /// <summary>Number of token ids one batch fills: <see cref="BatchSize"/> × <see cref="WindowLength"/>.</summary>
    public int BatchTokenCount => BatchSize * WindowLength;

    /// <summary>Number of windows in the shard.</summary>
    public int ShardSize => _shard.Length;

    /// <summary>Number of complete passes over the shard so far.</summary>
    public int Epoch => (int)(WindowsServed / _shard.Length);

    /// <summary>Number of windows handed out so far.</summary>
    public long WindowsServed { get; private set; }

    /// <summary>
    /// Fills <paramref name="destination"/> (row-major, <see cref="BatchSize"/> rows of <see cref="WindowLength"/>
    /// token ids) with the next windows.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is not <see cref="BatchTokenCount"/> long.</exception>
    public void NextBatch(Span<long> destination)
    {
        int windowLength = WindowLength;
        if (destination.Length != BatchSize * windowLength)
        {
            throw new ArgumentException(
                $"Destination holds {destination.Length} tokens; a batch is {BatchSize} × {windowLength} = {BatchSize * windowLength}.",
                nameof(destination));
        }

        for (int row = 0; row < BatchSize; row++)
        {
            if (_position == _order.Length)
            {
                Shuffle(_orderEpoch + 1);
            }

            _windows.CopyWindow(_order[_position++], destination.Slice(row * windowLength, windowLength));
            WindowsServed++;
        }
    }

    /// <summary>Where the sampler stands: the epoch of the current order, the position in it, and the windows served.</summary>
    public SamplerPosition Position => new(_orderEpoch, _position, WindowsServed);

    /// <summary>Continues from a saved <see cref="Position"/>: the next batches are those the saved sampler would have drawn.</summary>
    /// <exception cref="InvalidDataException">The position does not fit this shard.</exception>
    public void Restore(SamplerPosition position)
    {
        if (position.OrderEpoch < 0 || position.Index < 0 || position.Index > _order.Length || position.WindowsServed < 0)
            throw new InvalidDataException($"Sampler position (epoch {position.OrderEpoch}, index {position.Index}) does not fit a shard of {_order.Length} windows.");
        Shuffle(position.OrderEpoch);
        _position = position.Index;
        WindowsServed = position.WindowsServed;
    }

    // The order of an epoch is a function of (seed, epoch) alone, so a run can be replayed from any epoch.
    private void Shuffle(int epoch)
    {
        _shard.CopyTo(_order, 0);
        new Random(MixSeed(_seed, epoch)).Shuffle(_order);
        _orderEpoch = epoch;
        _position = 0;
    }

    // SplitMix64 finaliser over (seed, epoch): nearby seeds and epochs give unrelated shuffles.
    private static int MixSeed(int seed, int epoch)
    {
        ulong z = ((ulong)(uint)seed << 32 | (uint)epoch) + 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        z ^= z >> 31;
        return (int)(z & int.MaxValue);
    }
}

/// <summary>A <see cref="BatchSampler"/>'s place in its stream of batches (its random state is a function of seed and epoch).</summary>
internal readonly record struct SamplerPosition(int OrderEpoch, int Index, long WindowsServed);
