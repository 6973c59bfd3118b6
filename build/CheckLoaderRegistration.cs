// Checks that a built Microsoft.ML.DiLoCo.dll carries ML.NET's model-loader registration, the two assembly attributes
// that let a fresh process load a saved model with nothing but `new MLContext()` and `ml.Model.Load`
// (build/ModelLoaderWeaving.targets, docs/persistence.md):
//   [assembly: LoadableClass(typeof(LanguageModelTransformer), typeof(LanguageModelLoader), null,
//                            typeof(SignatureLoadModel), "Language model", "DiLoCoLanguageModel")]   (woven after compile)
//   [assembly: IgnoresAccessChecksTo("Microsoft.ML.Core")]                                          (in source)
// Reads the metadata only (nothing is loaded or run). Used by build/pack-library.sh on the DLL inside the package.
//   dotnet run --file build/CheckLoaderRegistration.cs -- path/to/Microsoft.ML.DiLoCo.dll
// Exit code 0: both present and as above; 1: missing or different (the reason on stderr); 2: usage.
using System.Collections.Immutable;
using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;

if (args.Length != 1 || !File.Exists(args[0]))
{
    Console.Error.WriteLine("usage: dotnet run --file build/CheckLoaderRegistration.cs -- path/to/Microsoft.ML.DiLoCo.dll");
    return 2;
}

using var stream = File.OpenRead(args[0]);
using var pe = new PEReader(stream);
var metadata = pe.GetMetadataReader();
string? loadable = null;
bool ignoresAccessChecks = false;
foreach (var handle in metadata.GetAssemblyDefinition().GetCustomAttributes())
{
    var attribute = metadata.GetCustomAttribute(handle);
    switch (AttributeTypeName(metadata, attribute)) // decode only these two (others may carry enums we need not know)
    {
        case "Microsoft.ML.LoadableClassAttribute":
            loadable = string.Join(", ", attribute.DecodeValue(new TypeNames()).FixedArguments.Select(Show));
            break;
        case "System.Runtime.CompilerServices.IgnoresAccessChecksToAttribute":
            ignoresAccessChecks |= attribute.DecodeValue(new TypeNames()).FixedArguments is [{ Value: "Microsoft.ML.Core" }];
            break;
    }
}

const string Expected = "Microsoft.ML.DiLoCo.LanguageModelTransformer, Microsoft.ML.DiLoCo.Persistence.LanguageModelLoader, null, " +
                        "Microsoft.ML.SignatureLoadModel, Language model, [DiLoCoLanguageModel]";
if (loadable is null)
    return Fail("has no [assembly: LoadableClass] attribute: the ML.NET loader was not woven in (build/ModelLoaderWeaving.targets)");
if (loadable != Expected)
    return Fail($"has [assembly: LoadableClass({loadable})]; expected LoadableClass({Expected})");
if (!ignoresAccessChecks)
    return Fail("has no [assembly: IgnoresAccessChecksTo(\"Microsoft.ML.Core\")]: the runtime would skip the LoadableClass attribute");
Console.WriteLine($"ok: {args[0]} carries LoadableClass({loadable}) and IgnoresAccessChecksTo(\"Microsoft.ML.Core\")");
return 0;

int Fail(string why)
{
    Console.Error.WriteLine($"error: {args[0]} {why}");
    return 1;
}

static string Show(CustomAttributeTypedArgument<string> argument) => argument.Value switch
{
    null => "null",
    ImmutableArray<CustomAttributeTypedArgument<string>> items => "[" + string.Join(", ", items.Select(Show)) + "]",
    var v => v.ToString()!,
};

static string AttributeTypeName(MetadataReader metadata, CustomAttribute attribute)
{
    EntityHandle type = attribute.Constructor.Kind switch
    {
        HandleKind.MemberReference => metadata.GetMemberReference((MemberReferenceHandle)attribute.Constructor).Parent,
        HandleKind.MethodDefinition => metadata.GetMethodDefinition((MethodDefinitionHandle)attribute.Constructor).GetDeclaringType(),
        _ => default,
    };
    var (ns, name) = type.Kind switch
    {
        HandleKind.TypeReference => (metadata.GetTypeReference((TypeReferenceHandle)type).Namespace, metadata.GetTypeReference((TypeReferenceHandle)type).Name),
        HandleKind.TypeDefinition => (metadata.GetTypeDefinition((TypeDefinitionHandle)type).Namespace, metadata.GetTypeDefinition((TypeDefinitionHandle)type).Name),
        _ => (default(StringHandle), default(StringHandle)),
    };
    return name.IsNil ? "" : metadata.GetString(ns) + "." + metadata.GetString(name);
}

/// <summary>Decodes attribute arguments with types as their names (enough to compare them).</summary>
sealed class TypeNames : ICustomAttributeTypeProvider<string>
{
    public string GetPrimitiveType(PrimitiveTypeCode typeCode) => typeCode.ToString();
    public string GetSystemType() => "System.Type";
    public string GetSZArrayType(string elementType) => elementType + "[]";
    public string GetTypeFromDefinition(MetadataReader reader, TypeDefinitionHandle handle, byte rawTypeKind) =>
        reader.GetString(reader.GetTypeDefinition(handle).Namespace) + "." + reader.GetString(reader.GetTypeDefinition(handle).Name);
    public string GetTypeFromReference(MetadataReader reader, TypeReferenceHandle handle, byte rawTypeKind) =>
        reader.GetString(reader.GetTypeReference(handle).Namespace) + "." + reader.GetString(reader.GetTypeReference(handle).Name);
    // Type arguments are serialised with their assembly ("Namespace.Name, Assembly, Version=..."): keep the type's name.
    public string GetTypeFromSerializedName(string? name) => name?.Split(',')[0].Trim()!; // null: a null Type argument
    public PrimitiveTypeCode GetUnderlyingEnumType(string type) => throw new BadImageFormatException($"Unexpected enum argument of type {type}.");
    public bool IsSystemType(string type) => type == "System.Type";
}
