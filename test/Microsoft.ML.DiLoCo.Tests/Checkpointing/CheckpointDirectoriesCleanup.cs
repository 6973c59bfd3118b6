namespace Microsoft.ML.DiLoCo.Tests.Checkpointing;

/// <summary>
/// Deletes the checkpoint folders the tests made under the temporary folder once the whole run is over (some are shared
/// between tests, so not before). Without it every full test run left ~100 MB in /tmp: 2.9 GB after a day of runs.
/// </summary>
[TestClass]
public static class CheckpointDirectoriesCleanup
{
    [AssemblyCleanup]
    public static void DeleteAll()
    {
        while (CheckpointRuns.Created.TryDequeue(out var path))
        {
            try { if (Directory.Exists(path)) Directory.Delete(path, recursive: true); }
            catch (IOException) { } // a folder still held open is left for the OS to clear, as before
            catch (UnauthorizedAccessException) { }
        }
    }
}
