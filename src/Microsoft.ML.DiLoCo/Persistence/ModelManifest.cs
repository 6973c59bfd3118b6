using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace Microsoft.ML.DiLoCo.Persistence;

/// <summary>One tensor of the weights entry: its documented name, shape and where its bytes lie.</summary>
internal sealed record TensorEntry(string Name, long[] Shape, long Offset, long Length);

/// <summary>
/// The <c>Manifest.json</c> entry of a saved language model: everything but the weights. Written and read with
/// System.Text.Json; <see cref="ModelManifestValidation"/> validates every field before anything is allocated from it.
/// </summary>
internal sealed class ModelManifest
{
    /// <summary>The format this library writes, and the newest it reads.</summary>
    public const int CurrentFormatVersion = 1;

    public int FormatVersion { get; set; } = CurrentFormatVersion;
    public string Library { get; set; } = "Microsoft.ML.DiLoCo";
    public TransformerOptions Architecture { get; set; } = new();
    /// <summary>A <see cref="TokenizerKind"/> name (text, so that an unknown one gets a clear error).</summary>
    public string Tokenizer { get; set; } = "";
    public int VocabularySize { get; set; }
    public string TextColumnName { get; set; } = "Text";
    public int ScoringStride { get; set; }
    /// <summary>A <see cref="DiLoCo.WeightPrecision"/> name: Float32 or BFloat16.</summary>
    public string WeightPrecision { get; set; } = "";
    public long ParameterCount { get; set; }
    public TensorEntry[] Tensors { get; set; } = [];
    public long WeightsLength { get; set; }

    /// <summary>SHA-256 of the weights entry, lower-case hex (the zip reader does not check CRC-32).</summary>
    public string WeightsSha256 { get; set; } = "";

    /// <summary>
    /// SHA-256 (lower-case hex) of every field that changes what the model computes: <see cref="Architecture"/>,
    /// <see cref="Tokenizer"/>, <see cref="VocabularySize"/>, <see cref="TextColumnName"/>, <see cref="ScoringStride"/>,
    /// <see cref="WeightPrecision"/> and <see cref="WeightsSha256"/>: a corrupted head count keeps every tensor's shape,
    /// so the weights' checksum alone cannot see it (found by fuzzing). Null in files written before it existed.
    /// </summary>
    public string? ModelSha256 { get; set; }

    /// <summary>The hash <see cref="ModelSha256"/> should hold for the other fields.</summary>
    public string ComputeModelSha256()
    {
        string architecture = JsonSerializer.Serialize(Architecture, CanonicalOptions);
        string canonical = string.Join("\n", architecture, Tokenizer, VocabularySize.ToString(System.Globalization.CultureInfo.InvariantCulture),
            TextColumnName, ScoringStride.ToString(System.Globalization.CultureInfo.InvariantCulture), WeightPrecision, WeightsSha256);
        return Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(canonical)));
    }

    /// <summary>The trainer options the model was fitted with (null for an imported model).</summary>
    public JsonObject? TrainingOptions { get; set; }

    /// <summary>The training report (null for an imported model).</summary>
    public JsonObject? TrainingReport { get; set; }

    internal static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = true,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        Converters = { new JsonStringEnumConverter(allowIntegerValues: false) },
        MaxDepth = 32,
    };

    private static readonly JsonSerializerOptions CanonicalOptions = new(JsonOptions) { WriteIndented = false };

    public string ToJson() => JsonSerializer.Serialize(this, JsonOptions);
}
