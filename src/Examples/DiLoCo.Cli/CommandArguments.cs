using System.Globalization;

namespace DiLoCo.Cli;

/// <summary>The <c>--name value</c> flags of one command; every flag must be consumed, or <see cref="RejectUnused"/> names it.</summary>
internal sealed class CommandArguments
{
    private readonly Dictionary<string, string> _values = new(StringComparer.Ordinal);
    private readonly HashSet<string> _used = new(StringComparer.Ordinal);
    private readonly string _command;

    public CommandArguments(string command, IEnumerable<string> args)
    {
        _command = command;
        using var e = args.GetEnumerator();
        while (e.MoveNext())
        {
            string flag = e.Current;
            if (!flag.StartsWith("--", StringComparison.Ordinal) || flag.Length < 3)
                throw new UsageException($"{command}: unexpected argument '{flag}' (flags are --name value).");
            if (!e.MoveNext()) throw new UsageException($"{command}: {flag} needs a value.");
            if (!_values.TryAdd(flag, e.Current)) throw new UsageException($"{command}: {flag} is given twice.");
        }
    }

    public string? String(string flag)
    {
        _used.Add(flag);
        return _values.TryGetValue(flag, out var value) ? value : null;
    }

    public string Required(string flag) => String(flag) ?? throw new UsageException($"{_command}: {flag} is required.");

    public int? Int(string flag, int min, int max = int.MaxValue)
    {
        string? text = String(flag);
        if (text is null) return null;
        if (!int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out int value) || value < min || value > max)
            throw new UsageException($"{_command}: {flag} must be an integer {(max == int.MaxValue ? $"≥ {min}" : $"from {min} to {max}")}; got '{text}'.");
        return value;
    }

    public float? Float(string flag, string allowed, Func<float, bool> isAllowed)
    {
        string? text = String(flag);
        if (text is null) return null;
        if (!float.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out float value) || !isAllowed(value))
            throw new UsageException($"{_command}: {flag} must be {allowed}; got '{text}'.");
        return value;
    }

    public void RejectUnused()
    {
        foreach (var flag in _values.Keys)
            if (!_used.Contains(flag))
                throw new UsageException($"{_command}: unknown flag {flag}. Allowed: {string.Join(", ", _used.Order(StringComparer.Ordinal))}.");
    }
}
