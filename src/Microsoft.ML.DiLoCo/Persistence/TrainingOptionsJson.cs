using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Microsoft.ML.DiLoCo.Persistence;

/// <summary>The trainer options as a JSON object for the model file: every public field except those that are not
/// settings (the validation data view and the cancellation token).</summary>
internal static class TrainingOptionsJson
{
    public static JsonObject From(StreamingDiLoCoTrainer.Options options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var json = new JsonObject();
        foreach (var field in typeof(StreamingDiLoCoTrainer.Options).GetFields(BindingFlags.Public | BindingFlags.Instance))
        {
            if (field.FieldType == typeof(IDataView) || field.FieldType == typeof(CancellationToken))
                continue;
            json[field.Name] = JsonSerializer.SerializeToNode(field.GetValue(options), field.FieldType, ModelManifest.JsonOptions);
        }
        return json;
    }
}
