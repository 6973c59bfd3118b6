namespace Microsoft.ML.DiLoCo;

/// <summary>How workers exchange pseudo-gradients (see docs/distributed.md).</summary>
public enum Transport
{
    /// <summary>All workers are threads of this process and exchange through memory.</summary>
    InProcess,
    /// <summary>
    /// Each process is one MPI rank (started by <c>mpirun</c>, <c>srun --mpi=pmix</c> or another MPI launcher) that runs
    /// <c>NumberOfWorkers</c> workers; the ranks exchange through Open MPI. Every rank must train with the same options on the same data.
    /// </summary>
    Mpi,
}
