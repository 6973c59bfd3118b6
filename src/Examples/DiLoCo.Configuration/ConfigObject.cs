using System.Globalization;
using System.Text.Json;

namespace DiLoCo.Configuration;

/// <summary>
/// Reads one JSON object of a config file field by field. Every read names the field's JSON path and the allowed
/// values on error; <see cref="RejectUnknownFields"/> then fails on any property that no read asked for.
/// </summary>
internal sealed class ConfigObject
{
    private readonly JsonElement _element;
    private readonly JsonLineMap _lines;
    private readonly HashSet<string> _known = new(StringComparer.Ordinal);

    public ConfigObject(JsonElement element, string path, JsonLineMap lines)
    {
        _lines = lines;
        Path = path;
        if (element.ValueKind != JsonValueKind.Object)
            throw Error(path, $"must be a JSON object {{ ... }}; got {Describe(element)}.");
        _element = element;
    }

    /// <summary>The JSON path of this object ("" for the root).</summary>
    public string Path { get; }

    public string FieldPath(string name) => Path.Length == 0 ? name : $"{Path}.{name}";

    public TrainingConfigException Error(string path, string problem, Exception? inner = null) => new(path, problem, _lines.LineOf(path), inner);

    /// <summary>Whether the field is written at all (null included).</summary>
    public bool IsPresent(string name)
    {
        _known.Add(name);
        return _element.TryGetProperty(name, out _);
    }

    public ConfigObject? Object(string name, bool required = false)
    {
        var value = Value(name, required);
        return value is { } v ? new ConfigObject(v, FieldPath(name), _lines) : null;
    }

    public int? Int(string name, int min, int max = int.MaxValue, bool required = false)
    {
        var value = Value(name, required);
        if (value is not { } v) return null;
        string allowed = max == int.MaxValue ? $"an integer ≥ {min}" : $"an integer from {min} to {max}";
        if (v.ValueKind != JsonValueKind.Number || !v.TryGetInt32(out int result))
            throw Error(FieldPath(name), $"must be {allowed}; got {Describe(v)}.");
        if (result < min || result > max)
            throw Error(FieldPath(name), $"must be {allowed}; got {result}.");
        return result;
    }

    /// <summary>A finite number in [min, max] (or (min, max] / [min, max) when the bound is exclusive).</summary>
    public double? Number(string name, double min, double max, bool minExclusive = false, bool maxExclusive = false, bool required = false)
    {
        var value = Value(name, required);
        if (value is not { } v) return null;
        string low = minExclusive ? "(" : "[", high = maxExclusive ? ")" : "]";
        string range = double.IsPositiveInfinity(max) ? (minExclusive ? $"> {Format(min)}" : $"≥ {Format(min)}") : $"in {low}{Format(min)}, {Format(max)}{high}";
        string allowed = $"a finite number {range}";
        if (v.ValueKind != JsonValueKind.Number || !v.TryGetDouble(out double result) || !double.IsFinite(result))
            throw Error(FieldPath(name), $"must be {allowed}; got {Describe(v)}.");
        bool tooLow = minExclusive ? result <= min : result < min;
        bool tooHigh = maxExclusive ? result >= max : result > max;
        if (tooLow || tooHigh)
            throw Error(FieldPath(name), $"must be {allowed}; got {v.GetRawText()}.");
        return result;
    }

    public bool? Bool(string name)
    {
        var value = Value(name, required: false);
        if (value is not { } v) return null;
        if (v.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
            throw Error(FieldPath(name), $"must be true or false; got {Describe(v)}.");
        return v.GetBoolean();
    }

    public string? String(string name, bool required = false, bool allowEmpty = false)
    {
        var value = Value(name, required);
        if (value is not { } v) return null;
        if (v.ValueKind != JsonValueKind.String)
            throw Error(FieldPath(name), $"must be a string; got {Describe(v)}.");
        string result = v.GetString()!;
        if (!allowEmpty && string.IsNullOrWhiteSpace(result))
            throw Error(FieldPath(name), "must not be empty.");
        return result;
    }

    /// <summary>A string that must be one of <paramref name="allowed"/> (compared ignoring case; the canonical spelling is returned).</summary>
    public string? Choice(string name, IReadOnlyList<string> allowed, bool required = false)
    {
        var value = Value(name, required);
        if (value is not { } v) return null;
        string list = string.Join(", ", allowed.Select(a => $"\"{a}\""));
        if (v.ValueKind != JsonValueKind.String)
            throw Error(FieldPath(name), $"must be one of {list}; got {Describe(v)}.");
        string given = v.GetString()!;
        return allowed.FirstOrDefault(a => string.Equals(a, given, StringComparison.OrdinalIgnoreCase))
            ?? throw Error(FieldPath(name), $"must be one of {list}; got \"{given}\".");
    }

    public TEnum? Enum<TEnum>(string name) where TEnum : struct, Enum
    {
        string? chosen = Choice(name, System.Enum.GetNames<TEnum>().Select(Camel).ToArray());
        return chosen is null ? null : System.Enum.Parse<TEnum>(chosen, ignoreCase: true);
    }

    public string[]? Strings(string name, bool required = false)
    {
        var value = Value(name, required);
        if (value is not { } v) return null;
        if (v.ValueKind != JsonValueKind.Array)
            throw Error(FieldPath(name), $"must be an array of strings [\"...\"]; got {Describe(v)}.");
        var result = new List<string>();
        int i = 0;
        foreach (var item in v.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.String || string.IsNullOrWhiteSpace(item.GetString()))
                throw Error($"{FieldPath(name)}[{i}]", $"must be a non-empty string; got {Describe(item)}.");
            result.Add(item.GetString()!);
            i++;
        }
        if (result.Count == 0) throw Error(FieldPath(name), "must hold at least one string.");
        return result.ToArray();
    }

    /// <summary>Fails on the first property that no read asked for, listing the allowed names.</summary>
    public void RejectUnknownFields()
    {
        foreach (var property in _element.EnumerateObject())
        {
            if (_known.Contains(property.Name)) continue;
            string hint = _known.FirstOrDefault(k => string.Equals(k, property.Name, StringComparison.OrdinalIgnoreCase)) is { } near
                ? $" (did you mean \"{near}\"? names are case-sensitive)"
                : "";
            throw Error(FieldPath(property.Name),
                $"unknown field{hint}. Allowed fields{(Path.Length == 0 ? "" : $" of {Path}")}: {string.Join(", ", _known.Order(StringComparer.Ordinal))}.");
        }
    }

    public static string Camel(string name) => name.Length == 0 ? name : char.ToLowerInvariant(name[0]) + name[1..];

    private JsonElement? Value(string name, bool required)
    {
        _known.Add(name);
        if (_element.TryGetProperty(name, out var value) && value.ValueKind != JsonValueKind.Null) return value;
        if (required) throw Error(FieldPath(name), "is required.");
        return null;
    }

    private static string Describe(JsonElement v) => v.ValueKind switch
    {
        JsonValueKind.String => $"the string \"{v.GetString()}\"",
        JsonValueKind.Number => $"the number {v.GetRawText()}",
        JsonValueKind.True or JsonValueKind.False => v.GetRawText(),
        JsonValueKind.Array => "an array",
        JsonValueKind.Object => "an object",
        _ => "null",
    };

    private static string Format(double x) => x.ToString("G", CultureInfo.InvariantCulture);
}
