using System.Security.Cryptography;
using Microsoft.ML.DiLoCo.Tests.Mpi;

namespace Microsoft.ML.DiLoCo.Tests.Security;

/// <summary>Sealed exchanges across two MPI ranks (Inconclusive without Open MPI): same bits, a rank with another key, an altered byte on the wire.</summary>
[TestClass]
public sealed class EncryptedMpiTests
{
    private static readonly string[] Run = { "steps=20", "innerSteps=10", "fragments=2", "overlap=1" };

    [TestMethod]
    public void TwoRanksWithOneKeyEndWithTheBitsOfTwoWorkersInTheClear()
    {
        string key = KeyFile(RandomNumberGenerator.GetBytes(32));
        try
        {
            var clear = new InProcessReference(() => MpiLauncher.Alone(Run.Append("workers=2").ToArray()));
            var mpi = MpiLauncher.UnderMpi(2, Run.Concat(new[] { "transport=mpi", $"keyFile={key}" }).ToArray());
            Assert.AreEqual(0, mpi.ExitCode, mpi.Output);
            Assert.AreEqual(2, mpi.Lines.Length, mpi.Output);
            foreach (var rank in mpi.Lines)
                clear.AssertSameParameters(rank, "θ̂ bits, sealed under MPI vs in the clear in-process");
            clear.Conclude();
        }
        finally { File.Delete(key); }
    }

    [TestMethod]
    public void ARankWithAnotherKeyStopsTheJobNamingTheSenderTheStepAndTheFragment()
    {
        byte[] secret = RandomNumberGenerator.GetBytes(32), other = RandomNumberGenerator.GetBytes(32);
        string key = KeyFile(secret), wrong = KeyFile(other);
        try
        {
            var mpi = MpiLauncher.UnderMpi(2, Run.Concat(new[] { "transport=mpi", $"keyFile={key}", $"keyFileOnRank1={wrong}", "timeout=30" }).ToArray());
            Assert.AreNotEqual(0, mpi.ExitCode, mpi.Output);
            Assert.IsTrue(mpi.Lines.Length >= 1, mpi.Output);
            foreach (var line in mpi.Lines)
            {
                Assert.AreEqual("PeerPayloadException", line.GetProperty("error").GetString(), mpi.Output);
                string message = line.GetProperty("message").GetString()!;
                int sender = line.GetProperty("rank").GetString() == "0" ? 1 : 0;
                // Δt = H / P = 5, τ = 1: fragment 0 is the first sync, launched at step 4.
                StringAssert.StartsWith(message, $"Worker {sender} sent a payload that was refused for fragment 0 at step 4: it failed authentication", mpi.Output);
            }
            KeyMaterial.AssertAbsent(secret, new[] { ("output", System.Text.Encoding.UTF8.GetBytes(mpi.Output)) });
            KeyMaterial.AssertAbsent(other, new[] { ("output", System.Text.Encoding.UTF8.GetBytes(mpi.Output)) });
        }
        finally { File.Delete(key); File.Delete(wrong); }
    }

    [TestMethod]
    [DataRow("flip", "it failed authentication (AES-GCM tag mismatch)")]
    [DataRow("short", "it declared 31 bytes where every payload of this exchange has 32")]
    [DataRow("sender0", "its nonce names worker 0 as the sender")]
    [DataRow("replay", "it was sealed for exchange 0 of this run where exchange 1 was expected", 6, 1)]
    public void EveryRankRefusesASealedPayloadAlteredOnTheWire(string attack, string problem, int step = 3, int fragment = 0)
    {
        var outcome = MpiLauncher.UnderMpi(2, "mode=peer", $"attack={attack}", "sealed=1");
        var honest = outcome.Lines.Single(l => l.GetProperty("rank").GetInt32() == 0);
        Assert.AreEqual("PeerPayloadException", honest.GetProperty("error").GetString(), outcome.Output);
        string sender = attack == "short" ? "MPI rank 1" : "Worker 1";
        StringAssert.StartsWith(honest.GetProperty("message").GetString(), $"{sender} sent a payload that was refused for fragment {fragment} at step {step}: {problem}", outcome.Output);
    }

    private static string KeyFile(byte[] secret)
    {
        string path = Path.Combine(Path.GetTempPath(), "diloco-key-" + Guid.NewGuid().ToString("N"));
        File.WriteAllBytes(path, secret);
        return path;
    }
}
