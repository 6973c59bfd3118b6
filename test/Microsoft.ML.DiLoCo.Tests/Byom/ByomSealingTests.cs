using Microsoft.ML.DiLoCo.Communication;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.DiLoCo.Tests.Byom;

/// <summary>
/// <see cref="StreamingDiLoCoOptions.ExchangeSecurity"/>: a bring-your-own-model loop seals its exchanges as the trainer does,
/// with the same results, and a worker with another key is refused by name.
/// </summary>
[TestClass]
public sealed class ByomSealingTests
{
    private static string KeyFile(char digit)
    {
        string path = Path.Combine(Path.GetTempPath(), $"diloco-byom-key-{Guid.NewGuid():N}");
        File.WriteAllText(path, new string(digit, 64));
        return path;
    }

    // Two workers train the small MLP on their own data for 16 steps (H = 8, P = 2, τ = 1, FP4); returns θ̂ and the bytes worker 0 sent.
    private static (float[] Outer, long BytesSent) Train(Func<int, StreamingDiLoCoOptions> options)
    {
        var outer = new float[2][];
        long sent = 0;
        StreamingDiLoCo.RunInProcess(2, (rank, collective) =>
        {
            using var model = new SmallMlp();
            // Different θ0 on purpose (the sealed broadcast makes them equal), drawn from the worker's own generator: the global
            // one is shared by the two worker threads, so torch.manual_seed here would make θ0 depend on their interleaving.
            var init = new Generator((ulong)(5 + rank));
            using (no_grad())
                foreach (var p in model.parameters()) p.copy_(randn(p.shape, generator: init) * 0.3);
            using var optimizer = optim.SGD(model.parameters(), 0.05);
            using var diloco = new StreamingDiLoCo(model, optimizer, collective, options(rank));
            var generator = new Generator((ulong)(3 + rank));
            for (int t = 0; t < 16; t++)
            {
                using var scope = NewDisposeScope();
                var x = randn(new long[] { 8, 8 }, generator: generator);
                optimizer.zero_grad();
                var loss = model.forward(x).pow(2).mean();
                loss.backward();
                optimizer.step();
                diloco.Step();
            }
            diloco.Finish();
            outer[rank] = diloco.ParameterNames.SelectMany(n => diloco.OuterParameters[n].data<float>().ToArray()).ToArray();
            if (rank == 0) sent = diloco.Report.BytesSent;
        });
        CollectionAssert.AreEqual(outer[0], outer[1], "θ̂ is identical on both workers");
        return (outer[0], sent);
    }

    private static StreamingDiLoCoOptions Options(ExchangeSecurity security = ExchangeSecurity.None, string? keyFile = null) => new()
    {
        InnerSteps = 8, NumberOfFragments = 2, OverlapSteps = 1, WireFormat = WireFormat.Float4E3M0, ExchangeSecurity = security, ExchangeKeyFile = keyFile,
    };

    [TestMethod]
    public void SealedExchangesGiveTheSameθ̂AndCost28BytesAMessage()
    {
        string key = KeyFile('3');
        try
        {
            var clear = Train(_ => Options());
            var sealedRun = Train(_ => Options(ExchangeSecurity.Encrypted, key));
            CollectionAssert.AreEqual(clear.Outer, sealedRun.Outer, "bit-identical with and without encryption");
            Assert.AreEqual((4 + 2) * SealedCollective.Overhead, sealedRun.BytesSent - clear.BytesSent,
                "4 syncs and 2 for the replicas' average (the default FinalModel), each payload 12 + 16 bytes longer");
        }
        finally { File.Delete(key); }
    }

    [TestMethod]
    public void AWorkerWithAnotherKeyIsRefusedNamingIt()
    {
        string key = KeyFile('3'), other = KeyFile('4');
        try
        {
            var e = Assert.Throws<Exception>(() => Train(rank => Options(ExchangeSecurity.Encrypted, rank == 1 ? other : key)));
            var all = string.Join(" | ", Flatten(e).Select(x => x.Message));
            StringAssert.Contains(all, "orker 1", $"the refusal names the sender: {all}");
        }
        finally { File.Delete(key); File.Delete(other); }
    }

    [TestMethod]
    public void EncryptedWithoutAKeyIsRefusedBeforeAnythingTravels()
    {
        string? saved = Environment.GetEnvironmentVariable(ExchangeSecret.EnvironmentVariable);
        Environment.SetEnvironmentVariable(ExchangeSecret.EnvironmentVariable, null);
        try
        {
            var e = Assert.ThrowsExactly<ArgumentException>(() => Options(ExchangeSecurity.Encrypted).Resolve());
            Assert.AreEqual("ExchangeSecurity", e.ParamName);
            var keyOnly = Assert.ThrowsExactly<ArgumentException>(() => Options(ExchangeSecurity.None, "some.key").Resolve());
            Assert.AreEqual("ExchangeKeyFile", keyOnly.ParamName);
        }
        finally { Environment.SetEnvironmentVariable(ExchangeSecret.EnvironmentVariable, saved); }
    }

    private static IEnumerable<Exception> Flatten(Exception e)
    {
        yield return e;
        if (e is AggregateException a) foreach (var inner in a.InnerExceptions.SelectMany(Flatten)) yield return inner;
        else if (e.InnerException is { } inner) foreach (var x in Flatten(inner)) yield return x;
    }
}
