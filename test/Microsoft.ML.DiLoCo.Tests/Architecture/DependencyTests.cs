using Mono.Cecil;
using Mono.Cecil.Cil;

namespace Microsoft.ML.DiLoCo.Tests.Architecture;

/// <summary>
/// The layers of docs/architecture.md, enforced on the compiled library: every type reference in a layer's signatures, fields,
/// locals and method bodies is read with Mono.Cecil and checked against what that layer may use.
/// </summary>
[TestClass]
public sealed class DependencyTests
{
    private const string Root = "Microsoft.ML.DiLoCo";

    /// <summary>
    /// Types of the root namespace (the edge) that inner layers may name: the public vocabulary of enums, exceptions and
    /// plain records that the options and the report are made of. Anything else at the root (the trainer, its options,
    /// the transformer, the catalog, the BYOM wrapper) is the edge itself.
    /// </summary>
    private static readonly HashSet<string> Vocabulary = new(StringComparer.Ordinal)
    {
        "TrainingAlgorithm", "WireFormat", "FragmentPattern", "NonBlockParameterPlacement", "NonFiniteValuePolicy", "WorkerFailurePolicy",
        "TokenizerKind", "PositionEncoding", "Transport", "ExchangeSecurity", "WeightPrecision", "FinalModel",
        "TrainingDivergedException", "WorkerFailedException", "SyncRecord", "WorkerFailure", "ValidationPoint",
        "TransformerOptions", "GenerationOptions",
    };

    /// <summary>Per layer: the layers (sub-namespaces of the library; "" = the root) it must not use.</summary>
    public static IEnumerable<object[]> Rules =>
    [
        ["Communication", new[] { "Model", "Training", "Runs", "Checkpointing", "Data", "Scoring", "Persistence", "Tokenization", "" }, false],
        ["Model", new[] { "Training", "Communication", "Runs", "Checkpointing", "Data", "Scoring", "Persistence", "" }, false],
        ["Training", new[] { "Runs", "Checkpointing", "Data", "Scoring", "Persistence", "Tokenization", "" }, false],
        ["Checkpointing", new[] { "Runs", "Scoring", "Persistence", "Tokenization", "" }, false],
        ["Runs", new[] { "Scoring", "Persistence" }, false],
        ["Numerics", new[] { "Model", "Training", "Communication", "Runs", "Checkpointing", "Data", "Scoring", "Persistence", "Tokenization", "" }, false],
    ];

    [TestMethod]
    [DynamicData(nameof(Rules))]
    public void ALayerUsesOnlyWhatItMay(string layer, string[] forbidden, bool mlNetAllowed)
    {
        using var module = ModuleDefinition.ReadModule(Path.Combine(AppContext.BaseDirectory, "Microsoft.ML.DiLoCo.dll"));
        var types = module.GetTypes().Where(t => NamespaceOf(t) == $"{Root}.{layer}").ToList();
        Assert.IsTrue(types.Count > 0, $"No types in {Root}.{layer}: the layer was renamed or removed; update docs/architecture.md and this test.");
        var violations = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var type in types)
            foreach (var used in References(type))
            {
                string ns = NamespaceOf(used);
                string? usedLayer = ns == Root ? "" : ns.StartsWith(Root + ".", StringComparison.Ordinal) ? ns[(Root.Length + 1)..].Split('.')[0] : null;
                bool edgeType = usedLayer == "" && !Vocabulary.Contains(OuterName(used));
                bool mlNet = !mlNetAllowed && (ns == "Microsoft.ML" || ns.StartsWith("Microsoft.ML.", StringComparison.Ordinal)) && usedLayer is null;
                if ((usedLayer is not null && usedLayer != "" && forbidden.Contains(usedLayer)) || (edgeType && forbidden.Contains("")) || mlNet)
                    violations.Add($"{type.FullName} uses {used.FullName}");
            }
        Assert.AreEqual(0, violations.Count, $"{layer} uses what it may not ({violations.Count}): {string.Join("; ", violations.Take(20))}.");
    }

    /// <summary>Every type a type names: base, interfaces, fields, properties, method signatures, locals, instruction operands.</summary>
    private static IEnumerable<TypeReference> References(TypeDefinition type)
    {
        IEnumerable<TypeReference> Expand(TypeReference? t)
        {
            if (t is null) yield break;
            if (t is TypeSpecification spec) foreach (var e in Expand(spec.ElementType)) yield return e;
            if (t is GenericInstanceType generic) foreach (var a in generic.GenericArguments) foreach (var e in Expand(a)) yield return e;
            if (t is not TypeSpecification && t is not GenericParameter) yield return t;
        }
        var direct = new List<TypeReference?> { type.BaseType };
        direct.AddRange(type.Interfaces.Select(i => i.InterfaceType));
        direct.AddRange(type.Fields.Select(f => f.FieldType));
        direct.AddRange(type.Properties.Select(p => p.PropertyType));
        foreach (var method in type.Methods)
        {
            direct.Add(method.ReturnType);
            direct.AddRange(method.Parameters.Select(p => p.ParameterType));
            if (!method.HasBody) continue;
            direct.AddRange(method.Body.Variables.Select(v => v.VariableType));
            foreach (var instruction in method.Body.Instructions)
                switch (instruction.Operand)
                {
                    case TypeReference t: direct.Add(t); break;
                    case MethodReference m:
                        direct.Add(m.DeclaringType);
                        direct.Add(m.ReturnType);
                        direct.AddRange(m.Parameters.Select(p => p.ParameterType));
                        break;
                    case FieldReference f: direct.Add(f.DeclaringType); direct.Add(f.FieldType); break;
                }
        }
        return direct.SelectMany(Expand);
    }

    private static string NamespaceOf(TypeReference t)
    {
        while (t.DeclaringType is not null) t = t.DeclaringType;
        return t.Namespace;
    }

    private static string OuterName(TypeReference t)
    {
        while (t.DeclaringType is not null) t = t.DeclaringType;
        return t.Name;
    }
}
