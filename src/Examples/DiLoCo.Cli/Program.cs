// diloco: train a transformer language model with Streaming DiLoCo from a JSON config, then evaluate, score and
// generate with the saved model. `diloco help` lists the commands; exit codes: 0 ok, 1 failure, 2 bad input.
return DiLoCo.Cli.DiLoCoCli.Run(args, Console.Out, Console.Error, interactive: !Console.IsOutputRedirected);
