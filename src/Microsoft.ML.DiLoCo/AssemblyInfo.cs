// Tests drive internal engine pieces directly (golden vectors through the real engine).
[assembly: System.Runtime.CompilerServices.InternalsVisibleTo("Microsoft.ML.DiLoCo.Tests")]
// The MPI test launcher reads θ̂ to print its checksum.
[assembly: System.Runtime.CompilerServices.InternalsVisibleTo("Microsoft.ML.DiLoCo.MpiRunner")]
// The benchmarks time the pieces of one inner step (Model.Embed/Body/Head, the worker's InnerStep), the model's own
// forward pass and the generation loop with and without the key/value cache.
[assembly: System.Runtime.CompilerServices.InternalsVisibleTo("DiLoCo.Benchmarks")]
