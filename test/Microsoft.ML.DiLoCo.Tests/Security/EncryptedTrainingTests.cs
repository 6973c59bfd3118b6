using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.ML.DiLoCo.Communication;
using Microsoft.ML.DiLoCo.Tests.Checkpointing;

namespace Microsoft.ML.DiLoCo.Tests.Security;

/// <summary>ExchangeSecurity = Encrypted through the whole trainer (two in-process workers, FP4, checkpoints): same θ̂ bits, no key in any output.</summary>
[TestClass]
public sealed class EncryptedTrainingTests
{
    [TestMethod]
    public void EncryptedTrainingEndsWithTheSameBitsAndNoOutputHoldsTheKey()
    {
        string directory = CheckpointRuns.NewDirectory();
        byte[] secret = RandomNumberGenerator.GetBytes(32);
        string keyFile = Path.Combine(directory, "key");
        File.WriteAllBytes(keyFile, secret);
        try
        {
            var (clear, clearReport) = CheckpointRuns.Train(CheckpointRuns.Options());
            var o = CheckpointRuns.Options(Path.Combine(directory, "checkpoints"));
            o.ExchangeSecurity = ExchangeSecurity.Encrypted;
            o.ExchangeKeyFile = keyFile;
            var log = new List<string>();
            var (encrypted, report) = CheckpointRuns.Train(o, log);
            CheckpointRuns.AssertBitIdentical(clear, encrypted, "θ̂ with and without encryption");
            // T = 32, Δt = 4: 8 syncs and one more per fragment (P = 2) for the replicas' average (the default FinalModel), each one
            // message to the other worker, 28 bytes (nonce + tag) more when sealed.
            Assert.AreEqual(clearReport.BytesSentPerWorker + (8 + 2) * SealedCollective.Overhead, report.BytesSentPerWorker, "the meter counts the sealed bytes");

            var outputs = new List<(string What, byte[] Bytes)>
            {
                ("log", Encoding.UTF8.GetBytes(string.Join("\n", log))),
                ("report", JsonSerializer.SerializeToUtf8Bytes(report)),
            };
            outputs.AddRange(Directory.GetFiles(Path.Combine(directory, "checkpoints"), "*", SearchOption.AllDirectories)
                .Select(f => (f, File.ReadAllBytes(f))));
            KeyMaterial.AssertAbsent(secret, outputs);
        }
        finally { Directory.Delete(directory, recursive: true); }
    }

    [TestMethod]
    public void EncryptedWithoutAKeyIsRefusedNamingTheOption()
    {
        var o = CheckpointRuns.Options();
        o.ExchangeSecurity = ExchangeSecurity.Encrypted;
        if (Environment.GetEnvironmentVariable(ExchangeSecret.EnvironmentVariable) is not null) Assert.Inconclusive("the key variable is set here");
        var e = Assert.ThrowsExactly<ArgumentException>(() => o.Validate());
        Assert.AreEqual(nameof(o.ExchangeSecurity), e.ParamName);
        StringAssert.Contains(e.Message, "ExchangeKeyFile");
    }

    [TestMethod]
    [DataRow(31, DisplayName = "31 raw bytes")]
    [DataRow(33, DisplayName = "33 raw bytes")]
    [DataRow(5000, DisplayName = "a large file")]
    public void AKeyFileThatHoldsNo256BitSecretIsRefusedNamingTheFileNotItsBytes(int length)
    {
        string file = Path.GetTempFileName();
        try
        {
            File.WriteAllBytes(file, Enumerable.Repeat((byte)0xAB, length).ToArray());
            var o = CheckpointRuns.Options();
            o.ExchangeSecurity = ExchangeSecurity.Encrypted;
            o.ExchangeKeyFile = file;
            var e = Assert.ThrowsExactly<ArgumentException>(() => o.Validate());
            Assert.AreEqual(nameof(o.ExchangeKeyFile), e.ParamName);
            StringAssert.Contains(e.Message, file);
            Assert.IsFalse(e.Message.Contains("ABAB", StringComparison.OrdinalIgnoreCase), e.Message);
        }
        finally { File.Delete(file); }
    }

    [TestMethod]
    public void AKeyFileOfSixtyFourHexCharactersOrTheEnvironmentVariableIsRead()
    {
        byte[] secret = RandomNumberGenerator.GetBytes(32);
        string file = Path.GetTempFileName();
        try
        {
            File.WriteAllText(file, Convert.ToHexString(secret).ToLowerInvariant() + "\n");
            CollectionAssert.AreEqual(secret, ExchangeSecret.Read(file));
            CollectionAssert.AreEqual(secret, ExchangeSecret.Read(null, environment: _ => Convert.ToBase64String(secret)));
            CollectionAssert.AreEqual(secret, ExchangeSecret.Read(null, environment: _ => Convert.ToHexString(secret)));
            Assert.IsNull(ExchangeSecret.Read(null, environment: _ => null));
            var e = Assert.ThrowsExactly<ArgumentException>(() => ExchangeSecret.Read(null, environment: _ => "not a key"));
            StringAssert.Contains(e.Message, ExchangeSecret.EnvironmentVariable);
        }
        finally { File.Delete(file); }
    }

    [TestMethod]
    public void AKeyFileWithoutEncryptionIsRefusedNamingTheOption()
    {
        var o = CheckpointRuns.Options();
        o.ExchangeKeyFile = "/nonexistent/key";
        var e = Assert.ThrowsExactly<ArgumentException>(() => o.Validate());
        Assert.AreEqual(nameof(o.ExchangeKeyFile), e.ParamName);
    }
}
