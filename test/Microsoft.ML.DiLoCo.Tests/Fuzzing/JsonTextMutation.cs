using System.Text;
using System.Text.RegularExpressions;

namespace Microsoft.ML.DiLoCo.Tests.Fuzzing;

/// <summary>
/// Random edits of JSON text, from blind (bit flips, truncation, random characters, lone surrogates) to structural
/// (a token deleted or duplicated, a number made huge, a value of the wrong type): the structural ones get past the
/// JSON parser and reach the readers behind it.
/// </summary>
internal static partial class JsonTextMutation
{
    private static readonly string[] HugeNumbers =
    [
        "2147483647", "2147483648", "-2147483649", "9223372036854775807", "99999999999999999999999", "1e308", "1e309",
        "-1e308", "-1", "0", "-0", "0.5", "1e-320", "4294967296", "1099511627776", "1", "2", "3", "4", "8", "16", "64",
    ];

    private static readonly string[] WrongTypes = ["null", "true", "false", "\"\"", "\"x\"", "[]", "{}", "[1]", "{\"a\":1}", "\"   \""];

    [GeneratedRegex("\"(?:[^\"\\\\]|\\\\.)*\"|-?\\d+(?:\\.\\d+)?(?:[eE][+-]?\\d+)?|true|false|null|[{}\\[\\]:,]")]
    private static partial Regex Token();

    [GeneratedRegex("-?\\d+(?:\\.\\d+)?(?:[eE][+-]?\\d+)?")]
    private static partial Regex Number();

    public static string Mutate(string text, Random random, out string how)
    {
        var tokens = Token().Matches(text);
        switch (random.Next(9))
        {
            case 0:
            {
                var bytes = Encoding.UTF8.GetBytes(text);
                int flips = 1 + random.Next(3);
                for (int f = 0; f < flips; f++) bytes[random.Next(bytes.Length)] ^= (byte)(1 << random.Next(8));
                how = $"{flips} bit flips";
                return Encoding.UTF8.GetString(bytes);
            }
            case 1:
                int cut = random.Next(text.Length);
                how = $"truncated at {cut}";
                return text[..cut];
            case 2:
            {
                int at = random.Next(text.Length + 1);
                char c = random.Next(4) switch { 0 => '\uD800', 1 => '\uDC00', 2 => (char)random.Next(32), _ => (char)random.Next(32, 127) };
                how = $"char U+{(int)c:X4} inserted at {at}";
                return text.Insert(at, c.ToString());
            }
            case 3 when tokens.Count > 0:
            {
                var t = tokens[random.Next(tokens.Count)];
                how = $"token {t.Value} deleted at {t.Index}";
                return text.Remove(t.Index, t.Length);
            }
            case 4 when tokens.Count > 0:
            {
                var t = tokens[random.Next(tokens.Count)];
                how = $"token {t.Value} duplicated at {t.Index}";
                return text.Insert(t.Index, t.Value);
            }
            case 5 or 6:
            {
                var numbers = Number().Matches(text).Where(m => m.Index == 0 || !char.IsLetterOrDigit(text[m.Index - 1]) && text[m.Index - 1] != '"').ToArray();
                if (numbers.Length == 0) goto default;
                var n = numbers[random.Next(numbers.Length)];
                string huge = HugeNumbers[random.Next(HugeNumbers.Length)];
                how = $"number {n.Value} at {n.Index} → {huge}";
                return text.Remove(n.Index, n.Length).Insert(n.Index, huge);
            }
            case 7 when tokens.Count > 0:
            {
                // A value (after a colon or in an array) replaced by one of another type.
                var values = tokens.Where(t => t.Value is not ("{" or "}" or "[" or "]" or ":" or ",") && t.Index > 0
                                               && text[..t.Index].TrimEnd() is { Length: > 0 } before && before[^1] is ':' or '[' or ',').ToArray();
                if (values.Length == 0) goto default;
                var v = values[random.Next(values.Length)];
                string other = WrongTypes[random.Next(WrongTypes.Length)];
                how = $"value {v.Value} at {v.Index} → {other}";
                return text.Remove(v.Index, v.Length).Insert(v.Index, other);
            }
            default:
            {
                int at = random.Next(text.Length);
                int length = Math.Min(text.Length - at, 1 + random.Next(20));
                how = $"{length} chars removed at {at}";
                return text.Remove(at, length);
            }
        }
    }
}
