using System.Buffers.Binary;
using System.Security.Cryptography;

namespace Microsoft.ML.DiLoCo.Communication;

/// <summary>
/// AES-256-GCM sealing of one exchange payload under a run's key. A sealed payload is [nonce 12][ciphertext][tag 16]; the nonce is
/// [sender int32][exchange counter int64] (little-endian), so it never repeats under one key: each sender counts its own exchanges
/// and every run (a resumed one too) derives a fresh key from a fresh run id. The authenticated data binds the run id, the exchange's
/// step and fragment, the sender, the group size and the wire format: a payload is refused in any other run, exchange, slot or format.
/// Thread-safe.
/// </summary>
internal sealed class ExchangeSealer : IDisposable
{
    public const int NonceBytes = 12;
    public const int TagBytes = 16;

    /// <summary>Bytes a sealed payload has beyond its plaintext: nonce and tag.</summary>
    public const int Overhead = NonceBytes + TagBytes;

    private const int AadBytes = 8 + ExchangeKeys.RunIdBytes + 8 + 4 + 4 + 4 + 1;
    private static readonly byte[] Magic = "DiLoCoX1"u8.ToArray();
    private readonly AesGcm _aes;
    private readonly byte[] _runId;
    private readonly int _groupSize;
    private readonly byte _wireFormat;
    private readonly object _gate = new();

    /// <param name="keys">The run's derived key and run id.</param>
    /// <param name="groupSize">The number of workers (the receiver set).</param>
    /// <param name="wireFormat">The codec's wire format (and framing) every payload of the run uses.</param>
    public ExchangeSealer(ExchangeKeys keys, int groupSize, byte wireFormat)
    {
        _aes = new AesGcm(keys.ExchangeKey, TagBytes);
        _runId = keys.RunId.ToArray();
        _groupSize = groupSize;
        _wireFormat = wireFormat;
    }

    /// <summary>Seals <paramref name="plaintext"/> as <paramref name="sender"/>'s payload of exchange number <paramref name="counter"/>.</summary>
    public byte[] Seal(ReadOnlySpan<byte> plaintext, int sender, long counter, ExchangeLabel label)
    {
        var sealedPayload = new byte[plaintext.Length + Overhead];
        var nonce = sealedPayload.AsSpan(0, NonceBytes);
        BinaryPrimitives.WriteInt32LittleEndian(nonce, sender);
        BinaryPrimitives.WriteInt64LittleEndian(nonce[4..], counter);
        Span<byte> aad = stackalloc byte[AadBytes];
        WriteAad(aad, sender, label);
        lock (_gate)
            _aes.Encrypt(nonce, plaintext, sealedPayload.AsSpan(NonceBytes, plaintext.Length), sealedPayload.AsSpan(NonceBytes + plaintext.Length), aad);
        return sealedPayload;
    }

    /// <summary>
    /// Opens what <paramref name="sender"/> sent for exchange number <paramref name="counter"/>; throws a
    /// <see cref="PeerPayloadException"/> naming the sender when it is too short, names another sender or exchange, or fails
    /// authentication (another key, or altered bytes). The problem never quotes key material.
    /// </summary>
    public byte[] Open(ReadOnlySpan<byte> sealedPayload, int sender, long counter, ExchangeLabel label)
    {
        string who = $"worker {sender}";
        if (sealedPayload.Length < Overhead)
            throw new PeerPayloadException(sender, who, $"it is {sealedPayload.Length} bytes long, shorter than the {Overhead}-byte nonce and tag of a sealed payload.");
        var nonce = sealedPayload[..NonceBytes];
        int claimed = BinaryPrimitives.ReadInt32LittleEndian(nonce);
        long exchange = BinaryPrimitives.ReadInt64LittleEndian(nonce[4..]);
        if (claimed != sender)
            throw new PeerPayloadException(sender, who, $"its nonce names worker {claimed} as the sender: a payload attributed to another sender is refused.");
        if (exchange != counter)
            throw new PeerPayloadException(sender, who, $"it was sealed for exchange {exchange:N0} of this run where exchange {counter:N0} was expected: " +
                                                        "a replayed or reordered payload is refused.");
        var plaintext = new byte[sealedPayload.Length - Overhead];
        Span<byte> aad = stackalloc byte[AadBytes];
        WriteAad(aad, sender, label);
        try
        {
            lock (_gate)
                _aes.Decrypt(nonce, sealedPayload.Slice(NonceBytes, plaintext.Length), sealedPayload[(NonceBytes + plaintext.Length)..], plaintext, aad);
        }
        catch (AuthenticationTagMismatchException e)
        {
            throw new PeerPayloadException(sender, who, "it failed authentication (AES-GCM tag mismatch): the sender holds another exchange key, " +
                                                        "or the payload was altered, or it belongs to another run, step, fragment, group or wire format.", inner: e);
        }
        return plaintext;
    }

    private void WriteAad(Span<byte> aad, int sender, ExchangeLabel label)
    {
        Magic.CopyTo(aad);
        _runId.CopyTo(aad[8..]);
        var rest = aad[(8 + ExchangeKeys.RunIdBytes)..];
        BinaryPrimitives.WriteInt64LittleEndian(rest, label.Step);
        BinaryPrimitives.WriteInt32LittleEndian(rest[8..], label.Fragment);
        BinaryPrimitives.WriteInt32LittleEndian(rest[12..], sender);
        BinaryPrimitives.WriteInt32LittleEndian(rest[16..], _groupSize);
        rest[20] = _wireFormat;
    }

    public void Dispose() => _aes.Dispose();
}
