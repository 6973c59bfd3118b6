using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using DiLoCo.Cli;

namespace Microsoft.ML.DiLoCo.Tests.Cli;

/// <summary><c>diloco train --metrics-port</c> serves the library's Meter for Prometheus while it trains.</summary>
[TestClass]
public sealed partial class CliMetricsTests
{
    [TestMethod]
    [Timeout(120_000, CooperativeCancellation = true)]
    public async Task PrometheusCanScrapeARunningJob()
    {
        using var folder = new CliTestFolder();
        string config = folder.WriteConfig(folder.TinyConfig(model: "null", steps: 100).Replace("\"output\": {", "\"output\": { \"lossCurve\": null,"));
        int port = FreePort();
        var training = Task.Run(() => folder.Run("train", "--config", config, "--output-dir", folder.Path, $"--metrics-port={port}"));

        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        string? scraped = null;
        while (!training.IsCompleted)
        {
            await Task.Delay(100);
            try
            {
                string text = await http.GetStringAsync(new Uri($"http://localhost:{port}/metrics"));
                if (Value(text, "diloco_syncs_total") > 0) { scraped = text; break; } // after the first sync every instrument has a value
            }
            catch (HttpRequestException)
            {
                // not listening yet (the config and data load first)
            }
        }
        var (code, output, errors) = await training;
        Assert.AreEqual(ExitCodes.Success, code, output + errors);
        StringAssert.Contains(output, $"Metrics:    http://localhost:{port}/metrics (Prometheus)");
        Assert.IsNotNull(scraped, "no scrape saw a sync while the job ran:\n" + output);

        // A scrape reads the instruments one after another, not as one snapshot: the step counter can be read before the
        // step that applied the first sync adds to it (a fresh-clone CI run here saw 9 steps beside a sync). Exact counts: TrainingMetricsTests.
        double steps = Value(scraped, "diloco_steps_total");
        Assert.IsTrue(steps is >= 1 and <= 100, $"steps {steps}: the job was running (100 steps)");
        Assert.IsTrue(Value(scraped, "diloco_tokens_total") > 0);
        Assert.IsTrue(Value(scraped, "diloco_inner_loss") is > 0 and < 10);
        StringAssert.Contains(scraped, "diloco_bytes_sent_bytes_total");
        Assert.IsTrue(Value(scraped, "diloco_compute_utilisation") is > 0 and <= 1);
        Assert.IsTrue(Value(scraped, "diloco_throughput_per_second") > 0);
        StringAssert.Contains(scraped, "diloco_exchange_wait_seconds_bucket");
        StringAssert.Contains(scraped, "otel_scope_name=\"Microsoft.ML.DiLoCo\"");
        await Assert.ThrowsAsync<HttpRequestException>(() => http.GetStringAsync(new Uri($"http://localhost:{port}/metrics")), "the endpoint closes with the command");
    }

    private static int FreePort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }

    /// <summary>The value of the first sample of <paramref name="metric"/> in a Prometheus text exposition (NaN when absent).</summary>
    private static double Value(string exposition, string metric)
    {
        var match = Regex.Match(exposition, $@"^{Regex.Escape(metric)}(\{{[^}}]*\}})? (\S+)", RegexOptions.Multiline);
        return match.Success ? double.Parse(match.Groups[2].Value, CultureInfo.InvariantCulture) : double.NaN;
    }
}
