using System.Text;

namespace Microsoft.ML.DiLoCo.Tests.Security;

/// <summary>Searches outputs for a secret in every form it could leak in: raw bytes, hex (either case), base64.</summary>
internal static class KeyMaterial
{
    public static void AssertAbsent(byte[] secret, IEnumerable<(string What, byte[] Bytes)> outputs)
    {
        var forms = new List<(string Form, byte[] Needle)>
        {
            ("raw bytes", secret),
            ("hex", Encoding.ASCII.GetBytes(Convert.ToHexString(secret))),
            ("lowercase hex", Encoding.ASCII.GetBytes(Convert.ToHexString(secret).ToLowerInvariant())),
            ("base64", Encoding.ASCII.GetBytes(Convert.ToBase64String(secret)[..40])),
            ("UTF-16 hex", Encoding.Unicode.GetBytes(Convert.ToHexString(secret))),
        };
        int searched = 0;
        foreach (var (what, bytes) in outputs)
        {
            searched++;
            foreach (var (form, needle) in forms)
                Assert.AreEqual(-1, bytes.AsSpan().IndexOf(needle), $"the key appears as {form} in {what}");
        }
        Assert.IsTrue(searched > 0, "nothing was searched");
    }
}
