using Microsoft.ML.DiLoCo.Communication;

namespace Microsoft.ML.DiLoCo.Runs;

/// <summary>
/// Exchange encryption as both edges offer it (the trainer's and <see cref="StreamingDiLoCoOptions"/>): one check of
/// ExchangeSecurity / ExchangeKeyFile with one set of messages, and the sealing of a worker's collective.
/// </summary>
internal static class ExchangeSealing
{
    /// <summary>Encrypted needs a readable 256-bit secret; a key file without Encrypted is a mistake.</summary>
    public static void Validate(ExchangeSecurity security, string? keyFile)
    {
        if (!Enum.IsDefined(security))
            throw new ArgumentOutOfRangeException("ExchangeSecurity", security, "Unknown exchange security: None or Encrypted.");
        if (security == ExchangeSecurity.None)
        {
            if (!string.IsNullOrEmpty(keyFile))
                throw new ArgumentException("ExchangeKeyFile is set but ExchangeSecurity = None: set ExchangeSecurity = Encrypted to use the key, " +
                                            "or remove ExchangeKeyFile.", "ExchangeKeyFile");
            return;
        }
        if (ExchangeSecret.Read(keyFile, "ExchangeKeyFile") is not { } secret)
            throw new ArgumentException($"ExchangeSecurity = Encrypted needs a 256-bit secret: set ExchangeKeyFile to a key file, or the " +
                                        $"{ExchangeSecret.EnvironmentVariable} environment variable.", "ExchangeSecurity");
        Array.Clear(secret);
    }

    /// <summary>This run's keys: the shared secret with the run id of this start, so a resumed run never reuses a nonce under the same key.</summary>
    public static ExchangeKeys Keys(string? keyFile, byte[] runId)
    {
        byte[] secret = ExchangeSecret.Read(keyFile, "ExchangeKeyFile")
            ?? throw new ArgumentException("ExchangeSecurity = Encrypted needs a secret (validation checks this first).", "ExchangeSecurity");
        try { return ExchangeKeys.Derive(secret, runId); }
        finally { Array.Clear(secret); }
    }

    /// <summary>What the payloads' bytes mean (algorithm, non-finite policy, codec), bound into every sealed payload.</summary>
    public static byte WireIdentifier(SyncSettings sync, NonFiniteValuePolicy nonFinite) =>
        (byte)(((int)sync.Algorithm << 4) | ((int)nonFinite << 2) | (int)sync.WireFormat);
}
