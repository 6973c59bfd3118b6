using System.Text;

namespace Microsoft.ML.DiLoCo.Tests.Reliability;

/// <summary>Long single rows for the memory tests: ASCII prose-like text (one byte token per char).</summary>
internal static class LongRows
{
    private static readonly string[] Words = ["the", "state", "of", "union", "is", "strong", "and", "we", "shall", "overcome", "every", "difficulty,", "1790.", "\n"];

    public static string Prose(int chars, int seed = 1)
    {
        var random = new Random(seed);
        var text = new StringBuilder(chars + 16);
        while (text.Length < chars) text.Append(Words[random.Next(Words.Length)]).Append(' ');
        text.Length = chars;
        return text.ToString();
    }
}
