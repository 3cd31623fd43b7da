using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using OpenTelemetry;
using OpenTelemetry.Exporter;
using OpenTelemetry.Logs;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using PathProbe.Findings;
using PathProbe.Flows;
using PathProbe.Reports;
using PathProbe.Reports.Records;

namespace PathProbe.Cli.Commands.Capture;

/// <summary>Where capture's metrics and findings go: a Prometheus endpoint, an OTLP receiver, or both.</summary>
internal sealed record TelemetryOptions
{
    /// <summary>--metrics-listen: the address and port of the Prometheus endpoint, or null.</summary>
    public MetricsEndpoint? MetricsListen { get; init; }
    /// <summary>--otlp-endpoint, or null.</summary>
    public Uri? OtlpEndpoint { get; init; }
    /// <summary>--otlp-protocol: true for gRPC, false for HTTP/protobuf.</summary>
    public bool OtlpGrpc { get; init; }
    /// <summary>--otlp-interval: seconds between OTLP metric exports.</summary>
    public double OtlpIntervalSeconds { get; init; } = 10;
    /// <summary>The capture's interface, a resource attribute.</summary>
    public string Interface { get; init; } = "";

    public bool Any => MetricsListen is not null || OtlpEndpoint is not null;
}

/// <summary>ADDR:PORT of --metrics-listen: "127.0.0.1:9464", "mx1.example.net:9464", "*:9464" or ":9464" (every address).</summary>
internal sealed record MetricsEndpoint(string Host, int Port)
{
    public static bool TryParse(string text, out MetricsEndpoint? endpoint, out string? error)
    {
        endpoint = null;
        int colon = text.LastIndexOf(':');
        if (colon < 0) { error = $"'{text}' is not ADDR:PORT (e.g. 127.0.0.1:9464, or *:9464 for every address)"; return false; }
        string host = text[..colon];
        if (!int.TryParse(text.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out int port) || port is < 1 or > 65535)
        {
            error = $"'{text}': the port must be 1-65535";
            return false;
        }
        if (host is "" or "*" or "0.0.0.0" or "[::]" or "+") host = "*";
        else if (host.StartsWith('[') || host.Contains(':'))
        {
            // .NET's managed HttpListener (Linux, macOS) cannot parse an IPv6 literal in its prefix.
            error = $"'{text}': an IPv6 address cannot be given (.NET's HttpListener on Linux takes host names and IPv4 addresses); " +
                    $"use *:{port} for every address, or a host name";
            return false;
        }
        else if (Uri.CheckHostName(host) == UriHostNameType.Unknown) { error = $"'{text}': '{host}' is not a host name or address"; return false; }
        endpoint = new MetricsEndpoint(host, port);
        error = null;
        return true;
    }

    public override string ToString() => $"{Host}:{Port}";
}

/// <summary>
/// The exporters of one capture: an OpenTelemetry MeterProvider over <see cref="CaptureMetrics"/> (Prometheus endpoint
/// and/or OTLP metrics) and, with OTLP, a logger whose records are the findings' openings, changes and closings
/// (attributes: the finding's id, kind, severity, state, flow ids and its evidence, flattened). Built before the capture
/// starts so a taken port is a usage error; disposed at the end, which exports what is pending (SIGTERM too).
/// </summary>
internal sealed class CaptureTelemetry : IDisposable
{
    public const string LoggerCategory = "PathProbe.Findings";

    private readonly CaptureMetrics _metrics = new();
    private readonly MeterProvider _meters;
    private readonly ILoggerFactory? _loggers;
    private readonly ILogger? _findings;
    private readonly string _captureId;

