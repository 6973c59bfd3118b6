namespace Microsoft.ML.DiLoCo;

/// <summary>Whether the exchanges between workers are protected (see docs/security.md).</summary>
public enum ExchangeSecurity
{
    /// <summary>Payloads travel in the clear, unauthenticated (a trusted network, or one process).</summary>
    None,
    /// <summary>
    /// Every payload is sealed with AES-256-GCM under a per-run key derived from a shared 256-bit secret
    /// (<c>ExchangeKeyFile</c> or the <c>DILOCO_EXCHANGE_KEY</c> environment variable). Results are bit-identical either way.
    /// </summary>
    Encrypted,
}
