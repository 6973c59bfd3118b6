using System.Diagnostics;
using TorchSharp;
using static TorchSharp.torch;
namespace DiLoCo.Benchmarks;
internal static class MicroTmp
{
    public static void Run()
    {
        torch.set_num_threads(1); torch.manual_seed(1);
        long N = 1024, C = 128, V = 50257;
        var h = randn(N, C).requires_grad_(true); var W = (randn(V, C) * 0.02f).requires_grad_(true); var t = randint(0, V, new long[] { N });
        var names = new[] { "A fwd", "A bwd", "B fwd", "B bwd", "C fwd", "C bwd" };
        var xs = names.ToDictionary(n => n, _ => new List<double>());
        double lossA = 0, lossB = 0;
        for (int rep = 0; rep < 9; rep++)
        {
            foreach (var variant in new[] { "A", "B", "C" })
            {
                using var scope = NewDisposeScope();
                h.grad = null; W.grad = null;
                var s = Stopwatch.GetTimestamp();
                Tensor loss = variant switch
                {
                    "A" => nn.functional.cross_entropy(nn.functional.linear(h, W), t),
                    "B" => nn.functional.cross_entropy(W.matmul(h.t()).unsqueeze(0), t.view(1, -1)),
                    _ => nn.functional.cross_entropy(W.matmul(h.t()).t(), t),
                };
                double f = Stopwatch.GetElapsedTime(s).TotalMilliseconds;
                s = Stopwatch.GetTimestamp();
                loss.backward();
                double b = Stopwatch.GetElapsedTime(s).TotalMilliseconds;
                if (rep == 0) { Console.WriteLine($"{variant}: loss {loss.item<float>():F6} gW {W.grad!.norm().item<float>():F6} gh {h.grad!.norm().item<float>():F6}"); continue; }
                xs[variant + " fwd"].Add(f); xs[variant + " bwd"].Add(b);
            }
        }
        foreach (var (n, v) in xs) { v.Sort(); Console.WriteLine($"{n,-8} median {v[v.Count / 2],8:F2} ms  min {v[0]:F2} max {v[^1]:F2}"); }
    }
}