    /// <summary><paramref name="scope"/>: the host name and capture id the records carry (--host, --capture-id), so
    /// that OTLP data, NDJSON and Parquet records of one run join on them.</summary>
    private CaptureTelemetry(TelemetryOptions options, RecordScope scope)
    {
        _captureId = scope.CaptureId;
        var resource = ResourceBuilder.CreateEmpty()
            .AddService("pathprobe", serviceVersion: typeof(CaptureTelemetry).Assembly.GetName().Version?.ToString(3))
            .AddAttributes(
            [
                new("host.name", scope.Host),
                new("pathprobe.capture.interface", options.Interface),
                new("pathprobe.capture.id", _captureId),
            ]);
        var builder = Sdk.CreateMeterProviderBuilder()
            .SetResourceBuilder(resource)
            .AddMeter(CaptureMetrics.MeterName)
            .AddView("pathprobe.handshake_rtt", new ExplicitBucketHistogramConfiguration { Boundaries = CaptureMetrics.RttBuckets });
        if (options.MetricsListen is { } listen)
            builder.AddPrometheusHttpListener(o =>
            {
                // The exporter makes its HttpListener prefix from a URI host, which cannot say "every address" (HttpListener's
                // "*") and which it writes badly for an IPv6 literal: its prefixes get our host instead.
                o.Host = "localhost";
                o.Port = listen.Port;
                o.ConfigureHttpListener = (_, l) =>
                {
                    var prefixes = l.Prefixes.ToList();
                    l.Prefixes.Clear();
                    foreach (string prefix in prefixes)
                        l.Prefixes.Add(prefix.Replace("//localhost:", $"//{listen.Host}:", StringComparison.OrdinalIgnoreCase));
                };
                o.ScopeInfoEnabled = false;
                o.ScrapeResponseCacheDurationMilliseconds = 0;
            });
        if (options.OtlpEndpoint is { } otlp)
        {
            builder.AddOtlpExporter((o, reader) =>
            {
                Configure(o, otlp, options.OtlpGrpc, "v1/metrics");
                reader.PeriodicExportingMetricReaderOptions.ExportIntervalMilliseconds = (int)Math.Clamp(options.OtlpIntervalSeconds * 1000, 100, int.MaxValue);
                reader.TemporalityPreference = MetricReaderTemporalityPreference.Cumulative;
            });
            _loggers = LoggerFactory.Create(b => b.AddOpenTelemetry(o =>
            {
                o.SetResourceBuilder(resource);
                o.IncludeFormattedMessage = true;
                o.ParseStateValues = true;
                o.AddOtlpExporter((e, processor) =>
                {
                    Configure(e, otlp, options.OtlpGrpc, "v1/logs");
                    processor.BatchExportProcessorOptions.ScheduledDelayMilliseconds = 1000;
                });
            }));
            _findings = _loggers.CreateLogger(LoggerCategory);
        }
        try
        {
            _meters = builder.Build(); // starts the HTTP listener: throws when the port is taken
        }
        catch
        {
            _loggers?.Dispose();
            _metrics.Dispose();
            throw;
        }
    }

    private static void Configure(OtlpExporterOptions o, Uri endpoint, bool grpc, string signalPath)
    {
        o.Protocol = grpc ? OtlpExportProtocol.Grpc : OtlpExportProtocol.HttpProtobuf;
        // HTTP: the URL is the receiver's base (http://collector:4318), each signal goes to its own path, as
        // OTEL_EXPORTER_OTLP_ENDPOINT means it. gRPC: the URL as given (http://collector:4317).
        o.Endpoint = grpc ? endpoint : new Uri(endpoint.AbsoluteUri.TrimEnd('/') + "/" + signalPath);
        o.TimeoutMilliseconds = 5000;
    }

    /// <summary>Starts the exporters, or returns null and says why in <paramref name="error"/> (a port taken, say).</summary>
    public static CaptureTelemetry? Start(TelemetryOptions options, RecordScope scope, out string? error)
    {
        error = null;
        try
        {
            return new CaptureTelemetry(options, scope);
        }
        catch (Exception e) when (options.MetricsListen is { } listen && e is InvalidOperationException or HttpListenerException or SocketException)
        {
            var inner = e;
            while (inner.InnerException is not null) inner = inner.InnerException;
            string reason = inner is HttpListenerException { ErrorCode: 98 or 48 or 10048 } or SocketException { SocketErrorCode: SocketError.AddressAlreadyInUse }
                            || inner.Message.Contains("in use", StringComparison.OrdinalIgnoreCase)
                ? "the port is already in use (another pathprobe, node_exporter or service listens there)"
                : inner.Message.TrimEnd('.');
            error = $"cannot serve metrics on {listen}: {reason}; choose a free port with --metrics-listen ADDR:PORT " +
                    $"(ss -ltnp 'sport = :{listen.Port}' shows who has it)";
            return null;
        }
    }

    /// <summary>Capture thread, on the status tick.</summary>
    public void Publish(long packets, long kernelDrops, long interfaceDrops, FlowTable flows, List<FindingEvent> events)
    {
        _metrics.Publish(packets, kernelDrops, interfaceDrops, flows, events);
        if (_findings is null) return;
        foreach (var e in events) Log(e);
    }

