namespace DiLoCo.Configuration;

/// <summary>
/// Where a training run writes its results (the <c>output</c> field). <see cref="Directory"/> is relative to the
/// folder the tool runs in; each file name is relative to <see cref="Directory"/>; a null file name skips that file.
/// </summary>
public sealed class OutputConfig
{
    /// <summary>The output folder. Default <c>artifacts</c>.</summary>
    public string Directory { get; init; } = "artifacts";

    /// <summary>The model zip (<c>mlContext.Model.Save</c>). Default <c>model.zip</c>; null: do not save.</summary>
    public string? Model { get; init; } = "model.zip";

    /// <summary>The training report (<see cref="Microsoft.ML.DiLoCo.TrainingReport.ToJson"/>). Default <c>report.json</c>; null: do not write.</summary>
    public string? Report { get; init; } = "report.json";

    /// <summary>The loss-curve PNG (inner loss per step and validation loss of θ̂). Default <c>loss.png</c>; null: do not draw.</summary>
    public string? LossCurve { get; init; } = "loss.png";

    /// <summary>The full path of <paramref name="fileName"/> (null stays null), with <see cref="Directory"/> resolved against <paramref name="baseDirectory"/>.</summary>
    public string? Resolve(string? fileName, string baseDirectory) =>
        fileName is null ? null : System.IO.Path.GetFullPath(System.IO.Path.Combine(baseDirectory, Directory, fileName));
}
