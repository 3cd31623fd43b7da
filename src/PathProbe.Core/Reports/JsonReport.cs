using System.Text.Json;
using PathProbe.Analysis.Dns;
using PathProbe.Capture;
using PathProbe.Findings;
using PathProbe.Flows;
using PathProbe.Flows.Tcp;
using PathProbe.Pipeline;
using PathProbe.Primitives;

namespace PathProbe.Reports;

/// <summary>
/// Writes the "pathprobe.analysis/2" JSON document (README "JSON output", schemas/pathprobe.analysis-2.schema.json).
/// Within a schema version fields are only ever added, never renamed or removed. Units: durations in seconds, sizes
/// in bytes, times ISO 8601 UTC; endpoints are <c>{"ip", "port"}</c>; enum values kebab-case.
/// </summary>
public static class JsonReport
{
    public const string Schema = "pathprobe.analysis/2";

    public static void Write(Stream output, IReadOnlyList<CaptureAnalysis> analyses, bool indented = true)
    {
        using var w = new Utf8JsonWriter(output, new JsonWriterOptions { Indented = indented });
        w.WriteStartObject();
        w.WriteString("schema", Schema);

        w.WriteStartArray("inputs");
        foreach (var a in analyses) WriteInput(w, a.Input, a.OffloadFrames, a.AckedUnseen);
        w.WriteEndArray();

        WriteStats(w, analyses);

        w.WriteStartArray("flows");
        foreach (var a in analyses)
            foreach (var f in a.Flows)
            {
                WriteFlow(w, f);
                if (w.BytesPending > 1 << 16)
                {
                    w.Flush(); // stream: never hold the whole document
                    Pipeline.YoungGeneration.Check();
                }
            }
        w.WriteEndArray();

        w.WriteStartArray("findings");
        foreach (var a in analyses)
            foreach (var f in a.Findings) WriteFinding(w, f);
        w.WriteEndArray();

        w.WriteEndObject();
        w.Flush();
    }

