using TorchSharp;

namespace Microsoft.ML.DiLoCo.Runs;

/// <summary>Parses device strings ("cpu", "cuda", "cuda:N") and places workers on them round-robin.</summary>
internal static class WorkerDevices
{
    /// <summary>Throws <see cref="ArgumentException"/> naming the option when a device is unknown or absent.</summary>
    public static torch.Device[] Parse(string[]? devices, string optionName = "Devices")
    {
        if (devices is null || devices.Length == 0)
            throw new ArgumentException($"{optionName} must name at least one device (\"cpu\", \"cuda\" or \"cuda:N\").", optionName);
        var result = new torch.Device[devices.Length];
        for (int i = 0; i < devices.Length; i++)
        {
            string text = (devices[i] ?? "").Trim().ToLowerInvariant();
            if (text == "cpu")
            {
                result[i] = torch.CPU;
                continue;
            }
            int index = 0;
            bool isCuda = text == "cuda" || (text.StartsWith("cuda:", StringComparison.Ordinal) && int.TryParse(text.AsSpan(5), out index) && index >= 0);
            if (!isCuda)
                throw new ArgumentException($"{optionName}[{i}] = \"{devices[i]}\" is not a device; use \"cpu\", \"cuda\" or \"cuda:N\".", optionName);
            if (!torch.cuda.is_available())
                throw new ArgumentException($"{optionName}[{i}] = \"{devices[i]}\": CUDA is not available in this process (this build uses the CPU libtorch; build with -p:LibTorchBackend=cuda on a machine with a GPU).", optionName);
            if (index >= torch.cuda.device_count())
                throw new ArgumentException($"{optionName}[{i}] = \"{devices[i]}\": only {torch.cuda.device_count()} CUDA device(s) are present.", optionName);
            result[i] = new torch.Device(DeviceType.CUDA, index);
        }
        return result;
    }

    /// <summary>The device of worker <paramref name="worker"/>: round-robin over the list.</summary>
    public static torch.Device Of(torch.Device[] devices, int worker) => devices[worker % devices.Length];

    /// <summary>
    /// Variables in which MPI launchers give a process its index among the processes on the same machine: Open MPI's
    /// mpirun, Slurm's srun, and MPICH / Intel MPI's Hydra.
    /// </summary>
    public static readonly string[] LocalRankVariables = { "OMPI_COMM_WORLD_LOCAL_RANK", "SLURM_LOCALID", "MPI_LOCALRANKID" };

    /// <summary>
    /// The slot in the device list of local worker <paramref name="localWorker"/> of this process: with several MPI ranks
    /// on one machine, rank r's workers take the slots after those of ranks 0..r−1 on that machine, so "cuda:0, cuda:1"
    /// with two ranks of one worker each puts one rank on each GPU (not both on cuda:0). In-process, or when no launcher
    /// variable is set, the local worker index.
    /// </summary>
    /// <exception cref="InvalidOperationException">A launcher variable holds something other than a non-negative integer.</exception>
    public static int SlotOf(int localWorker, int workersPerProcess, bool underMpi, Func<string, string?> environment)
    {
        if (!underMpi) return localWorker;
        foreach (string name in LocalRankVariables)
        {
            string? value = environment(name);
            if (value is null) continue;
            if (!int.TryParse(value, out int localRank) || localRank < 0)
                throw new InvalidOperationException($"The MPI launcher set {name} = \"{value}\", which is not a local rank; the device of each rank cannot be chosen.");
            return localRank * workersPerProcess + localWorker;
        }
        return localWorker;
    }
}
