using Mono.Cecil;

namespace Microsoft.ML.DiLoCo.Tests.Architecture;

/// <summary>
/// Lists what another assembly can see of a module: every public type, and every public member of it (protected too on an
/// unsealed type, since a subclass sees it), one stable line each, with C#-like signatures: parameter names and defaults, since
/// a caller can write them. Attributes and nullable annotations are left out. Reads metadata only: nothing is resolved or loaded.
/// </summary>
internal static class PublicApiListing
{
    /// <summary>The sorted lines for <paramref name="module"/>'s types in namespaces that start with <paramref name="namespacePrefix"/>.</summary>
    public static List<string> Of(ModuleDefinition module, string namespacePrefix = "")
    {
        var lines = new List<(string Key, string Line)>();
        foreach (var type in module.GetTypes().Where(IsVisible))
        {
            if (!Outermost(type).Namespace.StartsWith(namespacePrefix, StringComparison.Ordinal)) continue;
            lines.Add((Name(type), TypeLine(type)));
            lines.AddRange(Members(type).Select(m => ($"{Name(type)}::{m.Key}", m.Line)));
        }

        return lines.OrderBy(l => l.Key, StringComparer.Ordinal).ThenBy(l => l.Line, StringComparer.Ordinal).Select(l => l.Line).ToList();
    }

    private static IEnumerable<(string Key, string Line)> Members(TypeDefinition type)
    {
        string owner = Name(type);
        if (type.IsEnum)
        {
            foreach (var value in type.Fields.Where(f => f.IsStatic && f.IsLiteral))
                yield return (value.Name, $"value {owner}::{value.Name} = {value.Constant}");
            yield break;
        }

        foreach (var field in type.Fields.Where(f => Sees(type, f.IsPublic, f.IsFamily, f.IsFamilyOrAssembly)))
        {
            string kind = field.IsLiteral ? "const " : $"{(field.IsStatic ? "static " : "")}{(field.IsInitOnly ? "readonly " : "")}";
            string value = field.IsLiteral ? $" = {Literal(field.Constant)}" : "";
            yield return (field.Name, $"field {Access(field.IsPublic)}{kind}{owner}::{field.Name} : {TypeName(field.FieldType)}{value}");
        }

        foreach (var property in type.Properties)
        {
            var accessors = new[] { ("get", property.GetMethod), (SetterWord(property.SetMethod), property.SetMethod) }
                .Where(a => a.Item2 is not null && Sees(type, a.Item2)).ToList();
            if (accessors.Count == 0) continue;
            var any = accessors[0].Item2!;
            string index = property.HasParameters ? $"[{Parameters(property.Parameters)}]" : "";
            string body = string.Join(" ", accessors.Select(a => $"{(a.Item2!.IsPublic ? "" : "protected ")}{a.Item1};"));
            yield return (property.Name, $"property {Modifiers(any, type, access: false)}{owner}::{property.Name}{index} : {TypeName(property.PropertyType)} {{ {body} }}");
        }

        foreach (var e in type.Events.Where(e => e.AddMethod is not null && Sees(type, e.AddMethod)))
            yield return (e.Name, $"event {Modifiers(e.AddMethod, type)}{owner}::{e.Name} : {TypeName(e.EventType)}");

        foreach (var method in type.Methods.Where(m => !m.IsGetter && !m.IsSetter && !m.IsAddOn && !m.IsRemoveOn && Sees(type, m)))
        {
            if (method.IsConstructor && method.IsStatic) continue;
            string generic = method.HasGenericParameters ? $"<{string.Join(", ", method.GenericParameters.Select(g => g.Name))}>" : "";
            string signature = $"{method.Name}{generic}({Parameters(method.Parameters)})";
            yield return method.IsConstructor
                ? (signature, $"ctor {Access(method.IsPublic)}{owner}::{signature}")
                : (signature, $"method {Modifiers(method, type)}{owner}::{signature} : {TypeName(method.ReturnType)}");
        }
    }

    private static string TypeLine(TypeDefinition type)
    {
        string kind = type.IsEnum ? "enum"
            : type.IsInterface ? "interface"
            : type.IsValueType ? (IsReadOnly(type) ? "readonly struct" : "struct")
            : type.BaseType?.FullName == "System.MulticastDelegate" ? "delegate"
            : type.IsAbstract && type.IsSealed ? "static class"
            : type.IsAbstract ? "abstract class"
            : type.IsSealed ? "sealed class" : "class";
        var bases = new List<string>();
        if (type.IsEnum) bases.Add(TypeName(type.Fields.Single(f => f.Name == "value__").FieldType));
        else if (type.BaseType is { } b && b.FullName is not ("System.Object" or "System.ValueType" or "System.MulticastDelegate")) bases.Add(TypeName(b));
        bases.AddRange(type.Interfaces.Select(i => TypeName(i.InterfaceType)).Order(StringComparer.Ordinal));
        string access = type.IsNestedFamily || type.IsNestedFamilyOrAssembly ? "protected " : "";
        return $"type {access}{kind} {Name(type)}{(bases.Count > 0 ? " : " + string.Join(", ", bases) : "")}";
    }

    /// <summary>Public, or nested public/protected in a visible type (protected only where a subclass can exist).</summary>
    private static bool IsVisible(TypeDefinition type) =>
        type.IsPublic
        || (type.IsNested && IsVisible(type.DeclaringType)
            && (type.IsNestedPublic || ((type.IsNestedFamily || type.IsNestedFamilyOrAssembly) && !type.DeclaringType.IsSealed)));

