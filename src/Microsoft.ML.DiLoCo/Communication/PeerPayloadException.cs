namespace Microsoft.ML.DiLoCo.Communication;

/// <summary>
/// A payload from another worker was refused: its declared length is not the one the exchange expects, or it decodes to a NaN,
/// an infinity or a corrupt scale. Thrown instead of letting one peer's bytes reach θ̂ on every worker; the message names the
/// sender (not the worker that noticed), and, once the engine knows them, the step and the fragment.
/// </summary>
public sealed class PeerPayloadException : InvalidOperationException
{
    /// <summary>Refuses what <paramref name="senderName"/> sent.</summary>
    /// <param name="sender">The sender's index: the worker, or the MPI rank for a rank-level message (the message says which).</param>
    /// <param name="senderName">The sender as the message names it ("worker 1", "MPI rank 1").</param>
    /// <param name="problem">What is wrong with the payload, as a sentence.</param>
    /// <param name="step">The step whose exchange carried it, when known.</param>
    /// <param name="fragment">The fragment it was for (−1: data-parallel gradients), when known.</param>
    /// <param name="inner">The codec's own error, if any.</param>
    public PeerPayloadException(int sender, string senderName, string problem, long? step = null, int? fragment = null, Exception? inner = null)
        : base($"{char.ToUpperInvariant(senderName[0])}{senderName[1..]} sent a payload that was refused{Where(step, fragment)}: {problem}", inner)
    {
        Sender = sender;
        SenderName = senderName;
        Problem = problem;
        Step = step;
        Fragment = fragment;
    }

    /// <summary>The sender's index: the worker (or the MPI rank when <see cref="SenderName"/> says so).</summary>
    public int Sender { get; }

    /// <summary>The sender as the message names it.</summary>
    public string SenderName { get; }

    /// <summary>What is wrong with the payload.</summary>
    public string Problem { get; }

    /// <summary>The step of the exchange that carried the payload (the launch step of a fragment sync); null when not known.</summary>
    public long? Step { get; }

    /// <summary>The fragment the payload was for (−1 for data-parallel gradients); null when not known.</summary>
    public int? Fragment { get; }

    /// <summary>The same refusal, located at <paramref name="step"/> and <paramref name="fragment"/> (the collective does not know them).</summary>
    internal PeerPayloadException At(long step, int fragment) =>
        Step is null ? new PeerPayloadException(Sender, SenderName, Problem, step, fragment, InnerException) : this;

    private static string Where(long? step, int? fragment) => (step, fragment) switch
    {
        (null, _) => "",
        (long s, -1) => $" (gradients of step {s})",
        (long s, int f) => $" for fragment {f} at step {s}",
        (long s, null) => $" at step {s}",
    };
}
