using System.Reflection;

namespace Microsoft.ML.DiLoCo.Persistence;

/// <summary>
/// The few internal members of ML.NET's <see cref="ModelSaveContext"/> and <c>ModelLoadContext</c> that any
/// savable transformer needs, reached by reflection (ML.NET keeps them internal to its own assemblies).
/// Microsoft.ML is pinned to 5.0.1 in Directory.Packages.props; a missing member fails loudly here, and the
/// separate-process save/load test catches any change in behaviour.
/// </summary>
internal static class MLNetModelContext
{
    /// <summary>The loader name written into the model header; the woven [assembly: LoadableClass] maps it to
    /// <see cref="LanguageModelLoader"/> (build/ModelLoaderWeaving.targets).</summary>
    public const string LoaderSignature = "DiLoCoLanguageModel";

    /// <summary>ML.NET's 8-character model signature for this transformer.</summary>
    public const string ModelSignature = "DILOCOLM";

    /// <summary>ML.NET's own header version; the library's format version lives in the main stream (see <see cref="LanguageModelFile"/>).</summary>
    private const uint HeaderVersion = 0x00010001;

    private const BindingFlags Members = BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic;
    private static readonly Assembly Core = typeof(ModelSaveContext).Assembly;
    private static readonly Type VersionInfoType = CoreType("Microsoft.ML.VersionInfo");
    private static readonly Type LoadContextType = CoreType("Microsoft.ML.ModelLoadContext");

    /// <summary>Writes one model through ML.NET: header with our version info, the main stream, then named entries.</summary>
    public static void Save(ModelSaveContext ctx, Action<BinaryWriter, Action<string, Action<Stream>>> write)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        Invoke(ctx, typeof(ModelSaveContext), "CheckAtModel", Type.EmptyTypes);
        Invoke(ctx, typeof(ModelSaveContext), "SetVersionInfo", [VersionInfoType], CreateVersionInfo());
        var main = (BinaryWriter)Field(typeof(ModelSaveContext), "Writer").GetValue(ctx)!;
        write(main, (name, body) =>
            Invoke(ctx, typeof(ModelSaveContext), "SaveBinaryStream", [typeof(string), typeof(Action<BinaryWriter>)],
                name, new Action<BinaryWriter>(writer => { body(writer.BaseStream); writer.Flush(); })));
    }

    /// <summary>Checks the header against our version info and hands the main stream and an entry reader to <paramref name="read"/>.</summary>
    public static T Load<T>(object ctx, Func<BinaryReader, Func<string, Action<Stream>, bool>, T> read)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        if (!LoadContextType.IsInstanceOfType(ctx))
            throw new ArgumentException($"Expected ML.NET's ModelLoadContext, got {ctx.GetType()}.", nameof(ctx));
        Invoke(ctx, LoadContextType, "CheckAtModel", [VersionInfoType], CreateVersionInfo());
        var main = (BinaryReader)Field(LoadContextType, "Reader").GetValue(ctx)!;
        return read(main, (name, body) =>
            (bool)Invoke(ctx, LoadContextType, "TryLoadBinaryStream", [typeof(string), typeof(Action<BinaryReader>)],
                name, new Action<BinaryReader>(reader => body(reader.BaseStream)))!);
    }

    private static object CreateVersionInfo()
    {
        var ctor = VersionInfoType.GetConstructor(Members, [typeof(string), typeof(uint), typeof(uint), typeof(uint), typeof(string), typeof(string), typeof(string)])
            ?? throw Missing("VersionInfo(string, uint, uint, uint, string, string, string)");
        return ctor.Invoke([ModelSignature, HeaderVersion, HeaderVersion, HeaderVersion, typeof(MLNetModelContext).Assembly.FullName, LoaderSignature, null]);
    }

    private static object? Invoke(object target, Type type, string name, Type[] parameters, params object?[] arguments)
    {
        var method = type.GetMethod(name, Members, parameters) ?? throw Missing($"{type.Name}.{name}");
        try
        {
            return method.Invoke(target, arguments);
        }
        catch (TargetInvocationException e) when (e.InnerException is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e.InnerException).Throw();
            throw;
        }
    }

    private static FieldInfo Field(Type type, string name) => type.GetField(name, Members) ?? throw Missing($"{type.Name}.{name}");

    private static Type CoreType(string name) => Core.GetType(name) ?? throw Missing(name);

    private static InvalidOperationException Missing(string member) =>
        new($"Microsoft.ML.Core {Core.GetName().Version} lacks '{member}', which saving and loading language models needs; Microsoft.ML.DiLoCo is built against Microsoft.ML 5.0.1.");
}
