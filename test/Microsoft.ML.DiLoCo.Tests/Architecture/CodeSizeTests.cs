using Microsoft.ML.DiLoCo.Tests.Configuration;
using Mono.Cecil;
using Mono.Cecil.Cil;

namespace Microsoft.ML.DiLoCo.Tests.Architecture;

/// <summary>
/// The library stays readable in pieces: no source file over 400 lines, no method over 60 (measured from the portable PDB's
/// sequence points, first to last line of the method's own body; a lambda or local function counts as its own method;
/// a constructor counts the lines its code covers, since its field initialisers sit elsewhere in the class).
/// </summary>
[TestClass]
public sealed class CodeSizeTests
{
    public const int MaximumFileLines = 400;
    public const int MaximumMethodLines = 60;

    private static string LibrarySource => Path.Combine(TrainingConfigTests.RepositoryRoot(), "src", "Microsoft.ML.DiLoCo");

    [TestMethod]
    public void NoLibraryFileIsLongerThan400Lines()
    {
        var files = Directory.EnumerateFiles(LibrarySource, "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal)
                     && !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            .ToList();
        Assert.IsTrue(files.Count > 100, $"Only {files.Count} source files found under {LibrarySource}.");
        var tooLong = files.Select(f => (File: Path.GetRelativePath(LibrarySource, f), Lines: File.ReadLines(f).Count()))
            .Where(f => f.Lines > MaximumFileLines).Select(f => $"{f.File} ({f.Lines} lines)").ToList();
        Assert.AreEqual(0, tooLong.Count, $"Files over {MaximumFileLines} lines: {string.Join(", ", tooLong)}.");
    }

    [TestMethod]
    public void NoLibraryMethodIsLongerThan60Lines()
    {
        string dll = Path.Combine(AppContext.BaseDirectory, "Microsoft.ML.DiLoCo.dll");
        using var module = ModuleDefinition.ReadModule(dll, new ReaderParameters { ReadSymbols = true });
        var measured = MethodLengths(module).ToList();
        Assert.IsTrue(measured.Count > 500, $"Only {measured.Count} methods had line information: are the PDB's symbols read?");
        var tooLong = measured.Where(m => m.Lines > MaximumMethodLines).OrderByDescending(m => m.Lines)
            .Select(m => $"{m.Name} ({m.Lines} lines, {m.File})").ToList();
        Assert.AreEqual(0, tooLong.Count, $"Methods over {MaximumMethodLines} lines: {string.Join("; ", tooLong)}.");
    }

    /// <summary>Each method's span in its source file: last line − first line + 1 over its visible sequence points.</summary>
    internal static IEnumerable<(string Name, int Lines, string File)> MethodLengths(ModuleDefinition module)
    {
        foreach (var type in module.GetTypes())
            foreach (var method in type.Methods.Where(m => m.HasBody))
            {
                var points = method.DebugInformation.SequencePoints.Where(p => !p.IsHidden).ToList();
                if (points.Count == 0) continue;
                // One file only: a method's points can sit in another file (a partial's field initialisers in a constructor).
                var file = points.GroupBy(p => p.Document.Url).MaxBy(g => g.Count())!;
                // Constructors also hold the field initialisers, far above them: count the lines they cover instead of the span.
                int lines = method.IsConstructor
                    ? file.SelectMany(p => Enumerable.Range(p.StartLine, p.EndLine - p.StartLine + 1)).Distinct().Count()
                    : file.Max(p => p.EndLine) - file.Min(p => p.StartLine) + 1;
                yield return ($"{type.FullName}.{method.Name}", lines, Path.GetFileName(file.Key));
            }
    }
}
