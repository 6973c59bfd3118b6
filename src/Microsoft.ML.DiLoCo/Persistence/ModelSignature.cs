using System.Security.Cryptography;
using System.Text;
using Microsoft.ML.DiLoCo.Communication;

namespace Microsoft.ML.DiLoCo.Persistence;

/// <summary>
/// The model file's HMAC-SHA256 (docs/security.md, "Verifiable files"). The SHA-256 checksums in the manifest catch
/// corruption, not tampering: whoever can write the file can recompute them. With the shared secret configured
/// (<c>SigningKeyFile</c>, or the <c>DILOCO_EXCHANGE_KEY</c> variable) the file carries an HMAC over the manifest's exact bytes, which
/// name the weights' SHA-256 (checked on load), so the whole model is covered; a reader with the secret refuses a file
/// without it or with one that does not match. The file key is derived from the secret with HKDF, so it is never the
/// exchange key and a signature says nothing about the secret.
/// </summary>
internal static class ModelSignature
{
    public const string Entry = "Signature.hmac";
    private static readonly byte[] Info = Encoding.ASCII.GetBytes("Microsoft.ML.DiLoCo model file HMAC-SHA256 v1");

    /// <summary>
    /// A secret given for one <c>LanguageModelTransformer.Load</c> call on this thread: ML.NET's loader is called by reflection
    /// and takes no argument of ours, but it runs on the caller's thread.
    /// </summary>
    [ThreadStatic] internal static byte[]? ExplicitSecret;

    /// <summary>The secret to sign or check with: the explicit one, else the environment variable's; null when neither.</summary>
    public static byte[]? CurrentSecret(string option) => ExplicitSecret ?? ExchangeSecret.Read(null, option);

    public static byte[] Sign(byte[] secret, ReadOnlySpan<byte> manifest) => HMACSHA256.HashData(FileKey(secret), manifest);

    /// <exception cref="InvalidDataException">No signature, or one that does not match (altered file or another key).</exception>
    public static void Verify(byte[] secret, ReadOnlySpan<byte> manifest, byte[]? signature)
    {
        if (signature is null)
            throw new InvalidDataException($"The model file carries no {Entry} entry, but a signing key is configured: it was saved without the key, or the signature was removed.");
        if (signature.Length != HMACSHA256.HashSizeInBytes || !CryptographicOperations.FixedTimeEquals(signature, Sign(secret, manifest)))
            throw new InvalidDataException("The model file's signature does not match its contents: the file was altered, or signed with another key.");
    }

    /// <summary>Reads the signature entry (at most 32 bytes are ever read).</summary>
    public static byte[] Read(Stream stream)
    {
        var buffer = new byte[HMACSHA256.HashSizeInBytes + 1];
        int total = 0, read;
        while (total < buffer.Length && (read = stream.Read(buffer, total, buffer.Length - total)) > 0) total += read;
        return buffer[..total];
    }

    private static byte[] FileKey(byte[] secret) => HKDF.DeriveKey(HashAlgorithmName.SHA256, secret, 32, salt: [], info: Info);
}
