using System.Security.Cryptography;

namespace Microsoft.ML.DiLoCo.Communication;

/// <summary>
/// The keys of one run: the exchange key derived with HKDF-SHA256 from the shared 256-bit secret and the run id every member agreed
/// on at start-up. The secret itself is not kept.
/// <see cref="ToString"/> never shows key material.
/// </summary>
internal sealed class ExchangeKeys
{
    /// <summary>Bytes of a run id.</summary>
    public const int RunIdBytes = 16;

    /// <summary>Bytes of the shared secret and of every derived key.</summary>
    public const int KeyBytes = 32;

    private static readonly byte[] ExchangeInfo = "Microsoft.ML.DiLoCo exchange AES-256-GCM v1"u8.ToArray();

    private ExchangeKeys(byte[] runId, byte[] exchangeKey)
    {
        RunId = runId;
        ExchangeKey = exchangeKey;
    }

    /// <summary>The run id (public: it travels in the clear).</summary>
    public ReadOnlyMemory<byte> RunId { get; }

    /// <summary>The AES-256-GCM key of this run's exchanges.</summary>
    internal byte[] ExchangeKey { get; }

    /// <summary>Derives the keys of the run <paramref name="runId"/> from <paramref name="secret"/>.</summary>
    public static ExchangeKeys Derive(ReadOnlySpan<byte> secret, ReadOnlySpan<byte> runId)
    {
        if (secret.Length != KeyBytes) throw new ArgumentException($"The exchange secret must be {KeyBytes} bytes.", nameof(secret));
        if (runId.Length != RunIdBytes) throw new ArgumentException($"A run id is {RunIdBytes} bytes.", nameof(runId));
        var key = new byte[KeyBytes];
        HKDF.DeriveKey(HashAlgorithmName.SHA256, secret, key, runId, ExchangeInfo);
        return new ExchangeKeys(runId.ToArray(), key);
    }

    /// <summary>A fresh random run id.</summary>
    public static byte[] NewRunId() => RandomNumberGenerator.GetBytes(RunIdBytes);

    /// <summary>
    /// The run id every member of <paramref name="ranks"/> agrees on: rank 0 draws it and all-gather shares it. Called once at start-up,
    /// before any sealed exchange. An attacker who alters it in transit only makes every later exchange fail authentication.
    /// </summary>
    public static byte[] AgreeRunId(ICollective ranks)
    {
        byte[] mine = ranks.Rank == 0 ? NewRunId() : new byte[RunIdBytes];
        var gathered = ranks.AllGatherSameLengthAsync(mine).GetAwaiter().GetResult();
        return gathered.Single(p => p.Sender == 0).Bytes.ToArray();
    }

    /// <inheritdoc/>
    public override string ToString() => $"exchange keys of run {Convert.ToHexString(RunId.Span)}";
}
