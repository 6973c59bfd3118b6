namespace Microsoft.ML.DiLoCo.Tests.Reliability;

/// <summary>
/// No implicit or unguarded TorchSharp Scalar anywhere we ship: the library, the CLI, the examples and the benchmarks
/// (ENVIRONMENT.md, "implicit Scalars"). Reads the built assemblies with Mono.Cecil.
/// </summary>
[TestClass]
public sealed class ImplicitScalarTests
{
    private static readonly string[] Shipped =
    {
        "Microsoft.ML.DiLoCo.dll",
        "diloco.dll",
        "DiLoCo.Configuration.dll",
        "src/Examples/SotuLanguageModel/bin/{0}/net10.0/SotuLanguageModel.dll",
        "src/Examples/ByomCharLstm/bin/{0}/net10.0/ByomCharLstm.dll",
        "src/Examples/ModelBuilderStyle/bin/{0}/net10.0/ModelBuilderStyle.dll",
        "src/Benchmarks/DiLoCo.Benchmarks/bin/{0}/net10.0/DiLoCo.Benchmarks.dll",
    };

    public static IEnumerable<object[]> Assemblies => Shipped.Select(a => new object[] { a });

    [TestMethod]
    [DynamicData(nameof(Assemblies))]
    public void NoScalarCanBeFreedWhileLibTorchReadsIt(string assembly)
    {
        string path = Locate(assembly);
        Assert.IsTrue(File.Exists(path), $"{path} is not built (the test project builds it: see its ProjectReferences).");
        var violations = new ScalarLifetimeAudit().Audit(path);
        Assert.AreEqual(0, violations.Count, $"{violations.Count} unsafe Scalar uses in {assembly}:\n" + string.Join("\n", violations));
    }

    [TestMethod]
    public void TheAuditFindsAnImplicitScalarAndAnUnguardedOne()
    {
        // This test assembly uses Scalars the unsafe ways on purpose (below): the audit must see both.
        var violations = new ScalarLifetimeAudit().Audit(typeof(ImplicitScalarTests).Assembly.Location);
        Assert.IsTrue(violations.Any(v => v.Contains(nameof(UnsafeScalarUses) + "." + nameof(UnsafeScalarUses.Implicit)) && v.Contains("implicit conversion")),
            string.Join("\n", violations.Where(v => v.Contains(nameof(UnsafeScalarUses)))));
        Assert.IsTrue(violations.Any(v => v.Contains(nameof(UnsafeScalarUses) + "." + nameof(UnsafeScalarUses.Unguarded)) && v.Contains("neither a field")));
        Assert.IsTrue(violations.Any(v => v.Contains(nameof(UnsafeScalarUses) + "." + nameof(UnsafeScalarUses.TorchSharpOptimizer)) && v.Contains("temporary Scalar")));
        Assert.IsFalse(violations.Any(v => v.Contains(nameof(UnsafeScalarUses) + "." + nameof(UnsafeScalarUses.Guarded))),
            string.Join("\n", violations.Where(v => v.Contains(nameof(UnsafeScalarUses.Guarded)))));
    }

    /// <summary>The repository root (holds the solution) from the test's output folder, and the configuration built.</summary>
    private static string Locate(string assembly)
    {
        if (!assembly.Contains('/')) return Path.Combine(AppContext.BaseDirectory, assembly);
        var output = new DirectoryInfo(AppContext.BaseDirectory);
        string configuration = output.Parent?.Name ?? "Release"; // bin/<configuration>/net10.0/
        var root = output;
        while (root is not null && !File.Exists(Path.Combine(root.FullName, "DiLoCo.MLNet.sln"))) root = root.Parent;
        Assert.IsNotNull(root, "The repository root (DiLoCo.MLNet.sln) was not found above the test output.");
        return Path.Combine(root.FullName, string.Format(assembly, configuration));
    }
}

/// <summary>Unsafe and safe Scalar uses for the audit to find (never run).</summary>
internal static class UnsafeScalarUses
{
    public static void Implicit(TorchSharp.torch.Tensor t) => t.mul_(0.5);

    public static void Unguarded(TorchSharp.torch.Tensor t) => t.mul_(TorchSharp.ScalarExtensionMethods.ToScalar(0.5));

    public static void TorchSharpOptimizer(TorchSharp.torch.optim.Optimizer o) => o.step();

    public static void Guarded(TorchSharp.torch.Tensor t)
    {
        using var half = TorchSharp.ScalarExtensionMethods.ToScalar(0.5);
        t.mul_(half);
    }
}
