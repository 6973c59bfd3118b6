namespace Microsoft.ML.DiLoCo.Communication;

/// <summary>
/// Wraps one member's <see cref="ICollective"/> and seals every equal-length exchange with AES-256-GCM (<see cref="ExchangeSealer"/>):
/// this member's payload leaves as [nonce][ciphertext][tag], and every other member's is opened and authenticated before the caller
/// sees it. A payload that fails (another key, altered, truncated, replayed, attributed to another sender) fails the exchange with a
/// <see cref="PeerPayloadException"/> naming its sender, so nothing of it reaches θ̂. The wrapped collective checks lengths before
/// allocating, on the sealed length (plaintext + <see cref="Overhead"/>). Callers see exactly the bytes they sent: results are
/// bit-identical with and without sealing. Disposing it disposes the wrapped collective.
/// </summary>
/// <remarks>
/// The exchange counter is this member's count of equal-length exchanges: every member issues the same calls in the same order, so all
/// members count alike, and a payload sealed under another count is a replay. The plain <see cref="AllGatherAsync"/> is not used by the
/// engine's exchanges and is refused rather than sent in the clear.
/// </remarks>
internal sealed class SealedCollective : ICollective
{
    private readonly ICollective _inner;
    private readonly ExchangeSealer _sealer;
    private long _exchanges;
    private readonly bool _ownsInner;

    /// <summary>Seals <paramref name="inner"/>'s exchanges under <paramref name="keys"/>.</summary>
    /// <param name="inner">This member's collective.</param>
    /// <param name="keys">The run's keys (every member must derive them from the same secret and run id).</param>
    /// <param name="wireFormat">An identifier of the payloads' format (codec and framing), bound into every payload.</param>
    /// <param name="ownsInner">Whether <see cref="Dispose"/> disposes <paramref name="inner"/> (not when it is a caller's).</param>
    public SealedCollective(ICollective inner, ExchangeKeys keys, byte wireFormat, bool ownsInner = true)
    {
        ArgumentNullException.ThrowIfNull(inner);
        ArgumentNullException.ThrowIfNull(keys);
        _inner = inner;
        _ownsInner = ownsInner;
        _sealer = new ExchangeSealer(keys, inner.Size, wireFormat);
    }

    /// <summary>Bytes sealing adds to each payload: a 12-byte nonce and a 16-byte tag.</summary>
    public const int Overhead = ExchangeSealer.Overhead;

    /// <inheritdoc/>
    public int Rank => _inner.Rank;

    /// <inheritdoc/>
    public int Size => _inner.Size;

    /// <summary>Equal-length exchanges sealed so far (the next exchange's counter).</summary>
    public long Exchanges => Interlocked.Read(ref _exchanges);

    /// <summary>Refused: only equal-length exchanges are sealed, and nothing is sent in the clear.</summary>
    public Task<ReadOnlyMemory<byte>[]> AllGatherAsync(ReadOnlyMemory<byte> payload, CancellationToken cancellationToken = default) =>
        throw new NotSupportedException("A sealed collective carries only equal-length exchanges (AllGatherSameLengthAsync); nothing is sent in the clear.");

    /// <inheritdoc/>
    public Task<PeerPayload[]> AllGatherSameLengthAsync(ReadOnlyMemory<byte> payload, CancellationToken cancellationToken = default) =>
        AllGatherSameLengthAsync(payload, ExchangeLabel.Unlabelled, cancellationToken);

    /// <inheritdoc/>
    public async Task<PeerPayload[]> AllGatherSameLengthAsync(ReadOnlyMemory<byte> payload, ExchangeLabel label, CancellationToken cancellationToken = default)
    {
        long counter = Interlocked.Increment(ref _exchanges) - 1;
        byte[] sealedPayload = _sealer.Seal(payload.Span, Rank, counter, label);
        var gathered = await _inner.AllGatherSameLengthAsync(sealedPayload, label, cancellationToken).ConfigureAwait(false);
        var opened = new PeerPayload[gathered.Length];
        for (int i = 0; i < gathered.Length; i++)
        {
            var (sender, bytes) = gathered[i];
            // Our own payload is the caller's bytes: not opened again (and the same object as without sealing).
            opened[i] = sender == Rank ? new PeerPayload(sender, payload) : new PeerPayload(sender, _sealer.Open(bytes.Span, sender, counter, label));
        }
        return opened;
    }

    /// <summary>Disposes the cipher, and the wrapped collective when it owns it.</summary>
    public void Dispose()
    {
        _sealer.Dispose();
        if (_ownsInner) _inner.Dispose();
    }
}