    /// <summary>Capture thread, when a flow leaves the table.</summary>
    public void FlowClosed(Flow flow) => _metrics.FlowClosed(flow);

    /// <summary>One OTLP log record per change of a finding: body the live line, attributes the facts.</summary>
    private void Log(FindingEvent e)
    {
        var f = e.Finding;
        string change = e.Change switch { FindingChange.Opened => "opened", FindingChange.Closed => "closed", _ => "updated" };
        var attributes = new List<KeyValuePair<string, object?>>
        {
            new("pathprobe.finding.change", change),
            new("pathprobe.finding.id", (long)f.Id),
            new("pathprobe.finding.kind", f.Name),
            new("pathprobe.finding.severity", FindingKinds.SeverityName(f.Severity)),
            new("pathprobe.finding.state", f.State == FindingState.Open ? "open" : "closed"),
            new("pathprobe.finding.identifier", f.Identifier),
            new("pathprobe.capture.id", _captureId),
        };
        if (f.Flows.Count > 0)
        {
            attributes.Add(new("pathprobe.flow.id", (long)f.Flows[0]));
            attributes.Add(new("pathprobe.flow.ids", f.Flows.Select(x => (long)x).ToArray()));
        }
        AddEvidence(f, attributes);
        var level = e.Change == FindingChange.Closed ? LogLevel.Information : f.Severity switch
        {
            Severity.Critical => LogLevel.Error,
            Severity.Warning => LogLevel.Warning,
            _ => LogLevel.Information,
        };
        string body = $"{change} #{f.Id} [{FindingKinds.SeverityName(f.Severity)}] {f.Name}: {f.Summary}";
        _findings!.Log(level, new EventId(1 + (int)e.Change, "pathprobe.finding." + change), attributes, null, (_, _) => body);
    }

    /// <summary>The finding's evidence (as in the JSON report) as attributes "pathprobe.evidence.KEY": scalars as they
    /// are, nested objects by dotted keys, arrays of scalars as arrays, anything else as JSON text.</summary>
    private static void AddEvidence(Finding f, List<KeyValuePair<string, object?>> into)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms))
        {
            w.WriteStartObject();
            JsonReport.WriteFindingFields(w, f);
            w.WriteEndObject();
        }
        using var doc = JsonDocument.Parse(ms.GetBuffer().AsMemory(0, (int)ms.Length));
        if (doc.RootElement.TryGetProperty("evidence", out var evidence) && evidence.ValueKind == JsonValueKind.Object)
            Flatten("pathprobe.evidence", evidence, into, depth: 0);
    }

    private const int MaxAttributes = 120; // the SDK's default limit is 128

    private static void Flatten(string prefix, JsonElement e, List<KeyValuePair<string, object?>> into, int depth)
    {
        foreach (var p in e.EnumerateObject())
        {
            if (into.Count >= MaxAttributes) return;
            string key = prefix + "." + p.Name;
            var v = p.Value;
            switch (v.ValueKind)
            {
                case JsonValueKind.Object when depth < 3: Flatten(key, v, into, depth + 1); break;
                case JsonValueKind.Array when v.EnumerateArray().All(x => x.ValueKind == JsonValueKind.Number):
                    into.Add(new(key, v.EnumerateArray().Select(x => x.GetDouble()).ToArray())); break;
                case JsonValueKind.Array when v.EnumerateArray().All(x => x.ValueKind == JsonValueKind.String):
                    into.Add(new(key, v.EnumerateArray().Select(x => x.GetString()!).ToArray())); break;
                default:
                    object? value = v.ValueKind switch
                    {
                        JsonValueKind.String => v.GetString(),
                        JsonValueKind.Number => v.TryGetInt64(out long l) ? l : v.GetDouble(),
                        JsonValueKind.True => true,
                        JsonValueKind.False => false,
                        JsonValueKind.Null => null,
                        _ => v.GetRawText(),
                    };
                    if (value is not null) into.Add(new(key, value));
                    break;
            }
        }
    }

    /// <summary>Exports what is pending now (the end of a capture, SIGTERM) and stops the exporters.</summary>
    public void Dispose()
    {
        _meters.ForceFlush(5000);
        _loggers?.Dispose(); // shuts the log provider down: the batch is exported first
        _meters.Dispose();
        _metrics.Dispose();
    }
}
