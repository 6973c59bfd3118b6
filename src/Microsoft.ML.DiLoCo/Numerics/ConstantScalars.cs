using TorchSharp;

namespace Microsoft.ML.DiLoCo.Numerics;

/// <summary>
/// Scalars that live for the whole process, for the ops whose TorchSharp shorthand makes a temporary one: <c>a + b</c> and
/// <c>a.add_(b)</c> call <c>add(b, alpha: 1)</c> with an implicit <c>Scalar</c> the finalizer may free while libtorch reads
/// it (ENVIRONMENT.md, "implicit Scalars"). Write <c>a.add(b, ConstantScalars.One)</c> instead: the same op, the same bits.
/// A static field is never collected; libtorch only reads a Scalar, so threads can share it.
/// </summary>
internal static class ConstantScalars
{
    /// <summary>The integer 1, as TorchSharp's own <c>add(target, 1)</c> passes it.</summary>
    public static readonly Scalar One = 1.ToScalar();
}
