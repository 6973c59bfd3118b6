using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.ML.DiLoCo.Model;

namespace Microsoft.ML.DiLoCo.Persistence;

/// <summary>
/// What a saved language model holds, independent of ML.NET's zip layout (docs/persistence.md): the main stream
/// carries the format version, <c>Manifest.json</c> everything but the weights, <c>Weights.bin</c> the weights.
/// </summary>
internal static class LanguageModelFile
{
    public const string ManifestEntry = "Manifest.json";
    public const string WeightsEntry = "Weights.bin";

    /// <summary>A manifest larger than this is not ours (a real one is a few kilobytes plus the training report).</summary>
    private const int MaximumManifestBytes = 64 << 20;

    /// <summary>Writes the model: the format version to <paramref name="main"/>, then the two entries.</summary>
    /// <param name="secret">The shared secret to sign the file with (<see cref="ModelSignature"/>); null writes no signature.</param>
    public static void Save(LanguageModelTransformer transformer, BinaryWriter main, Action<string, Action<Stream>> writeEntry, byte[]? secret)
    {
        main.Write(ModelManifest.CurrentFormatVersion);
        var model = transformer.Model;
        var manifest = new ModelManifest
        {
            Architecture = model.Options.Clone(),
            Tokenizer = transformer.Tokenizer.ToString(),
            VocabularySize = model.VocabularySize,
            TextColumnName = transformer.TextColumnName,
            ScoringStride = transformer.ScoringStride,
            WeightPrecision = transformer.SaveWeightsAs.ToString(),
            ParameterCount = model.ParameterCount,
            TrainingOptions = transformer.TrainingOptions?.DeepClone().AsObject(),
            TrainingReport = transformer.TrainingReport is null ? null : JsonNode.Parse(transformer.TrainingReport.ToJson())!.AsObject(),
        };
        writeEntry(WeightsEntry, stream =>
        {
            var (tensors, length, sha) = ModelWeights.Write(model, transformer.SaveWeightsAs, stream);
            (manifest.Tensors, manifest.WeightsLength, manifest.WeightsSha256) = (tensors, length, sha);
        });
        manifest.ModelSha256 = manifest.ComputeModelSha256();
        byte[] manifestBytes = Encoding.UTF8.GetBytes(manifest.ToJson());
        writeEntry(ManifestEntry, stream => stream.Write(manifestBytes));
        if (secret is not null) writeEntry(ModelSignature.Entry, stream => stream.Write(ModelSignature.Sign(secret, manifestBytes)));
    }

    /// <summary>Reads and validates a model written by <see cref="Save"/>.</summary>
    /// <exception cref="InvalidDataException">The file is not a complete, consistent model of a format this library reads.</exception>
    /// <param name="secret">The shared secret: the file must carry a matching signature. Null: a signature is not checked.</param>
    public static LanguageModelTransformer Load(BinaryReader main, Func<string, Action<Stream>, bool> tryReadEntry, byte[]? secret)
    {
        int version;
        try
        {
            version = main.ReadInt32();
        }
        catch (EndOfStreamException)
        {
            throw new InvalidDataException("The model's main stream ends before its format version.");
        }
        if (version > ModelManifest.CurrentFormatVersion)
            throw new InvalidDataException($"The model file has format version {version}; this library reads versions up to {ModelManifest.CurrentFormatVersion}. Update Microsoft.ML.DiLoCo to load it.");
        if (version < 1)
            throw new InvalidDataException($"The model file's format version {version} is invalid (versions start at 1).");

        ModelManifest? manifest = null;
        byte[] manifestBytes = [];
        if (!tryReadEntry(ManifestEntry, stream => (manifest, manifestBytes) = ReadManifest(stream)))
            throw new InvalidDataException($"The model file has no {ManifestEntry} entry.");
        if (secret is not null) // before anything is sized from the manifest
        {
            byte[]? signature = null;
            tryReadEntry(ModelSignature.Entry, stream => signature = ModelSignature.Read(stream));
            ModelSignature.Verify(secret, manifestBytes, signature);
        }
        if (manifest!.FormatVersion != version)
            throw new InvalidDataException($"The manifest's FormatVersion {manifest.FormatVersion} differs from the main stream's {version}.");
        var valid = ModelManifestValidation.Check(manifest);

        LanguageModelTransformer? result = null;
        bool found = tryReadEntry(WeightsEntry, stream =>
        {
            // The entry's real length must match before the model (sized by the architecture) is allocated.
            if (stream.CanSeek && stream.Length - stream.Position != manifest.WeightsLength)
                throw new InvalidDataException($"The weights entry holds {stream.Length - stream.Position} bytes; the manifest says {manifest.WeightsLength}: the model file is truncated or corrupted.");
            var model = new TransformerLanguageModel(valid.Architecture, manifest.VocabularySize);
            try
            {
                ModelWeights.Read(model, manifest, valid.Precision, stream);
            }
            catch
            {
                model.Dispose();
                throw;
            }
            result = new LanguageModelTransformer(model, valid.Tokenizer, manifest.TextColumnName, ReadReport(manifest.TrainingReport))
            {
                ScoringStride = manifest.ScoringStride,
                SaveWeightsAs = valid.Precision,
                TrainingOptions = manifest.TrainingOptions,
            };
        });
        if (!found)
            throw new InvalidDataException($"The model file has no {WeightsEntry} entry.");
        return result!;
    }

    private static (ModelManifest Manifest, byte[] Bytes) ReadManifest(Stream stream)
    {
        if (stream.CanSeek && stream.Length - stream.Position > MaximumManifestBytes)
            throw new InvalidDataException($"The {ManifestEntry} entry is {stream.Length - stream.Position} bytes, more than a manifest can be ({MaximumManifestBytes}).");
        using var buffer = new MemoryStream();
        var chunk = new byte[81920];
        int read;
        while ((read = stream.Read(chunk)) > 0)
        {
            if (buffer.Length + read > MaximumManifestBytes)
                throw new InvalidDataException($"The {ManifestEntry} entry is larger than a manifest can be ({MaximumManifestBytes} bytes).");
            buffer.Write(chunk, 0, read);
        }
        try
        {
            var manifest = JsonSerializer.Deserialize<ModelManifest>(buffer.GetBuffer().AsSpan(0, (int)buffer.Length), ModelManifest.JsonOptions)
                ?? throw new InvalidDataException($"The {ManifestEntry} entry is empty (null).");
            return (manifest, buffer.ToArray());
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"The {ManifestEntry} entry is not a valid manifest: {e.Message}", e);
        }
    }

    private static TrainingReport? ReadReport(JsonObject? report)
    {
        if (report is null)
            return null;
        try
        {
            return report.Deserialize<TrainingReport>(ModelManifest.JsonOptions);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"The manifest's TrainingReport is not a valid training report: {e.Message}", e);
        }
    }
}
