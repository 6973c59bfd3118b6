namespace Microsoft.ML.DiLoCo.Data;

/// <summary>Splits windows between workers so that each worker trains on its own data.</summary>
internal static class WorkerShards
{
    /// <summary>
    /// Shuffles the window indices 0..<paramref name="windowCount"/>-1 with a seeded <see cref="Random"/> and deals
    /// them round-robin: the shards are disjoint, cover every window, and differ in size by at most one.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="workers"/> is less than 1.</exception>
    /// <exception cref="ArgumentException">There are fewer windows than workers.</exception>
    public static int[][] Deal(int windowCount, int workers, int seed)
    {
        if (workers < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(workers), workers, "The number of workers must be at least 1.");
        }

        if (windowCount < workers)
        {
            throw new ArgumentException(
                $"There are {windowCount} training windows for {workers} workers; every worker needs at least one. Add text or shorten the context length.",
                nameof(windowCount));
        }

        int[] order = new int[windowCount];
        for (int i = 0; i < windowCount; i++)
        {
            order[i] = i;
        }

        new Random(seed).Shuffle(order);

        var shards = new int[workers][];
        for (int w = 0; w < workers; w++)
        {
            // Worker w gets positions w, w + M, w + 2M, …: the first (windowCount mod M) workers get one more.
            int size = windowCount / workers + (w < windowCount % workers ? 1 : 0);
            var shard = new int[size];
            for (int k = 0; k < size; k++)
            {
                shard[k] = order[w + k * workers];
            }

            shards[w] = shard;
        }

        return shards;
    }
}
