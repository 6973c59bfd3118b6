namespace Microsoft.ML.DiLoCo.Communication;

/// <summary>
/// What an exchange is for, as the engine knows it: the step that launched it and the fragment (−1: data-parallel gradients).
/// Collectives that move bytes ignore it; <see cref="SealedCollective"/> binds it into each payload's authenticated data,
/// so a payload sealed for one step or fragment is refused in another.
/// </summary>
/// <param name="Step">The launch step (1-based); −1 when the caller does not say.</param>
/// <param name="Fragment">The fragment; −1 for gradients or when the caller does not say.</param>
public readonly record struct ExchangeLabel(long Step, int Fragment)
{
    /// <summary>An exchange whose caller gave no step or fragment (the exchange counter still orders it).</summary>
    public static ExchangeLabel Unlabelled => new(-1, -1);
}
