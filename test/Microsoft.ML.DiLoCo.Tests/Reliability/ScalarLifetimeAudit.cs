using Mono.Cecil;
using Mono.Cecil.Cil;

namespace Microsoft.ML.DiLoCo.Tests.Reliability;

/// <summary>
/// Reads compiled assemblies with Mono.Cecil and lists every place where a TorchSharp <c>Scalar</c> can be freed by its
/// finalizer while libtorch still reads it (ENVIRONMENT.md, "implicit Scalars"; issue 12):
/// <list type="number">
/// <item>a call to one of <c>Scalar</c>'s implicit conversion operators (a temporary no code can keep alive);</item>
/// <item>any other call that returns a <c>Scalar</c> (<c>ToScalar()</c>) whose result is neither stored in a field nor
///   in a local that the method disposes (<c>using</c>): otherwise the JIT may treat it as dead before the native call ends;</item>
/// <item>a call into a TorchSharp method that itself makes a temporary <c>Scalar</c> (found by reading TorchSharp's own IL,
///   a few calls deep), unless it is listed in <see cref="ReviewedTorchSharpMethods"/> with the reason it is safe.</item>
/// </list>
/// </summary>
internal sealed class ScalarLifetimeAudit
{
    private const string ScalarType = "TorchSharp.Scalar";
    private const int TorchSharpDepth = 4;
    private readonly Dictionary<string, string?> _torchSharpVerdicts = new(StringComparer.Ordinal);

    /// <summary>
    /// TorchSharp methods we call that build a Scalar inside, each read and found safe for the reason given. Keys are
    /// Cecil's full method names. Empty today: the library avoids every such method.
    /// </summary>
    public static readonly IReadOnlyDictionary<string, string> ReviewedTorchSharpMethods = new Dictionary<string, string>(StringComparer.Ordinal);

    /// <summary>Every violation in <paramref name="assemblyPath"/>, as "Type.Method: what".</summary>
    public IReadOnlyList<string> Audit(string assemblyPath)
    {
        var resolver = new DefaultAssemblyResolver();
        resolver.AddSearchDirectory(Path.GetDirectoryName(assemblyPath)!);
        resolver.AddSearchDirectory(AppContext.BaseDirectory);
        using var assembly = AssemblyDefinition.ReadAssembly(assemblyPath, new ReaderParameters { AssemblyResolver = resolver });
        var found = new List<string>();
        foreach (var type in assembly.MainModule.GetTypes())
            foreach (var method in type.Methods.Where(m => m.HasBody))
                found.AddRange(AuditMethod(method).Select(v => $"{type.FullName}.{method.Name}: {v}"));
        return found;
    }

    private IEnumerable<string> AuditMethod(MethodDefinition method)
    {
        var instructions = method.Body.Instructions;
        for (int i = 0; i < instructions.Count; i++)
        {
            if (instructions[i].Operand is not MethodReference callee || !IsCall(instructions[i])) continue;
            if (IsImplicitScalarConversion(callee))
            {
                yield return $"implicit conversion to Scalar from {callee.Parameters[0].ParameterType.Name} (create it with ToScalar() and keep it alive)";
                continue;
            }
            if (callee.ReturnType.FullName == ScalarType && !IsKeptAlive(method, instructions, i))
                yield return $"the Scalar returned by {callee.DeclaringType.Name}.{callee.Name} is neither a field nor a disposed local";
            if (IsTorchSharpOptimizerStep(callee) && !IsOwnOverride(method, instructions, i, callee))
                yield return $"calls {callee.DeclaringType.Name}.step: TorchSharp's optimizers make temporary Scalars on every step (use the library's optimizers)";
            else if (IsTorchSharp(callee) && TemporaryScalarInside(callee, TorchSharpDepth) is { } path
                && !ReviewedTorchSharpMethods.ContainsKey(callee.FullName))
                yield return $"calls {callee.DeclaringType.Name}.{callee.Name}, which makes a temporary Scalar ({path})";
        }
    }

    private static bool IsCall(Instruction instruction) =>
        instruction.OpCode.Code is Code.Call or Code.Callvirt or Code.Newobj;

    private static bool IsTorchSharp(MethodReference method) => method.DeclaringType.Scope.Name is "TorchSharp" or "TorchSharp.dll";

    /// <summary>
    /// <c>step()</c> on a TorchSharp optimizer. It is virtual (the IL names <c>Optimizer.step</c>, whose body is native), so
    /// reading the callee's IL cannot see the temporary Scalars of the overrides (AdamW, Adam, SGD, …): named here instead.
    /// </summary>
    private static bool IsTorchSharpOptimizerStep(MethodReference method)
    {
        if (method.Name != "step" || !IsTorchSharp(method)) return false;
        for (TypeReference? type = method.DeclaringType; type is not null; type = Resolve(type)?.BaseType)
            if (type.Name is "Optimizer" or "OptimizerHelper") return true;
        return false;
    }

