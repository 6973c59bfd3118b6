using System.Text;

namespace Microsoft.ML.DiLoCo.Communication;

/// <summary>
/// Reads the shared 256-bit secret: from a key file (exactly 32 raw bytes, e.g. <c>head -c 32 /dev/urandom &gt; key</c>, or 64
/// hexadecimal characters, surrounding whitespace allowed) or from the <see cref="EnvironmentVariable"/> (64 hexadecimal characters or
/// the base64 of 32 bytes). Errors name the file or the variable and what is wrong, never its contents.
/// </summary>
internal static class ExchangeSecret
{
    /// <summary>The environment variable read when no key file is given.</summary>
    public const string EnvironmentVariable = "DILOCO_EXCHANGE_KEY";

    private const int LongestKeyFile = 4096; // a key file is tiny: a larger one is not read into memory

    /// <summary>
    /// The secret from <paramref name="keyFile"/> when given, else from the environment variable; null when neither is set.
    /// </summary>
    /// <exception cref="ArgumentException">The file or the variable does not hold a 256-bit secret (the message names <paramref name="option"/>).</exception>
    public static byte[]? Read(string? keyFile, string option = "ExchangeKeyFile", Func<string, string?>? environment = null)
    {
        if (!string.IsNullOrEmpty(keyFile)) return FromFile(keyFile, option);
        string? text = (environment ?? Environment.GetEnvironmentVariable)(EnvironmentVariable);
        if (string.IsNullOrWhiteSpace(text)) return null;
        return Parse(Encoding.ASCII.GetBytes(text.Trim()), allowBase64: true)
            ?? throw new ArgumentException($"The environment variable {EnvironmentVariable} must hold a 256-bit secret: 64 hexadecimal characters " +
                                           $"or the base64 of 32 bytes (it holds {text.Trim().Length} characters of another form).", option);
    }

    private static byte[] FromFile(string path, string option)
    {
        var info = new FileInfo(path);
        if (!info.Exists) throw new ArgumentException($"{option}: the key file '{path}' does not exist.", option);
        if (info.Length > LongestKeyFile)
            throw new ArgumentException($"{option}: the key file '{path}' is {info.Length:N0} bytes long; a key file holds 32 raw bytes or 64 hexadecimal characters.", option);
        byte[] bytes = File.ReadAllBytes(path);
        return Parse(bytes, allowBase64: false)
            ?? throw new ArgumentException($"{option}: the key file '{path}' ({bytes.Length} bytes) must hold exactly 32 raw bytes " +
                                           "(head -c 32 /dev/urandom > key) or 64 hexadecimal characters.", option);
    }

    /// <summary>32 raw bytes as they are; otherwise, trimmed, 64 hex characters (or base64 of 32 bytes where allowed); else null.</summary>
    private static byte[]? Parse(byte[] bytes, bool allowBase64)
    {
        if (bytes.Length == ExchangeKeys.KeyBytes && !allowBase64) return bytes;
        string text;
        try { text = new UTF8Encoding(false, true).GetString(bytes).Trim(); }
        catch (DecoderFallbackException) { return null; }
        if (text.Length == 2 * ExchangeKeys.KeyBytes && text.All(Uri.IsHexDigit)) return Convert.FromHexString(text);
        if (!allowBase64) return null;
        var decoded = new byte[ExchangeKeys.KeyBytes + 3];
        return Convert.TryFromBase64String(text, decoded, out int written) && written == ExchangeKeys.KeyBytes ? decoded[..written] : null;
    }
}
