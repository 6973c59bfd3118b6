using Microsoft.ML.DiLoCo.Communication;
using Microsoft.ML.DiLoCo.Tests.Reliability;
using Microsoft.ML.DiLoCo.Tests.Training;
using Microsoft.ML.DiLoCo.Training;

namespace Microsoft.ML.DiLoCo.Tests.Security;

/// <summary>
/// Sealed exchanges on torchft's two-worker fixture (H = 6, P = 2, τ = 0: fragment 0 at step 3, fragment 1 at step 6): the same θ̂
/// bits as in the clear, and every kind of forged payload refused naming its sender, the step and the fragment. An attacker on the link
/// is a <see cref="TamperingCollective"/> (or <see cref="ReplayingCollective"/>) under worker 1's seal: it changes the sealed bytes.
/// </summary>
[TestClass]
public sealed class SealedExchangeTests
{
    private static readonly byte[] Secret = Enumerable.Range(1, 32).Select(i => (byte)i).ToArray();
    private static readonly byte[] RunId = new byte[ExchangeKeys.RunIdBytes];

    private static ICollective Sealed(ICollective c, byte[]? secret = null) => new SealedCollective(c, ExchangeKeys.Derive(secret ?? Secret, RunId), wireFormat: 0);

    private static (float[][][] Replica, float[][][] Global, DiLoCoWorker[] Workers) Run(Func<int, ICollective, ICollective>? wrap) =>
        EngineHarness.Run(_ => new ConstantGradientReplica(2), 2, EngineHarness.GoldenSettings(0.5f, tau: 0), 6, wrap);

    private static PeerPayloadException Refused(Func<ICollective, ICollective> onTheLinkOfWorker1, byte[]? secretOfWorker1 = null) =>
        Assert.ThrowsExactly<PeerPayloadException>(() => Run((rank, c) => rank == 1 ? Sealed(onTheLinkOfWorker1(c), secretOfWorker1) : Sealed(c)));

    [TestMethod]
    public void SealedExchangesEndWithTheSameBitsAsExchangesInTheClear()
    {
        var (replicaClear, globalClear, clear) = Run(null);
        var (replicaSealed, globalSealed, sealedWorkers) = Run((_, c) => Sealed(c));
        for (int r = 0; r < 2; r++)
            for (int t = 0; t <= 6; t++)
            {
                CollectionAssert.AreEqual(globalClear[r][t], globalSealed[r][t], $"θ̂ of worker {r} after step {t}");
                CollectionAssert.AreEqual(replicaClear[r][t], replicaSealed[r][t], $"replica of worker {r} after step {t}");
            }
        CollectionAssert.AreEqual(new[] { -11f, -23f }, globalSealed[0][6], "torchft's θ̂ after step 6");
        foreach (var w in clear.Concat(sealedWorkers)) w.Dispose();
    }

    [TestMethod]
    public void AWorkerWithAnotherKeyIsRefusedAtTheFirstExchange()
    {
        var e = Refused(c => c, secretOfWorker1: Enumerable.Repeat((byte)7, 32).ToArray());
        Assert.AreEqual(3L, e.Step, e.Message);
        Assert.AreEqual(0, e.Fragment);
        StringAssert.Contains(e.Message, $"Worker {e.Sender} sent a payload that was refused for fragment 0 at step 3: it failed authentication");
    }

    [TestMethod]
    [DataRow(12, DisplayName = "first ciphertext byte")]
    [DataRow(15, DisplayName = "last ciphertext byte")]
    [DataRow(20, DisplayName = "a tag byte")]
    public void AFlippedBitOnTheLinkIsRefusedNamingTheSender(int offset)
    {
        // The fixture's payloads are 4 bytes: sealed, [nonce 0..11][ciphertext 12..15][tag 16..31].
        var e = Refused(c => new TamperingCollective(c, TamperingCollective.Attack("flip", offset)));
        AssertNamed(e, 3, 0, "it failed authentication (AES-GCM tag mismatch)");
    }

    [TestMethod]
    public void ATruncatedSealedPayloadIsRefusedBeforeAllocation()
    {
        var e = Refused(c => new TamperingCollective(c, TamperingCollective.Attack("short")));
        AssertNamed(e, 3, 0, "it declared 31 bytes where every payload of this exchange has 32");
    }

    [TestMethod]
    public void APayloadReplayedFromAnEarlierExchangeIsRefused()
    {
        var e = Refused(c => new ReplayingCollective(c));
        AssertNamed(e, 6, 1, "it was sealed for exchange 0 of this run where exchange 1 was expected: a replayed or reordered payload is refused");
    }

    [TestMethod]
    public void APayloadAttributedToAnotherSenderIsRefused()
    {
        var e = Refused(c => new TamperingCollective(c, TamperingCollective.Attack("sender0")));
        AssertNamed(e, 3, 0, "its nonce names worker 0 as the sender");
    }

    private static void AssertNamed(PeerPayloadException e, long step, int fragment, string problem)
    {
        Assert.AreEqual(1, e.Sender, e.Message);
        Assert.AreEqual(step, e.Step, e.Message);
        Assert.AreEqual(fragment, e.Fragment, e.Message);
        StringAssert.StartsWith(e.Message, $"Worker 1 sent a payload that was refused for fragment {fragment} at step {step}: {problem}");
    }
}
