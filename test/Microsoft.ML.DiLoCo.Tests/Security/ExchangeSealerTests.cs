using System.Security.Cryptography;
using Microsoft.ML.DiLoCo.Communication;

namespace Microsoft.ML.DiLoCo.Tests.Security;

/// <summary>The seal itself: nonces never repeat, every bound field is bound, a resumed run has a new key.</summary>
[TestClass]
public sealed class ExchangeSealerTests
{
    private static readonly byte[] Secret = RandomNumberGenerator.GetBytes(32);

    [TestMethod]
    public void NoncesNeverRepeatAcrossALongRunOfEveryWorker()
    {
        using var sealer = new ExchangeSealer(ExchangeKeys.Derive(Secret, ExchangeKeys.NewRunId()), groupSize: 4, wireFormat: 2);
        var seen = new HashSet<string>();
        var label = new ExchangeLabel(1, 0);
        for (long counter = 0; counter < 20_000; counter++)
            for (int sender = 0; sender < 4; sender++)
                Assert.IsTrue(seen.Add(Convert.ToHexString(sealer.Seal(new byte[1], sender, counter, label).AsSpan(0, ExchangeSealer.NonceBytes))),
                    $"nonce of worker {sender}, exchange {counter} repeated");
    }

    [TestMethod]
    public void AResumedRunDerivesAnotherKeySoItsRestartedCountersNeverReuseANonceUnderOneKey()
    {
        var first = ExchangeKeys.Derive(Secret, ExchangeKeys.NewRunId());
        var resumed = ExchangeKeys.Derive(Secret, ExchangeKeys.NewRunId());
        CollectionAssert.AreNotEqual(first.ExchangeKey, resumed.ExchangeKey);
        using var before = new ExchangeSealer(first, 2, 0);
        using var after = new ExchangeSealer(resumed, 2, 0);
        var label = new ExchangeLabel(3, 0);
        byte[] sealedBefore = before.Seal(new byte[] { 1, 2, 3, 4 }, 1, 0, label);
        var e = Assert.ThrowsExactly<PeerPayloadException>(() => after.Open(sealedBefore, 1, 0, label));
        StringAssert.Contains(e.Message, "failed authentication", "a payload of the earlier run is refused in the resumed one");
    }

    [TestMethod]
    [DataRow(6L, 0, 4, (byte)0, DisplayName = "another step")]
    [DataRow(3L, 1, 4, (byte)0, DisplayName = "another fragment")]
    [DataRow(3L, 0, 3, (byte)0, DisplayName = "another group size")]
    [DataRow(3L, 0, 4, (byte)1, DisplayName = "another wire format")]
    public void TheAuthenticatedDataBindsStepFragmentGroupAndWireFormat(long step, int fragment, int groupSize, byte wire)
    {
        var keys = ExchangeKeys.Derive(Secret, new byte[16]);
        using var sender = new ExchangeSealer(keys, 4, 0);
        using var receiver = new ExchangeSealer(keys, groupSize, wire);
        byte[] sealedPayload = sender.Seal(new byte[] { 9, 9 }, 2, 5, new ExchangeLabel(3, 0));
        Assert.ThrowsExactly<PeerPayloadException>(() => receiver.Open(sealedPayload, 2, 5, new ExchangeLabel(step, fragment)));
        using var same = new ExchangeSealer(keys, 4, 0);
        CollectionAssert.AreEqual(new byte[] { 9, 9 }, same.Open(sealedPayload, 2, 5, new ExchangeLabel(3, 0)), "opens where everything matches");
    }

    [TestMethod]
    public void ASenderRewrittenInTheNonceStillFailsAuthenticationUnderTheClaimedSender()
    {
        var keys = ExchangeKeys.Derive(Secret, new byte[16]);
        using var sealer = new ExchangeSealer(keys, 2, 0);
        byte[] sealedPayload = sealer.Seal(new byte[] { 1, 2 }, 1, 0, new ExchangeLabel(3, 0));
        sealedPayload[0] = 0; // the nonce now names worker 0, and the attacker delivers it as worker 0's
        var e = Assert.ThrowsExactly<PeerPayloadException>(() => sealer.Open(sealedPayload, 0, 0, new ExchangeLabel(3, 0)));
        StringAssert.Contains(e.Message, "failed authentication");
        Assert.AreEqual(0, e.Sender);
    }

    [TestMethod]
    public void APayloadShorterThanNonceAndTagIsRefused()
    {
        using var sealer = new ExchangeSealer(ExchangeKeys.Derive(Secret, new byte[16]), 2, 0);
        var e = Assert.ThrowsExactly<PeerPayloadException>(() => sealer.Open(new byte[27], 1, 0, new ExchangeLabel(1, 0)));
        StringAssert.Contains(e.Message, "27 bytes long, shorter than the 28-byte nonce and tag");
    }
}