    private static bool Sees(TypeDefinition type, MethodDefinition method) =>
        Sees(type, method.IsPublic, method.IsFamily, method.IsFamilyOrAssembly);

    private static bool Sees(TypeDefinition type, bool isPublic, bool isFamily, bool isFamilyOrAssembly) =>
        isPublic || ((isFamily || isFamilyOrAssembly) && !type.IsSealed);

    private static string Access(bool isPublic) => isPublic ? "" : "protected ";

    private static string Modifiers(MethodDefinition method, TypeDefinition type, bool access = true)
    {
        string modifiers = access ? Access(method.IsPublic) : "";
        if (method.IsStatic) modifiers += "static ";
        else if (method.IsAbstract) modifiers += "abstract ";
        else if (method.IsVirtual && !method.IsNewSlot) modifiers += method.IsFinal ? "sealed override " : "override ";
        else if (method.IsVirtual && !method.IsFinal && !type.IsSealed) modifiers += "virtual ";
        return modifiers;
    }

    private static string SetterWord(MethodDefinition? setter) =>
        setter?.ReturnType is RequiredModifierType { ModifierType.FullName: "System.Runtime.CompilerServices.IsExternalInit" } ? "init" : "set";

    private static bool IsReadOnly(TypeDefinition type) =>
        type.CustomAttributes.Any(a => a.AttributeType.FullName == "System.Runtime.CompilerServices.IsReadOnlyAttribute");

    private static string Parameters(IEnumerable<ParameterDefinition> parameters) => string.Join(", ", parameters.Select(Parameter));

    private static string Parameter(ParameterDefinition p)
    {
        string prefix = p.ParameterType is ByReferenceType ? (p.IsOut ? "out " : p.IsIn ? "in " : "ref ") : "";
        if (p.CustomAttributes.Any(a => a.AttributeType.FullName == "System.ParamArrayAttribute")) prefix += "params ";
        string value = p.HasDefault ? $" = {DefaultValue(p.ParameterType, p.Constant)}" : p.IsOptional ? " = default" : "";
        return $"{prefix}{TypeName(p.ParameterType)} {p.Name}{value}";
    }

    /// <summary>A default as C# writes it: an enum member by name (for this module's enums), <c>default</c> for a struct.</summary>
    private static string DefaultValue(TypeReference type, object? constant)
    {
        if (type is TypeDefinition { IsEnum: true } e)
            return e.Fields.FirstOrDefault(f => f.IsLiteral && Equals(f.Constant, constant)) is { } member ? $"{TypeName(e)}.{member.Name}" : Literal(constant);
        bool nullable = type is GenericInstanceType { ElementType.FullName: "System.Nullable`1" };
        return constant is null && type.IsValueType && !nullable ? "default" : Literal(constant);
    }

    private static string Literal(object? value) => value switch
    {
        null => "null",
        string s => $"\"{s}\"",
        bool b => b ? "true" : "false",
        IFormattable f => f.ToString(null, System.Globalization.CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };

    private static TypeDefinition Outermost(TypeDefinition type) => type.DeclaringType is null ? type : Outermost(type.DeclaringType);

    /// <summary>A type definition's name: namespace, outer types joined with '+', generic parameters in angle brackets.</summary>
    private static string Name(TypeDefinition type) => TypeName(type);

    /// <summary>A type reference as C# would write it (keywords for primitives, T? for Nullable&lt;T&gt;, no arity backticks).</summary>
    internal static string TypeName(TypeReference type)
    {
        switch (type)
        {
            case RequiredModifierType r: return TypeName(r.ElementType);
            case OptionalModifierType o: return TypeName(o.ElementType);
            case ByReferenceType r: return TypeName(r.ElementType);
            case PointerType p: return TypeName(p.ElementType) + "*";
            case ArrayType a: return $"{TypeName(a.ElementType)}[{new string(',', a.Rank - 1)}]";
            case GenericParameter g: return g.Name;
            case GenericInstanceType { ElementType.FullName: "System.Nullable`1" } n: return TypeName(n.GenericArguments[0]) + "?";
            case GenericInstanceType g: return $"{PlainName(g.ElementType)}<{string.Join(", ", g.GenericArguments.Select(TypeName))}>";
        }

        if (Keywords.TryGetValue(type.FullName, out var keyword)) return keyword;
        return type.HasGenericParameters ? $"{PlainName(type)}<{string.Join(", ", type.GenericParameters.Select(g => g.Name))}>" : PlainName(type);
    }

    private static string PlainName(TypeReference type)
    {
        string name = type.Name;
        int tick = name.IndexOf('`');
        if (tick >= 0) name = name[..tick];
        return type.DeclaringType is { } outer ? $"{PlainName(outer)}+{name}" : string.IsNullOrEmpty(type.Namespace) ? name : $"{type.Namespace}.{name}";
    }

    private static readonly Dictionary<string, string> Keywords = new()
    {
        ["System.Void"] = "void", ["System.Boolean"] = "bool", ["System.Byte"] = "byte", ["System.SByte"] = "sbyte",
        ["System.Int16"] = "short", ["System.UInt16"] = "ushort", ["System.Int32"] = "int", ["System.UInt32"] = "uint",
        ["System.Int64"] = "long", ["System.UInt64"] = "ulong", ["System.Single"] = "float", ["System.Double"] = "double",
        ["System.Decimal"] = "decimal", ["System.Char"] = "char", ["System.String"] = "string", ["System.Object"] = "object",
    };
}
