using TorchSharp;

namespace Microsoft.ML.DiLoCo.Training;

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
}
