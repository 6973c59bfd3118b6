namespace DiLoCo.Configuration;

/// <summary>
/// A training config file is unreadable or holds a bad value. <see cref="Field"/> is the JSON path of the field
/// (e.g. <c>trainer.innerSteps</c>); the message names it, the allowed values, and the line when it is known.
/// </summary>
public sealed class TrainingConfigException : FormatException
{
    /// <summary>Creates the exception for <paramref name="field"/> (empty for the whole file).</summary>
    public TrainingConfigException(string field, string problem, int? lineNumber = null, Exception? inner = null)
        : base(Describe(field, problem, lineNumber), inner)
    {
        Field = field;
        Problem = problem;
        LineNumber = lineNumber;
    }

    /// <summary>The JSON path of the offending field, e.g. <c>trainer.innerSteps</c> or <c>data.paths[1]</c>; empty for the whole file.</summary>
    public string Field { get; }

    /// <summary>What is wrong, without the field name.</summary>
    public string Problem { get; }

    /// <summary>The 1-based line of the field in the file, when known.</summary>
    public int? LineNumber { get; }

    private static string Describe(string field, string problem, int? line)
    {
        string where = line is { } l ? $" (line {l})" : "";
        return field.Length == 0 ? $"config: {problem}" : $"{field}{where}: {problem}"; // whole-file problems say where themselves
    }
}
