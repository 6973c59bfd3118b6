using System.Security.Cryptography;
using System.Text;

namespace Microsoft.ML.DiLoCo.Checkpointing;

/// <summary>
/// Checkpoint files signed with the run's shared secret (docs/security.md, "Verifiable files"): beside each checkpoint or
/// MPI part, "&lt;file&gt;.hmac" holds an HMAC-SHA256 over the file's name and the SHA-256 of its bytes, under a key derived
/// from the secret with HKDF. The SHA-256 inside the file catches corruption; this catches tampering (whoever can write the
/// file can recompute those) and a signed file renamed to pass for another step. A sidecar keeps the file format (version 1)
/// as it is. Written after the file: a crash in between leaves an unsigned newest checkpoint, refused like a damaged one.
/// </summary>
internal sealed class CheckpointSignature
{
    public const string Suffix = ".hmac";
    private static readonly byte[] Info = Encoding.ASCII.GetBytes("Microsoft.ML.DiLoCo checkpoint HMAC-SHA256 v1");
    private readonly byte[] _key;

    public CheckpointSignature(byte[] secret) => _key = HKDF.DeriveKey(HashAlgorithmName.SHA256, secret, 32, salt: [], info: Info);

    /// <summary>The signer of a run with exchange encryption (its secret from <paramref name="keyFile"/> or the environment), else null: files are not signed.</summary>
    public static CheckpointSignature? For(bool encrypted, string? keyFile) =>
        encrypted && Communication.ExchangeSecret.Read(keyFile) is { } secret ? new(secret) : null;

    /// <summary>Writes the signature of <paramref name="path"/>, whose bytes hash to <paramref name="sha256"/> (temporary file, then rename).</summary>
    public void Sign(string path, byte[] sha256)
    {
        string temporary = path + Suffix + ".tmp-" + Guid.NewGuid().ToString("N");
        File.WriteAllBytes(temporary, Mac(path, sha256));
        File.Move(temporary, path + Suffix, overwrite: true);
    }

    /// <exception cref="InvalidDataException">No signature beside the file, or one that does not match it.</exception>
    public void Verify(string path, byte[] sha256)
    {
        var info = new FileInfo(path + Suffix);
        if (!info.Exists)
            throw new InvalidDataException($"{Path.GetFileName(path)} has no signature ({Path.GetFileName(path)}{Suffix}) but ExchangeSecurity = Encrypted: it was written without the key, or the signature was removed.");
        byte[] signature = info.Length == HMACSHA256.HashSizeInBytes ? File.ReadAllBytes(info.FullName) : [];
        if (!CryptographicOperations.FixedTimeEquals(signature, Mac(path, sha256)))
            throw new InvalidDataException($"{Path.GetFileName(path)} does not match its signature: the file was altered or renamed, or signed with another key.");
    }

    private byte[] Mac(string path, byte[] sha256) =>
        HMACSHA256.HashData(_key, (byte[])[.. Encoding.UTF8.GetBytes(Path.GetFileName(path)), 0, .. sha256]);
}