    private static void WriteInput(Utf8JsonWriter w, InputSummary i, long offloadFrames = 0, long ackedUnseen = 0)
    {
        w.WriteStartObject();
        w.WriteString("path", i.Path);
        if (i.Format is null) w.WriteNull("format"); else w.WriteString("format", i.Format);
        w.WriteBoolean("compressed", i.Compressed);
        w.WriteStartArray("linkTypes");
        foreach (int lt in i.LinkTypes) w.WriteStringValue(LinkTypes.Name(lt));
        w.WriteEndArray();
        w.WriteNumber("packets", i.Packets);
        w.WriteNumber("bytes", i.Bytes);
        w.WriteNumber("capturedBytes", i.CapturedBytes);
        WriteTime(w, "firstTime", i.FirstTime);
        WriteTime(w, "lastTime", i.LastTime);
        w.WriteBoolean("truncated", i.Truncated);
        if (i.StopOffset >= 0) w.WriteNumber("stopOffset", i.StopOffset);
        if (i.Error is null) w.WriteNull("error"); else w.WriteString("error", i.Error);
        w.WriteNumber("offloadFrames", offloadFrames);
        if (i.Info is { } info)
        {
            w.WriteStartArray("interfaces");
            foreach (var itf in info.Interfaces)
            {
                w.WriteStartObject();
                w.WriteString("linkType", LinkTypes.Name(itf.LinkType));
                w.WriteNumber("snapLength", itf.SnapLength);
                if (itf.Name is not null) w.WriteString("name", SafeText.Clean(itf.Name));
                if (itf.Description is not null) w.WriteString("description", SafeText.Clean(itf.Description));
                if (itf.Statistics is { } st) WriteStatistics(w, st);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            if (info.LimitsHit.AnyHit) WriteLimits(w, info);
            if (info.Comments.Count > 0)
            {
                w.WriteStartArray("comments");
                foreach (var c in info.Comments) w.WriteStringValue(SafeText.Clean(c));
                w.WriteEndArray();
            }
        }
        WriteCaptureLoss(w, i.Drops, ackedUnseen);
        WriteSelection(w, i);
        w.WriteEndObject();
    }

    /// <summary>inputs[].interfaces[].statistics: the interface's last pcapng ISB (or pcap_stats sample); counters are
    /// cumulative, absent when not recorded.</summary>
    private static void WriteStatistics(Utf8JsonWriter w, InterfaceStatistics s)
    {
        w.WriteStartObject("statistics");
        WriteTime(w, "time", s.Time);
        if (s.StartTime is { } start) WriteTime(w, "start", start);
        if (s.EndTime is { } end) WriteTime(w, "end", end);
        if (s.Received is { } r) w.WriteNumber("received", r);
        if (s.InterfaceDropped is { } id) w.WriteNumber("interfaceDropped", id);
        if (s.OsDropped is { } od) w.WriteNumber("osDropped", od);
        if (s.FilterAccepted is { } fa) w.WriteNumber("filterAccepted", fa);
        if (s.Delivered is { } d) w.WriteNumber("delivered", d);
        w.WriteEndObject();
    }

    /// <summary>inputs[].limits: the metadata bounds that were hit (absent when none was).</summary>
    private static void WriteLimits(Utf8JsonWriter w, CaptureInfo info)
    {
        var h = info.LimitsHit;
        w.WriteStartObject("limits");
        w.WriteNumber("sections", info.Sections);
        w.WriteNumber("interfacesIgnored", h.InterfacesIgnored);
        w.WriteNumber("packetsOnIgnoredInterfaces", h.PacketsOnIgnoredInterfaces);
        w.WriteNumber("interfacesNotListed", h.InterfacesNotListed);
        w.WriteNumber("sectionsNotDescribed", h.SectionsNotDescribed);
        w.WriteNumber("optionTextBytesNotKept", h.OptionTextBytesNotKept);
        w.WriteNumber("statisticsNotKept", h.StatisticsNotKept);
        w.WriteNumber("timestampOffsetsIgnored", h.TimestampOffsetsIgnored);
        if (h.FirstIgnoredTimestampOffset is { } o) w.WriteNumber("firstIgnoredTimestampOffset", o);
        w.WriteEndObject();
    }

    /// <summary>inputs[].captureLoss: what the capture itself lost. "dropped" and the windows come from interface
    /// statistics (null when the input records none); "ackedUnseen" counts ACKs for data the capture never saw.</summary>
    private static void WriteCaptureLoss(Utf8JsonWriter w, CaptureDrops? d, long ackedUnseen)
    {
        w.WriteStartObject("captureLoss");
        if (d is null)
        {
            w.WriteNull("source");
            w.WriteNull("dropped");
        }
        else
        {
            w.WriteString("source", d.Source);
            w.WriteNumber("dropped", d.Dropped);
            w.WriteNumber("received", d.Received);
            w.WriteNumber("interfaceDropped", d.InterfaceDropped);
            w.WriteNumber("osDropped", d.OsDropped);
            w.WriteNumber("samples", d.Samples);
            w.WriteStartArray("windows");
            foreach (var win in d.Windows)
            {
                w.WriteStartObject();
                WriteTime(w, "from", win.From);
                WriteTime(w, "to", win.To);
                w.WriteNumber("dropped", win.Dropped);
                w.WriteEndObject();
            }
            w.WriteEndArray();
        }
        w.WriteNumber("ackedUnseen", ackedUnseen);
        w.WriteEndObject();
    }

    /// <summary>"join" and "selection", only when files were joined or frames selected (analyze --join, FILTER, -c,
    /// --since, --until): the input's packets and bytes are then those of the selected frames.</summary>
    private static void WriteSelection(Utf8JsonWriter w, InputSummary i)
    {
        if (i.JoinedFiles is { Count: > 1 } files)
        {
            w.WriteStartObject("join");
            w.WriteString("reason", i.JoinReason);
            w.WriteStartArray("files");
            foreach (var f in files) w.WriteStringValue(f);
            w.WriteEndArray();
            w.WriteEndObject();
        }
        if (i.Selection is not { } sel) return;
        w.WriteStartObject("selection");
        if (sel.Filter is null) w.WriteNull("filter"); else w.WriteString("filter", sel.Filter);
        WriteTime(w, "since", sel.SinceText is null ? null : sel.Since);
        WriteTime(w, "until", sel.UntilText is null ? null : sel.Until);
        if (sel.Count > 0) w.WriteNumber("count", sel.Count); else w.WriteNull("count");
        w.WriteBoolean("stoppedAtCount", sel.StoppedAtCount);
        w.WriteNumber("framesRead", sel.FramesRead);
        if (sel.Problems.Count > 0)
        {
            w.WriteStartArray("problems");
            foreach (var p in sel.Problems) w.WriteStringValue(p);
            w.WriteEndArray();
        }
        w.WriteEndObject();
    }

    private static void WriteStats(Utf8JsonWriter w, IReadOnlyList<CaptureAnalysis> analyses)
    {
        var t = Totals.Of(analyses);
        w.WriteStartObject("stats");
        w.WriteNumber("packets", t.Packets);
        w.WriteNumber("decoded", t.Decoded);
        w.WriteNumber("notIp", t.NotIp);
        w.WriteNumber("snapTruncated", t.SnapTruncated);
        w.WriteNumber("ipv4ChecksumErrors", t.Ipv4ChecksumErrors);
        w.WriteStartObject("malformed");
        foreach (var kv in t.Malformed) w.WriteNumber(kv.Key, kv.Value);
        w.WriteEndObject();
        w.WriteStartObject("unsupportedLinkTypes");
        foreach (var kv in t.Unsupported) w.WriteNumber(LinkTypes.Name(kv.Key), kv.Value);
        w.WriteEndObject();
        w.WriteStartObject("fragments");
        w.WriteNumber("seen", t.Fragments.Fragments);
        w.WriteNumber("datagramsCompleted", t.Fragments.Completed);
        w.WriteNumber("incomplete", t.Fragments.Incomplete);
        w.WriteNumber("timedOut", t.Fragments.TimedOut);
        w.WriteNumber("openAtEnd", t.Fragments.OpenAtEnd);
        w.WriteNumber("overlaps", t.Fragments.Overlaps);
        w.WriteNumber("duplicates", t.Fragments.Duplicates);
        w.WriteNumber("oversize", t.Fragments.Oversize);
        w.WriteNumber("droppedMemoryBound", t.Fragments.DroppedMemoryBound);
        w.WriteNumber("inconsistent", t.Fragments.Inconsistent);
        w.WriteNumber("tooManyFragments", t.Fragments.TooManyFragments);
        w.WriteNumber("badFragments", t.Fragments.BadFragments);
        w.WriteNumber("atomicFragments", t.Fragments.AtomicFragments);
        w.WriteEndObject();
        w.WriteNumber("flows", t.Flows);
        w.WriteNumber("flowsEvicted", t.FlowsEvicted);
        w.WriteNumber("flowsNotListed", t.FlowsNotReported);
        WriteDnsStats(w, analyses);
        SmtpJson.WriteStats(w, analyses);
        EncapsulationReport.WriteJsonStats(w, analyses);
        w.WriteEndObject();
    }

    private static void WriteFlow(Utf8JsonWriter w, Flow f)
    {
        w.WriteStartObject();
        w.WriteNumber("id", f.Id);
        w.WriteNumber("input", f.InputIndex);
        w.WriteString("protocol", f.ProtocolName);
        var facts = FlowFacts.Of(f);
        Endpoint(w, "client", facts.Client);
        Endpoint(w, "server", facts.Server);
        WriteTime(w, "start", f.Start);
        WriteTime(w, "end", f.End);
        w.WriteString("state", EndName(f.EndReason));
        Pair(w, "packets", f.ClientToServer.Packets, f.ServerToClient.Packets);
        Pair(w, "payloadBytes", f.ClientToServer.PayloadBytes, f.ServerToClient.PayloadBytes);
        Pair(w, "frameBytes", f.ClientToServer.FrameBytes, f.ServerToClient.FrameBytes);
        w.WriteStartObject("mss");
        NullableInt(w, "c2s", f.ClientToServer.Mss);
        NullableInt(w, "s2c", f.ServerToClient.Mss);
        w.WriteEndObject();
        Pair(w, "maxSegment", f.ClientToServer.MaxSegment, f.ServerToClient.MaxSegment);
        Pair(w, "maxIpPacket", f.ClientToServer.MaxIpPacket, f.ServerToClient.MaxIpPacket);
        Pair(w, "maxFrame", f.ClientToServer.MaxFrame, f.ServerToClient.MaxFrame);
        Pair(w, "dfPackets", f.ClientToServer.DfPackets, f.ServerToClient.DfPackets);
        if (f.Application is null) w.WriteNull("application"); else w.WriteString("application", f.Application);
        EncapsulationReport.WriteJsonFlow(w, f);
        if (f.Protocol == FlowProtocol.Tcp && f.Tcp is { } tcp) WriteTcp(w, f, tcp, facts);
        SmtpJson.WriteFlow(w, f);
        if (f.App is DnsFlowState dns) WriteDns(w, dns);
        w.WriteEndObject();
    }

    private static void WriteDnsStats(Utf8JsonWriter w, IReadOnlyList<CaptureAnalysis> analyses)
    {
        var d = new DnsCounters();
        foreach (var a in analyses)
            if (a.Dns is { } c)
            {
                d.Messages += c.Messages; d.Queries += c.Queries; d.Responses += c.Responses; d.Malformed += c.Malformed;
                d.Transactions += c.Transactions; d.NotTracked += c.NotTracked; d.TimedOut += c.TimedOut; d.FindingsSuppressed += c.FindingsSuppressed;
            }
        w.WriteStartObject("dns");
        w.WriteNumber("messages", d.Messages);
        w.WriteNumber("queries", d.Queries);
        w.WriteNumber("responses", d.Responses);
        w.WriteNumber("malformed", d.Malformed);
        w.WriteNumber("transactions", d.Transactions);
        w.WriteNumber("notTracked", d.NotTracked);
        w.WriteNumber("timedOut", d.TimedOut);
        w.WriteNumber("findingsSuppressed", d.FindingsSuppressed);
        w.WriteEndObject();
    }

    private static void WriteDns(Utf8JsonWriter w, DnsFlowState s)
    {
        w.WriteStartObject("dns");
        w.WriteString("transport", s.Transport == DnsTransport.Udp ? "udp" : "tcp");
        w.WriteNumber("queries", s.Queries);
        w.WriteNumber("responses", s.Responses);
        w.WriteNumber("malformed", s.Malformed);
        w.WriteNumber("unmatchedResponses", s.UnmatchedResponses);
        w.WriteNumber("notTracked", s.NotTracked);
        w.WriteNumber("tcpStreamsLost", s.TcpStreamsLost);
        w.WriteStartArray("transactions");
        foreach (var t in s.Transactions)
        {
            w.WriteStartObject();
            w.WriteNumber("id", t.Id);
            if (t.Name is null) w.WriteNull("name"); else w.WriteString("name", SafeText.Clean(t.Name, 300));
            w.WriteString("type", DnsTransaction.TypeName(t.Type));
            WriteTime(w, "time", t.FirstSent);
            w.WriteNumber("sends", t.Sends);
            w.WriteNumber("querySize", t.QuerySize);
            if (t.QueryEdnsSize is { } e) w.WriteNumber("ednsSize", e); else w.WriteNull("ednsSize");
            w.WriteString("outcome", DnsTransaction.OutcomeName(t.Outcome));
            if (t.AnsweredLate) w.WriteBoolean("answeredLate", true);
            if (t.Response is { } r)
            {
                w.WriteStartObject("response");
                WriteTime(w, "time", r.Time);
                w.WriteNumber("responseTime", Math.Round((r.Time.UnixNanoseconds - t.FirstSent.UnixNanoseconds) / 1e9, 6));
                w.WriteNumber("size", r.Size);
                w.WriteString("rcode", DnsTransaction.RcodeName(r.Rcode));
                w.WriteBoolean("truncated", r.Truncated);
                w.WriteBoolean("authoritative", r.Authoritative);
                w.WriteNumber("answers", r.AnswerCount);
                w.WriteNumber("authority", r.AuthorityCount);
                w.WriteNumber("additional", r.AdditionalCount);
                if (r.EdnsSize is { } re) w.WriteNumber("ednsSize", re); else w.WriteNull("ednsSize");
                w.WriteBoolean("exceedsQueryEdns", t.Transport == DnsTransport.Udp && r.Size > (t.QueryEdnsSize is { } qe ? Math.Max(qe, 512) : 512));
                w.WriteBoolean("fragmented", r.Fragmented);
                if (r.Fragmented)
                {
                    w.WriteNumber("fragments", r.FragmentCount);
                    w.WriteNumber("largestFragment", r.LargestFragment);
                    w.WriteNumber("ipPacketLength", r.IpPacketLength);
                }
                w.WriteStartArray("records");
                foreach (var rec in r.Records) w.WriteStringValue(rec);
                w.WriteEndArray();
                if (r.RecordsNotListed > 0) w.WriteNumber("recordsNotListed", r.RecordsNotListed);
                if (r.Malformed is not null) w.WriteString("malformed", r.Malformed);
                w.WriteEndObject();
            }
            else w.WriteNull("response");
            if (t.RetryOf is { } p) WriteLink(w, "retryOf", p); else w.WriteNull("retryOf");
            if (t.RetriedBy is { } n) WriteLink(w, "retriedBy", n); else w.WriteNull("retriedBy");
            if (t.AnswerDatagramsLost > 0) w.WriteNumber("answerDatagramsLost", t.AnswerDatagramsLost);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteEndObject();
    }

    private static void WriteLink(Utf8JsonWriter w, string name, DnsTransaction t)
    {
        w.WriteStartObject(name);
        w.WriteNumber("flow", t.FlowId);
        w.WriteNumber("id", t.Id);
        w.WriteString("transport", t.Transport == DnsTransport.Udp ? "udp" : "tcp");
        w.WriteEndObject();
    }

    /// <summary>The JSON and record token of a handshake state.</summary>
    public static string HandshakeName(TcpHandshake h) => h switch
    {
        TcpHandshake.Established => "established",
        TcpHandshake.SynAckSent => "syn-ack",
        TcpHandshake.SynSent => "syn-sent",
        _ => "not-seen",
    };

    private static void WriteTcp(Utf8JsonWriter w, Flow f, TcpConnectionState tcp, FlowFacts facts)
    {
        w.WriteStartObject("tcp");
        w.WriteString("handshake", HandshakeName(tcp.Handshake));
        w.WriteBoolean("reusedPorts", f.ReusedPorts);
        if (tcp.TsFirstRtt > 0) w.WriteNumber("initialRtt", Seconds(tcp.TsFirstRtt)); else w.WriteNull("initialRtt");
        // The flow's RTT (the same number as the flow table, the TUI and the findings).
        if (facts.RttNanos >= 0) w.WriteNumber("rtt", Seconds(facts.RttNanos)); else w.WriteNull("rtt");
        if (tcp.LongestGapOutstanding > 0)
        {
            w.WriteStartObject("longestGapOutstanding");
            w.WriteNumber("duration", Seconds(tcp.LongestGapOutstanding));
            WriteTime(w, "start", new Timestamp(tcp.LongestGapStart));
            w.WriteEndObject();
        }
        else w.WriteNull("longestGapOutstanding");
        WriteEndpoint(w, "c2s", tcp.Client);
        WriteEndpoint(w, "s2c", tcp.Server);
        w.WriteEndObject();
    }

    private static void WriteEndpoint(Utf8JsonWriter w, string name, TcpEndpointState e)
    {
        var k = e.Counters;
        w.WriteStartObject(name);
        w.WriteNumber("dataSegments", k.DataSegments);
        w.WriteNumber("retransmissions", k.Retransmissions);
        w.WriteNumber("fastRetransmissions", k.FastRetransmissions);
        w.WriteNumber("spuriousRetransmissions", k.SpuriousRetransmissions);
        w.WriteNumber("fullSizeRetransmissions", k.LargeRetransmissions);
        w.WriteNumber("outOfOrder", k.OutOfOrder);
        w.WriteNumber("duplicateAcks", k.DuplicateAcks);
        w.WriteNumber("maxDuplicateAckNumber", k.MaxDuplicateAckNumber);
        w.WriteNumber("lostSegments", k.LostSegments);
        w.WriteNumber("ackedUnseen", k.AckedUnseen);
        w.WriteNumber("zeroWindows", k.ZeroWindows);
        w.WriteNumber("zeroWindowProbes", k.ZeroWindowProbes);
        w.WriteNumber("zeroWindowProbeAcks", k.ZeroWindowProbeAcks);
        w.WriteNumber("windowFull", k.WindowFull);
        w.WriteNumber("windowUpdates", k.WindowUpdates);
        w.WriteNumber("keepAlives", k.KeepAlives);
        w.WriteNumber("keepAliveAcks", k.KeepAliveAcks);
        w.WriteNumber("maxBytesInFlight", k.MaxBytesInFlight);
        if (e.WinScale >= 0) w.WriteNumber("windowScale", e.WinScale); else w.WriteNull("windowScale");
        w.WriteStartObject("rtt");
        w.WriteNumber("samples", e.Rtt.Count);
        if (e.Rtt.Count > 0)
        {
            w.WriteNumber("min", Seconds(e.Rtt.MinNanos));
            w.WriteNumber("median", Seconds(e.Rtt.MedianNanos()));
            w.WriteNumber("max", Seconds(e.Rtt.MaxNanos));
            w.WriteBoolean("medianExact", e.Rtt.MedianIsExact);
        }
        w.WriteEndObject();
        var s = e.WorstSeries;
        if (s.Resends > 0)
        {
            w.WriteStartObject("longestRetransmissionSeries");
            w.WriteNumber("resends", s.Resends);
            // The size on the wire: a TSO/GSO super-frame of the capture host is never one (counted apart).
            w.WriteNumber("ipPacketSize", s.ReportedIpPacketSize);
            w.WriteNumber("superFrameSends", s.SuperFrameSends);
            WriteTime(w, "firstSent", new Timestamp(s.First));
            w.WriteStartArray("intervals");
            foreach (long d in s.IntervalsNanos()) w.WriteNumberValue(Seconds(d));
            w.WriteEndArray();
            w.WriteBoolean("backoff", s.LooksLikeBackoff);
            w.WriteBoolean("acknowledged", s.Acknowledged);
            w.WriteEndObject();
        }
        w.WriteEndObject();
    }

    public static string EndName(FlowEnd e) => e switch
    {
        FlowEnd.Fin => "closed",
        FlowEnd.Reset => "reset",
        FlowEnd.IdleTimeout => "idle-timeout",
        FlowEnd.Evicted => "evicted",
        FlowEnd.Reused => "replaced",
        _ => "open",
    };

    /// <summary>One finding: its identity and lifecycle, the words, and the evidence its kind's writer gives.</summary>
    public static void WriteFinding(Utf8JsonWriter w, Finding f)
    {
        w.WriteStartObject();
        WriteFindingFields(w, f);
        w.WriteEndObject();
    }

    /// <summary>The fields of a finding (NDJSON lines add theirs around them).</summary>
    public static void WriteFindingFields(Utf8JsonWriter w, Finding f)
    {
        w.WriteNumber("id", f.Id);
        w.WriteString("kind", f.Name);
        w.WriteString("severity", FindingKinds.SeverityName(f.Severity));
        w.WriteString("state", f.State == FindingState.Open ? "open" : "closed");
        w.WriteNumber("version", f.Version);
        w.WriteString("title", f.Kind.Info().Title);
        w.WriteStartArray("flows");
        foreach (int id in f.Flows) w.WriteNumberValue(id);
        w.WriteEndArray();
        WriteTime(w, "time", f.Time);
        w.WriteString("summary", f.Summary);
        w.WritePropertyName("evidence");
        w.WriteStartObject();
        f.Kind.Writer().Evidence(new EvidenceWriter(w), f);
        w.WriteEndObject();
        if (f.Advice is null) w.WriteNull("advice"); else w.WriteString("advice", f.Advice);
        if (f.CaptureArtefact is { } a)
        {
            w.WriteStartObject("captureArtefact");
            w.WriteNumber("dropped", a.Dropped);
            if (a.DropSource is null) w.WriteNull("dropSource"); else w.WriteString("dropSource", a.DropSource);
            w.WriteNumber("ackedUnseen", a.AckedUnseen);
            w.WriteString("text", a.Words());
            w.WriteEndObject();
        }
        else w.WriteNull("captureArtefact");
    }

    private static void Endpoint(Utf8JsonWriter w, string name, Endpoint e)
    {
        w.WriteStartObject(name);
        w.WriteString("ip", e.Ip.ToString());
        w.WriteNumber("port", e.Port);
        w.WriteEndObject();
    }

    private static double Seconds(long nanos) => Math.Round(nanos / 1e9, 9);

    private static void Pair(Utf8JsonWriter w, string name, long c2s, long s2c)
    {
        w.WriteStartObject(name);
        w.WriteNumber("c2s", c2s);
        w.WriteNumber("s2c", s2c);
        w.WriteEndObject();
    }

    private static void NullableInt(Utf8JsonWriter w, string name, int v)
    {
        if (v == 0) w.WriteNull(name); else w.WriteNumber(name, v);
    }

    private static void WriteTime(Utf8JsonWriter w, string name, Timestamp? t)
    {
        if (t is { } v) WriteTime(w, name, v); else w.WriteNull(name);
    }

    /// <summary>A time as ISO 8601 UTC with nanoseconds (<see cref="Timestamp.ToIso8601"/>), formatted without a string.</summary>
    internal static void WriteTime(Utf8JsonWriter w, string name, Timestamp t)
    {
        Span<byte> text = stackalloc byte[Timestamp.Iso8601Length];
        t.FormatIso8601(text);
        w.WriteString(name, text);
    }
}