    /// <summary>
    /// The receiver of a virtual call is a local, argument or field whose static type is ours (not TorchSharp's), e.g.
    /// <c>ScalarSafeOptimizer</c>: its override is audited with our own code. Found by walking back over the arguments when
    /// each is one simple push; anything else counts as TorchSharp's.
    /// </summary>
    private static bool IsOwnOverride(MethodDefinition method, IList<Instruction> instructions, int call, MethodReference callee)
    {
        int receiver = call - 1 - callee.Parameters.Count;
        if (receiver < 0) return false;
        for (int j = receiver + 1; j < call; j++)
            if (instructions[j].OpCode.StackBehaviourPop != StackBehaviour.Pop0 || instructions[j].OpCode.StackBehaviourPush != StackBehaviour.Push1
                && instructions[j].OpCode.StackBehaviourPush != StackBehaviour.Pushref && instructions[j].OpCode.StackBehaviourPush != StackBehaviour.Pushi)
                return false;
        var load = instructions[receiver];
        TypeReference? type = LoadedLocal(load) is int local ? method.Body.Variables[local].VariableType
            : load.Operand is FieldReference field && load.OpCode.Code is Code.Ldfld or Code.Ldsfld ? field.FieldType
            : load.Operand is ParameterDefinition parameter ? parameter.ParameterType
            : null;
        return type is not null && type.Scope.Name is not ("TorchSharp" or "TorchSharp.dll");
    }

    private static TypeDefinition? Resolve(TypeReference type)
    {
        try { return type.Resolve(); } catch (AssemblyResolutionException) { return null; }
    }

    private static bool IsImplicitScalarConversion(MethodReference method) =>
        method.Name == "op_Implicit" && method.ReturnType.FullName == ScalarType && method.DeclaringType.FullName == ScalarType;

    /// <summary>The call's result goes straight into a field, or into a local that the method later disposes.</summary>
    private static bool IsKeptAlive(MethodDefinition method, IList<Instruction> instructions, int call)
    {
        if (call + 1 >= instructions.Count) return false;
        var next = instructions[call + 1];
        if (next.OpCode.Code is Code.Stfld or Code.Stsfld) return true;
        int? local = StoredLocal(next);
        if (local is null) return false;
        for (int j = call + 2; j + 1 < instructions.Count; j++)
        {
            if (LoadedLocal(instructions[j]) != local) continue;
            // using: ldloc x; [brfalse; ldloc x;] callvirt Dispose
            var after = instructions[j + 1];
            if (after.Operand is MethodReference m && m.Name == "Dispose" && IsCall(after)) return true;
        }
        return false;
    }

    private static int? StoredLocal(Instruction i) => i.OpCode.Code switch
    {
        Code.Stloc_0 => 0, Code.Stloc_1 => 1, Code.Stloc_2 => 2, Code.Stloc_3 => 3,
        Code.Stloc or Code.Stloc_S => ((VariableDefinition)i.Operand).Index,
        _ => null,
    };

    private static int? LoadedLocal(Instruction i) => i.OpCode.Code switch
    {
        Code.Ldloc_0 => 0, Code.Ldloc_1 => 1, Code.Ldloc_2 => 2, Code.Ldloc_3 => 3,
        Code.Ldloc or Code.Ldloc_S => ((VariableDefinition)i.Operand).Index,
        _ => null,
    };

    /// <summary>A call chain inside TorchSharp from <paramref name="method"/> to a Scalar-making call, or null.</summary>
    private string? TemporaryScalarInside(MethodReference method, int depth)
    {
        string key = method.FullName;
        if (_torchSharpVerdicts.TryGetValue(key, out var known)) return known;
        _torchSharpVerdicts[key] = null; // recursion guard
        string? verdict = null;
        MethodDefinition? definition = null;
        try { definition = method.Resolve(); } catch (AssemblyResolutionException) { }
        if (definition is { HasBody: true })
        {
            foreach (var instruction in definition.Body.Instructions)
            {
                if (instruction.Operand is not MethodReference callee || !IsCall(instruction)) continue;
                if (callee.ReturnType.FullName == ScalarType && callee.DeclaringType.FullName != ScalarType + "/Handle")
                {
                    verdict = $"{definition.DeclaringType.Name}.{definition.Name} → {callee.DeclaringType.Name}.{callee.Name}";
                    break;
                }
                if (depth > 1 && IsTorchSharp(callee) && TemporaryScalarInside(callee, depth - 1) is { } inner)
                {
                    verdict = $"{definition.DeclaringType.Name}.{definition.Name} → {inner}";
                    break;
                }
            }
        }
        _torchSharpVerdicts[key] = verdict;
        return verdict;
    }
}
