using System.Text.Json;
using System.Text.Json.Nodes;
using PathProbe.Cli.Commands.Capture;
using PathProbe.Findings;
using PathProbe.Pipeline;
using PathProbe.Reports;
using PathProbe.Telemetry.Tests.Support;
using PathProbe.Tests.Support;
using Xunit.Abstractions;

namespace PathProbe.Telemetry.Tests;

[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class TelemetryCollection
{
    /// <summary>One MeterProvider at a time in this process: each listens to every meter named PathProbe.Capture.</summary>
    public const string Name = "telemetry";
}

/// <summary>
/// Issue 20 item 2: capture's OTLP export, decoded by a minimal receiver in the test (<see cref="OtlpReceiver"/>, over
/// OTLP/HTTP and OTLP/gRPC). A bundled capture is replayed through the engine and <see cref="CaptureTelemetry"/> as the
/// live capture drives it (a publish per batch of packets, the flow-close hook); every finding event must arrive as
/// one log record carrying the finding's id, kind, severity, flows and evidence, and the last metric export must hold
/// the same numbers as the analysis.
/// </summary>
[Collection(TelemetryCollection.Name)]
public sealed class OtlpExportTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(false, "smtp-mru1424-sender.pcap")]
    [InlineData(true, "smtp-mru1424-sender.pcap")]
    [InlineData(false, "smtp-552-size.pcap")]
    [InlineData(true, "smtp-retrans-storm-blackhole.pcap")]
    public async Task Otlp_ReplayedCapture_EveryFindingEventIsALogRecordAndMetricsMatch(bool grpc, string capture)
    {
        await using var receiver = new OtlpReceiver(grpc);
        var (analysis, events, frames) = Replay(capture, new TelemetryOptions
        {
            OtlpEndpoint = receiver.Endpoint,
            OtlpGrpc = grpc,
            OtlpIntervalSeconds = 3600, // only the final export (at Dispose, as SIGTERM does)
            Interface = "test0",
        });
        Assert.NotEmpty(events);

        // Logs: one record per event, in order, with the facts as attributes.
        var records = receiver.Requests("logs").SelectMany(Otlp.LogRecords).ToList();
        output.WriteLine($"{capture} grpc={grpc}: {events.Count} events, {records.Count} log records, {receiver.Requests("metrics").Count} metric exports");
        Assert.Equal(events.Count, records.Count);
        for (int i = 0; i < events.Count; i++)
        {
            var e = events[i];
            var r = records[i];
            var f = e.Finding;
            string change = e.Change switch { FindingChange.Opened => "opened", FindingChange.Closed => "closed", _ => "updated" };
            Assert.Equal(change, r.Attributes["pathprobe.finding.change"]);
            Assert.Equal((long)f.Id, r.Attributes["pathprobe.finding.id"]);
            Assert.Equal(f.Name, r.Attributes["pathprobe.finding.kind"]);
            Assert.Equal(FindingKinds.SeverityName(f.Severity), r.Attributes["pathprobe.finding.severity"]);
            Assert.Equal(f.Flows.Select(x => (object?)(long)x).ToArray(), (object?[])r.Attributes["pathprobe.flow.ids"]!);
            Assert.Equal((long)f.Flows[0], r.Attributes["pathprobe.flow.id"]);
            Assert.Equal($"{change} #{f.Id} [{FindingKinds.SeverityName(f.Severity)}] {f.Name}: {f.Summary}", r.Body);
            Assert.Equal("pathprobe", r.Resource["service.name"]);
            // The records' host and capture id (--host, --capture-id), so OTLP data joins the NDJSON and Parquet records.
            Assert.Equal(Scope.Host, r.Resource["host.name"]);
            Assert.Equal("test0", r.Resource["pathprobe.capture.interface"]);
            Assert.Equal(Scope.CaptureId, r.Resource["pathprobe.capture.id"]);
            Assert.Equal(Scope.CaptureId, r.Attributes["pathprobe.capture.id"]);
            Assert.Equal(f.Severity == Severity.Critical && e.Change != FindingChange.Closed ? 17 : f.Severity == Severity.Warning && e.Change != FindingChange.Closed ? 13 : 9,
                r.SeverityNumber); // OTLP: ERROR 17, WARN 13, INFO 9
            AssertEvidence(f, r.Attributes);
        }

        // Metrics: the final export holds the analysis's numbers.
        var metrics = Otlp.Metrics(receiver.Requests("metrics").Last()).ToDictionary(m => m.Name);
        Assert.Equal(frames, metrics["pathprobe.packets"].Points.Single().Value);
        var opened = metrics["pathprobe.findings"].Points;
        foreach (var kind in FindingKinds.All)
            foreach (var sev in Enum.GetValues<Severity>())
            {
                long expected = events.Count(e => e.Change == FindingChange.Opened && e.Finding.Kind == kind.Kind && e.Finding.Severity == sev);
                var point = opened.Single(p => (string?)p.Attributes["kind"] == kind.Name && (string?)p.Attributes["severity"] == FindingKinds.SeverityName(sev));
                Assert.True(expected == point.Value, $"findings {kind.Name} {FindingKinds.SeverityName(sev)}: {point.Value}, expected {expected}");
            }
        // What is still open at the end (a black hole ongoing when the capture stopped) is what the report says is open.
        foreach (var p in metrics["pathprobe.findings_open"].Points)
            Assert.Equal(analysis.Findings.Count(f => f.State == FindingState.Open && f.Name == (string?)p.Attributes["kind"] &&
                                                      FindingKinds.SeverityName(f.Severity) == (string?)p.Attributes["severity"]), (long)p.Value);
        Assert.Equal(analysis.Findings.Count(f => f.State == FindingState.Open && f.Kind == FindingKind.MtuBlackhole),
            (long)metrics["pathprobe.blackhole_peers"].Points.Single().Value);
        Assert.Equal(0, metrics["pathprobe.flows_active"].Points.Single().Value);

        var doc = JsonNode.Parse(Json(analysis))!;
        long retransmissions = doc["flows"]!.AsArray().Sum(fl => Retransmissions(fl!["tcp"]?["c2s"]) + Retransmissions(fl!["tcp"]?["s2c"]));
        Assert.Equal(retransmissions, metrics["pathprobe.retransmissions"].Points.Single().Value);
        var rtt = metrics["pathprobe.handshake_rtt"];
        Assert.Equal("s", rtt.Unit);
        long handshakes = doc["flows"]!.AsArray().Count(fl => fl!["tcp"]?["initialRtt"] is JsonValue v && v.GetValue<double>() > 0);
        output.WriteLine($"retransmissions {retransmissions}, handshakes {handshakes}, histogram count {rtt.Points.Single().Count}");
        Assert.Equal((ulong)handshakes, rtt.Points.Single().Count);
        Assert.Equal((ulong)handshakes, (ulong)rtt.Points.Single().Buckets.Sum(b => (long)b));

        // Mail: each ended transaction once, by outcome and class.
        long transactions = doc["flows"]!.AsArray().Sum(fl => fl!["smtp"]?["transactions"]?.AsArray().Count ?? 0);
        var mail = metrics["pathprobe.mail_transactions"].Points;
        Assert.Equal(transactions, (long)mail.Sum(p => p.Value));
        foreach (var p in mail.Where(p => p.Value > 0)) output.WriteLine($"mail {p.Attributes["outcome"]} {p.Attributes["class"]} {p.Value}");
        if (capture == "smtp-552-size.pcap")
            Assert.Equal(1, mail.Single(p => (string?)p.Attributes["outcome"] == "rejected" && (string?)p.Attributes["class"] == "size").Value);
    }

    private static long Retransmissions(JsonNode? d) =>
        d is JsonObject o ? (long)o["retransmissions"]! + (long)o["fastRetransmissions"]! + (long)o["spuriousRetransmissions"]! : 0;

    /// <summary>Every scalar of the finding's JSON evidence is an attribute pathprobe.evidence.KEY of the same value
    /// (nested objects by dotted keys).</summary>
    private static void AssertEvidence(Finding f, Dictionary<string, object?> attributes)
    {
        var finding = JsonNode.Parse(FindingJson(f))!;
        if (finding["evidence"] is not JsonObject evidence) return;
        int checkedScalars = 0;
        void Walk(string prefix, JsonObject o, int depth)
        {
            foreach (var (key, value) in o)
            {
                string name = prefix + "." + key;
                if (attributes.Count >= 120 && !attributes.ContainsKey(name)) continue; // past the attribute limit
                switch (value)
                {
                    case JsonObject inner when depth < 3: Walk(name, inner, depth + 1); break;
                    case JsonValue v when v.GetValueKind() == JsonValueKind.String:
                        Assert.Equal(v.GetValue<string>(), attributes[name]); checkedScalars++; break;
                    case JsonValue v when v.GetValueKind() == JsonValueKind.Number:
                        Assert.Equal(v.GetValue<double>(), Convert.ToDouble(attributes[name])); checkedScalars++; break;
                    case JsonValue v when v.GetValueKind() is JsonValueKind.True or JsonValueKind.False:
                        Assert.Equal(v.GetValue<bool>(), attributes[name]); checkedScalars++; break;
                }
            }
        }
        Walk("pathprobe.evidence", evidence, 0);
        Assert.True(checkedScalars > 0 || evidence.Count == 0, $"{f.Name}: no evidence attribute checked");
    }

    private static string FindingJson(Finding f)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms))
        {
            w.WriteStartObject();
            JsonReport.WriteFindingFields(w, f);
            w.WriteEndObject();
        }
        return System.Text.Encoding.UTF8.GetString(ms.ToArray());
    }

    private static string Json(CaptureAnalysis a)
    {
        using var ms = new MemoryStream();
        JsonReport.Write(ms, [a], indented: false);
        return System.Text.Encoding.UTF8.GetString(ms.ToArray());
    }

    /// <summary>The capture through the engine and the exporters, published every 16 packets like the live status tick.</summary>
    /// <summary>The host name and capture id of the run (--host, --capture-id), as the records carry them.</summary>
    private static readonly PathProbe.Reports.Records.RecordScope Scope = new("mx1.example.test", "20261206T010000Z-4242");

    private static (CaptureAnalysis Analysis, List<FindingEvent> Events, long Frames) Replay(string name, TelemetryOptions options)
    {
        var engine = new Engine(new AnalysisOptions { FindingEvents = true });
        var all = new List<FindingEvent>();
        var batch = new List<FindingEvent>();
        long frames = 0;
        CaptureAnalysis analysis;
        var telemetry = CaptureTelemetry.Start(options, Scope, out string? error);
        Assert.True(telemetry is not null, error);
        using (telemetry)
        {
            var hook = engine.Flows.FlowClosing;
            engine.Flows.FlowClosing = flow => { hook?.Invoke(flow); telemetry!.FlowClosed(flow); };
            using (var source = PathProbe.Capture.CaptureFile.Open(Path.Combine(TestPaths.Captures, name)))
                while (source.TryRead(out var frame))
                {
                    engine.Process(frame);
                    if (++frames % 16 != 0) continue;
                    batch.Clear();
                    engine.TakeFindingEvents(batch);
                    all.AddRange(batch);
                    telemetry!.Publish(frames, 0, 0, engine.Flows, batch);
                }
            analysis = engine.Complete(new InputSummary { Path = name });
            batch.Clear();
            engine.TakeFindingEvents(batch);
            all.AddRange(batch);
            telemetry!.Publish(frames, 0, 0, engine.Flows, batch);
        }
        return (analysis, all, frames);
    }
}
