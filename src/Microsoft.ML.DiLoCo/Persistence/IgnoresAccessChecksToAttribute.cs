// The runtime honours this attribute (the compiler does not): it lets the woven [assembly: LoadableClass] attribute,
// whose type is internal to Microsoft.ML.Core, be read by ML.NET's component catalog. Without it the runtime skips
// the attribute and ML.NET cannot find the loader in a fresh process.
[assembly: System.Runtime.CompilerServices.IgnoresAccessChecksTo("Microsoft.ML.Core")]

namespace System.Runtime.CompilerServices;

/// <summary>Declared here because the runtime recognises it by name but no reference assembly defines it.</summary>
[AttributeUsage(AttributeTargets.Assembly, AllowMultiple = true)]
internal sealed class IgnoresAccessChecksToAttribute(string assemblyName) : Attribute
{
    public string AssemblyName { get; } = assemblyName;
}
