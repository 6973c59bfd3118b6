using Microsoft.ML.DiLoCo.Tests.Configuration;
using Mono.Cecil;

namespace Microsoft.ML.DiLoCo.Tests.Architecture;

/// <summary>
/// Growing the library's public surface is a decision: the built Microsoft.ML.DiLoCo.dll's public types and members
/// (<see cref="PublicApiListing"/>) must equal the approved list checked in beside this file. Every line there is a promise to
/// users; plumbing stays internal (the tests, the benchmarks and the MPI runner see it through InternalsVisibleTo).
/// </summary>
[TestClass]
public sealed class PublicApiTests
{
    /// <summary>Set to 1 to rewrite the approved list from the built library instead of comparing.</summary>
    public const string ApproveVariable = "DILOCO_APPROVE_PUBLIC_API";

    private const string Header =
        "# The public API of Microsoft.ML.DiLoCo.dll, one line per type and member (PublicApiTests). Every line is a promise to users.\n" +
        "# Regenerate after a deliberate change: DILOCO_APPROVE_PUBLIC_API=1 bash build/test.sh --filter \"FullyQualifiedName~PublicApi\"\n";

    private static string ApprovedFile =>
        Path.Combine(TrainingConfigTests.RepositoryRoot(), "test", "Microsoft.ML.DiLoCo.Tests", "Architecture", "PublicApi.approved.txt");

    [TestMethod]
    public void ThePublicApiIsTheApprovedOne()
    {
        using var module = ModuleDefinition.ReadModule(Path.Combine(AppContext.BaseDirectory, "Microsoft.ML.DiLoCo.dll"));
        var actual = PublicApiListing.Of(module);
        Assert.IsTrue(actual.Count > 100, $"Only {actual.Count} public lines were listed: is the library's metadata read?");
        if (Environment.GetEnvironmentVariable(ApproveVariable) == "1")
        {
            File.WriteAllText(ApprovedFile, Header + string.Join("\n", actual) + "\n");
            Console.WriteLine($"{ApproveVariable}=1: wrote {actual.Count} lines to {ApprovedFile}; review the diff and commit it.");
            return;
        }

        Assert.IsTrue(File.Exists(ApprovedFile), $"The approved list {ApprovedFile} is missing. {HowToApprove}");
        var approved = File.ReadAllLines(ApprovedFile).Select(l => l.TrimEnd('\r')).Where(l => l.Length > 0 && !l.StartsWith('#')).ToList();
        var added = actual.Except(approved, StringComparer.Ordinal).ToList();
        var removed = approved.Except(actual, StringComparer.Ordinal).ToList();
        Assert.IsTrue(added.Count == 0 && removed.Count == 0,
            $"The public API of Microsoft.ML.DiLoCo.dll differs from {ApprovedFile}.\n" +
            $"Added ({added.Count}):\n{string.Join("\n", added.Select(l => "+ " + l))}\n" +
            $"Removed ({removed.Count}):\n{string.Join("\n", removed.Select(l => "- " + l))}\n" +
            $"If unintended, make the new pieces internal (or restore what was removed). {HowToApprove}");
    }

    private static string HowToApprove =>
        $"If intended, run `{ApproveVariable}=1 bash build/test.sh --filter \"FullyQualifiedName~PublicApi\"` to rewrite the approved " +
        "list from the built library, then review and commit its diff.";

    [TestMethod]
    public void TheListingShowsWhatCallersAndSubclassesSee()
    {
        using var module = ModuleDefinition.ReadModule(typeof(PublicApiTests).Assembly.Location);
        var listed = PublicApiListing.Of(module, typeof(PublicApiFixture.Widget).Namespace!);
        const string W = "Microsoft.ML.DiLoCo.Tests.Architecture.PublicApiFixture.Widget";
        const string S = "Microsoft.ML.DiLoCo.Tests.Architecture.PublicApiFixture.SealedWidget";
        string[] expected =
        {
            $"type sealed class {S} : {W}",
            $"ctor {S}::.ctor()",
            $"method override {S}::TryTake(out int value, params int[] more) : bool",
            $"type class {W} : System.IDisposable",
            $"type enum {W}+Kind : byte",
            $"value {W}+Kind::A = 1",
            $"value {W}+Kind::B = 2",
            $"type protected sealed class {W}+Part",
            $"ctor {W}+Part::.ctor()",
            $"ctor protected {W}::.ctor()",
            $"ctor {W}::.ctor(int size, string label = null)",
            $"event {W}::Changed : System.EventHandler",
            $"method {W}::Configure({W}+Kind kind = {W}+Kind.B, System.Threading.CancellationToken token = default, long? limit = null) : void",
            $"method {W}::Dispose() : void",
            $"property {W}::Label : string {{ get; protected set; }}",
            $"field const {W}::Limit : int = 3",
            $"field static readonly {W}::Name : string",
            $"method protected virtual {W}::Raise() : void",
            $"property {W}::Size : int {{ get; init; }}",
            $"method virtual {W}::TryTake(out int value, params int[] more) : bool",
            $"field protected {W}::_count : int",
        };
        Assert.AreEqual(string.Join("\n", expected), string.Join("\n", listed));
    }
}
