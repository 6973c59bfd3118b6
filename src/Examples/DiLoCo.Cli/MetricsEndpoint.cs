using System.Globalization;
using Microsoft.ML.DiLoCo;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;

namespace DiLoCo.Cli;

/// <summary>
/// <c>--metrics-port</c>: serves the library's Meter (<see cref="TrainingMetrics.MeterName"/>) for Prometheus with
/// OpenTelemetry's HttpListener exporter at <c>http://HOST:PORT/metrics</c> while the command runs.
/// </summary>
internal static class MetricsEndpoint
{
    /// <summary>Starts serving; dispose to stop. Under mpirun each rank adds its local rank to the port, so ranks on one machine do not collide.</summary>
    public static IDisposable Start(int port, string host, TextWriter stdout)
    {
        if (int.TryParse(Environment.GetEnvironmentVariable("OMPI_COMM_WORLD_LOCAL_RANK"), NumberStyles.Integer, CultureInfo.InvariantCulture, out int localRank))
            port += localRank;
        if (port > 65535) throw new ArgumentException($"--metrics-port: port {port} (the given port + local rank {localRank}) is above 65535.");
        try
        {
            var provider = Sdk.CreateMeterProviderBuilder()
                .ConfigureResource(resource => resource.AddService("diloco"))
                .AddMeter(TrainingMetrics.MeterName)
                .AddPrometheusHttpListener(o =>
                {
                    o.Host = host;
                    o.Port = port;
                    o.ScrapeResponseCacheDurationMilliseconds = 0; // every scrape sees the latest step
                })
                .Build();
            stdout.WriteLine($"Metrics:    http://{host}:{port}/metrics (Prometheus)");
            return provider;
        }
        catch (Exception e) when (e is System.Net.HttpListenerException or InvalidOperationException)
        {
            throw new ArgumentException($"--metrics-port: cannot serve metrics on http://{host}:{port}/: {e.Message}", e);
        }
    }
}
