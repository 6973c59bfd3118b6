using System.Runtime.InteropServices;

// diloco: train a transformer language model with Streaming DiLoCo from a JSON config, then evaluate, score and
// generate with the saved model. `diloco help` lists the commands; exit codes: 0 ok, 1 failure, 2 bad input,
// 130 interrupted (Ctrl-C or SIGTERM: training writes a checkpoint first when trainer.checkpointDirectory is set).
using var interruption = new CancellationTokenSource();
// The first Ctrl-C / SIGTERM asks training to stop at a checkpoint; a second one ends the process at once.
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = !interruption.IsCancellationRequested;
    interruption.Cancel();
};
using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
{
    context.Cancel = !interruption.IsCancellationRequested;
    interruption.Cancel();
});
return DiLoCo.Cli.DiLoCoCli.Run(args, Console.Out, Console.Error, interactive: !Console.IsOutputRedirected, interruption.Token);
