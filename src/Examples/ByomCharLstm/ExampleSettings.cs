namespace ByomCharLstm;

/// <summary>The example's knobs, shared by the plain loop and the Streaming DiLoCo loop.</summary>
public sealed record ExampleSettings(int Steps, int BatchSize, int SequenceLength, double LearningRate, int Seed, Action<string>? Log);
