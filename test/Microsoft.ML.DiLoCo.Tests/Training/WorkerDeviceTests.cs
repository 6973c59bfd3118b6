using Microsoft.ML.DiLoCo.Runs;
using Microsoft.ML.DiLoCo.Communication;
using Microsoft.ML.DiLoCo.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.DiLoCo.Tests.Training;

/// <summary>Which device each worker gets, and the pseudo-gradient formed on the replica's device (issue 14, part 6).</summary>
[TestClass]
public sealed class WorkerDeviceTests
{
    private static Func<string, string?> Environment(params (string Name, string Value)[] variables) =>
        name => variables.FirstOrDefault(v => v.Name == name).Value;

    [TestMethod]
    public void InProcessWorkersTakeTheListRoundRobin()
    {
        Assert.AreEqual(0, WorkerDevices.SlotOf(0, 2, underMpi: false, Environment(("OMPI_COMM_WORLD_LOCAL_RANK", "3"))));
        Assert.AreEqual(1, WorkerDevices.SlotOf(1, 2, underMpi: false, Environment()));
    }

    [DataTestMethod]
    [DataRow("OMPI_COMM_WORLD_LOCAL_RANK")]
    [DataRow("SLURM_LOCALID")]
    [DataRow("MPI_LOCALRANKID")]
    public void EachMpiRankOnAMachineTakesTheSlotsAfterTheRanksBeforeIt(string variable)
    {
        // Two ranks per machine, one worker each, Devices = { cuda:0, cuda:1 }: one GPU per rank.
        Assert.AreEqual(0, WorkerDevices.SlotOf(0, 1, underMpi: true, Environment((variable, "0"))));
        Assert.AreEqual(1, WorkerDevices.SlotOf(0, 1, underMpi: true, Environment((variable, "1"))));
        // Two workers per rank: local rank 1 takes slots 2 and 3.
        Assert.AreEqual(2, WorkerDevices.SlotOf(0, 2, underMpi: true, Environment((variable, "1"))));
        Assert.AreEqual(3, WorkerDevices.SlotOf(1, 2, underMpi: true, Environment((variable, "1"))));
    }

    [TestMethod]
    public void WithoutALauncherVariableARankUsesItsLocalWorkerIndex() =>
        Assert.AreEqual(1, WorkerDevices.SlotOf(1, 2, underMpi: true, Environment()));

    [TestMethod]
    public void AGarbledLocalRankIsAnErrorNamingTheVariable()
    {
        var e = Assert.ThrowsExactly<InvalidOperationException>(() => WorkerDevices.SlotOf(0, 1, underMpi: true, Environment(("SLURM_LOCALID", "x"))));
        StringAssert.Contains(e.Message, "SLURM_LOCALID");
    }

    [TestMethod]
    public void ThePseudoGradientIsFormedOnTheReplicasDevice()
    {
        if (!cuda.is_available()) Assert.Inconclusive("Needs CUDA: this build uses the CPU libtorch (build with -p:LibTorchBackend=cuda on a GPU machine).");
        using var scope = NewDisposeScope();
        var device = new Device(DeviceType.CUDA, 0);
        var local = new[] { ones(3, 2, device: device) };
        var global = new[] { full(3, 2, 4.0f.ToScalar(), device: device) };
        using var buffers = new FragmentBuffers(new[] { 0 }, local, WireCodecs.Create(WireFormat.Float32), errorFeedback: false);
        buffers.ReadDifference(global, local);
        CollectionAssert.AreEqual(Enumerable.Repeat(3.0f, 6).ToArray(), buffers.Values);
        buffers.AverageInRankOrder(new[] { new PeerPayload(0, buffers.Payload.ToArray()) }, step: 1, fragment: 0, skipRefused: false);
        buffers.WriteAsGradients(local);
        Assert.AreEqual(DeviceType.CUDA, local[0].grad!.device_type);
    }
}
