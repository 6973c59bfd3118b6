using System.CommandLine;
using System.Globalization;

namespace DiLoCo.Cli;

/// <summary>
/// The options the commands share, and typed options whose parse errors say what is allowed
/// (System.CommandLine's own message names the CLR type, e.g. <c>System.Nullable`1[System.Int32]</c>).
/// </summary>
internal static class CliOptions
{
    public static Option<string> Model() => Text("--model", "MODEL.zip", "A model zip saved by `diloco train` or ml.Model.Save.", required: true);

    public static Option<string> Text(string name, string helpName, string description, bool required = false) =>
        new(name) { HelpName = helpName, Description = description, Required = required };

    public static Option<string> Choice(string name, string description, params string[] allowed)
    {
        var option = Text(name, string.Join('|', allowed), description);
        option.Validators.Add(result =>
        {
            string? value = result.GetValueOrDefault<string>();
            if (value is not null && !allowed.Contains(value, StringComparer.Ordinal))
                result.AddError($"{name} must be {string.Join(" or ", allowed)}; got '{value}'.");
        });
        return option;
    }

    public static Option<int?> Integer(string name, string helpName, string description, int min, int max = int.MaxValue) => new(name)
    {
        HelpName = helpName,
        Description = description,
        CustomParser = result =>
        {
            string text = result.Tokens[0].Value;
            if (int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out int value) && value >= min && value <= max) return value;
            string range = max == int.MaxValue ? $"≥ {min}" : $"from {min} to {max}";
            result.AddError(min == int.MinValue ? $"{name} must be an integer; got '{text}'." : $"{name} must be an integer {range}; got '{text}'.");
            return null;
        },
    };

    public static Option<float?> Number(string name, string helpName, string description, string allowed, Func<float, bool> isAllowed) => new(name)
    {
        HelpName = helpName,
        Description = description,
        CustomParser = result =>
        {
            string text = result.Tokens[0].Value;
            if (float.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out float value) && isAllowed(value)) return value;
            result.AddError($"{name} must be {allowed}; got '{text}'.");
            return null;
        },
    };
}
