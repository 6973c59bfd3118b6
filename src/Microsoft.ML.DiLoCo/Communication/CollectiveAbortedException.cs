namespace Microsoft.ML.DiLoCo.Communication;

/// <summary>
/// A collective call failed because the group was aborted (a member crashed or left). The reason is the
/// <see cref="Exception.InnerException"/>.
/// </summary>
public sealed class CollectiveAbortedException : Exception
{
    /// <summary>Creates the exception with the reason the group was aborted.</summary>
    internal CollectiveAbortedException(Exception reason)
        : base($"The collective group was aborted: {reason.Message}", reason)
    {
    }
}
