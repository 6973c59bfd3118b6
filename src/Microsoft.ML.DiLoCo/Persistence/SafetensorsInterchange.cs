using System.Buffers.Binary;
using System.Text.Json;
using Microsoft.ML.DiLoCo.Model;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace Microsoft.ML.DiLoCo.Persistence;

/// <summary>
/// The outer parameters as a safetensors file (TorchSharp.PyBridge writes and reads it), under the documented
/// parameter names (docs/parameter-names.md), FP32, so that <c>safetensors.torch.load_file</c> feeds an equivalent
/// PyTorch module. Before PyBridge allocates anything, the header is checked against the architecture.
/// </summary>
internal static class SafetensorsInterchange
{
    private const long MaximumHeaderBytes = 100 << 20;

    public static void Export(TransformerLanguageModel model, string path)
    {
        using var scope = NewDisposeScope();
        var tensors = model.named_parameters().ToDictionary(p => p.name, p => p.parameter.detach().to(ScalarType.Float32, CPU).contiguous());
        Safetensors.SaveStateDict(path, tensors);
    }

    /// <exception cref="InvalidDataException">The file's tensors are not exactly the architecture's parameters in FP32.</exception>
    public static TransformerLanguageModel Import(string path, TransformerOptions architecture, int vocabularySize)
    {
        var layout = ParameterLayout.Of(architecture, vocabularySize);
        CheckHeader(path, layout);
        var model = new TransformerLanguageModel(architecture, vocabularySize);
        try
        {
            var loaded = Safetensors.LoadStateDict(path);
            using var noGrad = no_grad();
            foreach (var (name, parameter) in model.named_parameters())
            {
                using var tensor = loaded[name];
                parameter.copy_(tensor);
            }
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    private static void CheckHeader(string path, IReadOnlyList<(string Name, long[] Shape)> layout)
    {
        using var file = File.OpenRead(path);
        Span<byte> prefix = stackalloc byte[8];
        if (file.Length < 8 || file.Read(prefix) != 8)
            throw new InvalidDataException($"'{path}' is too short for a safetensors file.");
        long headerLength = BinaryPrimitives.ReadInt64LittleEndian(prefix);
        if (headerLength < 2 || headerLength > MaximumHeaderBytes || headerLength > file.Length - 8)
            throw new InvalidDataException($"'{path}' declares a {headerLength}-byte safetensors header; the file has {file.Length} bytes.");
        var header = new byte[headerLength];
        file.ReadExactly(header);
        using var json = ParseHeader(header, path);

        var expected = layout.ToDictionary(p => p.Name, p => p.Shape);
        var found = new HashSet<string>();
        long dataLength = 0;
        foreach (var entry in json.RootElement.EnumerateObject())
        {
            if (entry.Name == "__metadata__")
                continue;
            if (!expected.TryGetValue(entry.Name, out var shape))
                throw new InvalidDataException($"'{path}' holds tensor '{entry.Name}', which the architecture does not have.");
            var t = entry.Value;
            string dtype = t.TryGetProperty("dtype", out var d) ? d.GetString() ?? "" : "";
            if (dtype != "F32")
                throw new InvalidDataException($"Tensor '{entry.Name}' is {dtype}; import expects F32.");
            var fileShape = t.GetProperty("shape").EnumerateArray().Select(e => e.GetInt64()).ToArray();
            if (!fileShape.SequenceEqual(shape))
                throw new InvalidDataException($"Tensor '{entry.Name}' has shape [{string.Join(", ", fileShape)}]; the architecture expects [{string.Join(", ", shape)}].");
            var offsets = t.GetProperty("data_offsets").EnumerateArray().Select(e => e.GetInt64()).ToArray();
            if (offsets.Length != 2 || offsets[1] - offsets[0] != ParameterLayout.Elements(shape) * 4)
                throw new InvalidDataException($"Tensor '{entry.Name}' has data offsets [{string.Join(", ", offsets)}] that do not fit its shape.");
            dataLength = Math.Max(dataLength, offsets[1]);
            found.Add(entry.Name);
        }
        var missing = expected.Keys.Where(k => !found.Contains(k)).ToList();
        if (missing.Count > 0)
            throw new InvalidDataException($"'{path}' lacks tensor(s) {string.Join(", ", missing)}.");
        if (8 + headerLength + dataLength != file.Length)
            throw new InvalidDataException($"'{path}' has {file.Length} bytes; its header describes {8 + headerLength + dataLength}.");
    }

    private static JsonDocument ParseHeader(byte[] header, string path)
    {
        try
        {
            return JsonDocument.Parse(header);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"'{path}' has no valid safetensors header: {e.Message}", e);
        }
    }
}
