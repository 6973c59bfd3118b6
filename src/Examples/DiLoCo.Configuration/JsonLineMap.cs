using System.Text;
using System.Text.Json;

namespace DiLoCo.Configuration;

/// <summary>
/// The line of every property and array item in a JSON text, by path (<c>trainer.innerSteps</c>, <c>data.paths[0]</c>),
/// so that errors found after parsing can still point at a line (JsonDocument keeps no positions).
/// </summary>
internal sealed class JsonLineMap
{
    private readonly Dictionary<string, int> _lines = new(StringComparer.Ordinal);

    public int? LineOf(string path) => _lines.TryGetValue(path, out int line) ? line : null;

    /// <summary>Scans <paramref name="utf8"/> (already known to parse) and records the line of each path.</summary>
    public static JsonLineMap Build(byte[] utf8, JsonReaderOptions options)
    {
        var map = new JsonLineMap();
        var reader = new Utf8JsonReader(utf8, options);
        // Each frame: the container's path, whether it is an array, and the next array index.
        var stack = new Stack<(string Path, bool IsArray, int Index)>();
        string? pendingProperty = null;
        int line = 1;
        long counted = 0;
        int LineAt(long offset)
        {
            for (; counted < offset; counted++) if (utf8[counted] == (byte)'\n') line++;
            return line;
        }

        string NextValuePath()
        {
            if (stack.Count == 0) return "";
            var (path, isArray, index) = stack.Pop();
            if (isArray)
            {
                stack.Push((path, true, index + 1));
                return $"{path}[{index}]";
            }
            stack.Push((path, false, 0));
            string name = pendingProperty ?? "";
            pendingProperty = null;
            return path.Length == 0 ? name : $"{path}.{name}";
        }

        while (reader.Read())
        {
            switch (reader.TokenType)
            {
                case JsonTokenType.PropertyName:
                    pendingProperty = reader.GetString();
                    string propertyPath = stack.Peek().Path.Length == 0 ? pendingProperty! : $"{stack.Peek().Path}.{pendingProperty}";
                    map._lines[propertyPath] = LineAt(reader.TokenStartIndex);
                    break;
                case JsonTokenType.StartObject:
                case JsonTokenType.StartArray:
                    string containerPath = NextValuePath();
                    if (stack.Count > 0 && stack.Peek().IsArray) map._lines.TryAdd(containerPath, LineAt(reader.TokenStartIndex));
                    stack.Push((containerPath, reader.TokenType == JsonTokenType.StartArray, 0));
                    break;
                case JsonTokenType.EndObject:
                case JsonTokenType.EndArray:
                    stack.Pop();
                    break;
                case JsonTokenType.Comment:
                    break;
                default:
                    string valuePath = NextValuePath();
                    map._lines.TryAdd(valuePath, LineAt(reader.TokenStartIndex));
                    break;
            }
        }
        return map;
    }

    /// <summary>The UTF-8 bytes of <paramref name="json"/>.</summary>
    public static byte[] Utf8(string json) => Encoding.UTF8.GetBytes(json);
}
