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
        w.WriteString("schema"u8, Schema);

        w.WriteStartArray("inputs"u8);
        foreach (var a in analyses) WriteInput(w, a.Input, a.OffloadFrames, a.AckedUnseen);
        w.WriteEndArray();

        WriteStats(w, analyses);

        w.WriteStartArray("flows"u8);
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

        w.WriteStartArray("findings"u8);
        foreach (var a in analyses)
            foreach (var f in a.Findings) WriteFinding(w, f);
        w.WriteEndArray();

        w.WriteEndObject();
        w.Flush();
    }

    private static void WriteInput(Utf8JsonWriter w, InputSummary i, long offloadFrames = 0, long ackedUnseen = 0)
    {
        w.WriteStartObject();
        w.WriteString("path"u8, i.Path);
        if (i.Format is null) w.WriteNull("format"u8); else w.WriteString("format"u8, i.Format);
        w.WriteBoolean("compressed"u8, i.Compressed);
        w.WriteStartArray("linkTypes"u8);
        foreach (int lt in i.LinkTypes) w.WriteStringValue(LinkTypes.Name(lt));
        w.WriteEndArray();
        w.WriteNumber("packets"u8, i.Packets);
        w.WriteNumber("bytes"u8, i.Bytes);
        w.WriteNumber("capturedBytes"u8, i.CapturedBytes);
        WriteTime(w, "firstTime"u8, i.FirstTime);
        WriteTime(w, "lastTime"u8, i.LastTime);
        w.WriteBoolean("truncated"u8, i.Truncated);
        if (i.StopOffset >= 0) w.WriteNumber("stopOffset"u8, i.StopOffset);
        if (i.Error is null) w.WriteNull("error"u8); else w.WriteString("error"u8, i.Error);
        w.WriteNumber("offloadFrames"u8, offloadFrames);
        if (i.Info is { } info)
        {
            w.WriteStartArray("interfaces"u8);
            foreach (var itf in info.Interfaces)
            {
                w.WriteStartObject();
                w.WriteString("linkType"u8, LinkTypes.Name(itf.LinkType));
                w.WriteNumber("snapLength"u8, itf.SnapLength);
                if (itf.Name is not null) w.WriteString("name"u8, SafeText.Clean(itf.Name));
                if (itf.Description is not null) w.WriteString("description"u8, SafeText.Clean(itf.Description));
                if (itf.Statistics is { } st) WriteStatistics(w, st);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            if (info.LimitsHit.AnyHit) WriteLimits(w, info);
            if (info.Comments.Count > 0)
            {
                w.WriteStartArray("comments"u8);
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
        w.WriteStartObject("statistics"u8);
        WriteTime(w, "time"u8, s.Time);
        if (s.StartTime is { } start) WriteTime(w, "start"u8, start);
        if (s.EndTime is { } end) WriteTime(w, "end"u8, end);
        if (s.Received is { } r) w.WriteNumber("received"u8, r);
        if (s.InterfaceDropped is { } id) w.WriteNumber("interfaceDropped"u8, id);
        if (s.OsDropped is { } od) w.WriteNumber("osDropped"u8, od);
        if (s.FilterAccepted is { } fa) w.WriteNumber("filterAccepted"u8, fa);
        if (s.Delivered is { } d) w.WriteNumber("delivered"u8, d);
        w.WriteEndObject();
    }

    /// <summary>inputs[].limits: the metadata bounds that were hit (absent when none was).</summary>
    private static void WriteLimits(Utf8JsonWriter w, CaptureInfo info)
    {
        var h = info.LimitsHit;
        w.WriteStartObject("limits"u8);
        w.WriteNumber("sections"u8, info.Sections);
        w.WriteNumber("interfacesIgnored"u8, h.InterfacesIgnored);
        w.WriteNumber("packetsOnIgnoredInterfaces"u8, h.PacketsOnIgnoredInterfaces);
        w.WriteNumber("interfacesNotListed"u8, h.InterfacesNotListed);
        w.WriteNumber("sectionsNotDescribed"u8, h.SectionsNotDescribed);
        w.WriteNumber("optionTextBytesNotKept"u8, h.OptionTextBytesNotKept);
        w.WriteNumber("statisticsNotKept"u8, h.StatisticsNotKept);
        w.WriteNumber("timestampOffsetsIgnored"u8, h.TimestampOffsetsIgnored);
        if (h.FirstIgnoredTimestampOffset is { } o) w.WriteNumber("firstIgnoredTimestampOffset"u8, o);
        w.WriteEndObject();
    }

    /// <summary>inputs[].captureLoss: what the capture itself lost. "dropped" and the windows come from interface
    /// statistics (null when the input records none); "ackedUnseen" counts ACKs for data the capture never saw.</summary>
    private static void WriteCaptureLoss(Utf8JsonWriter w, CaptureDrops? d, long ackedUnseen)
    {
        w.WriteStartObject("captureLoss"u8);
        if (d is null)
        {
            w.WriteNull("source"u8);
            w.WriteNull("dropped"u8);
        }
        else
        {
            w.WriteString("source"u8, d.Source);
            w.WriteNumber("dropped"u8, d.Dropped);
            w.WriteNumber("received"u8, d.Received);
            w.WriteNumber("interfaceDropped"u8, d.InterfaceDropped);
            w.WriteNumber("osDropped"u8, d.OsDropped);
            w.WriteNumber("samples"u8, d.Samples);
            w.WriteStartArray("windows"u8);
            foreach (var win in d.Windows)
            {
                w.WriteStartObject();
                WriteTime(w, "from"u8, win.From);
                WriteTime(w, "to"u8, win.To);
                w.WriteNumber("dropped"u8, win.Dropped);
                w.WriteEndObject();
            }
            w.WriteEndArray();
        }
        w.WriteNumber("ackedUnseen"u8, ackedUnseen);
        w.WriteEndObject();
    }

    /// <summary>"join" and "selection", only when files were joined or frames selected (analyze --join, FILTER, -c,
    /// --since, --until): the input's packets and bytes are then those of the selected frames.</summary>
    private static void WriteSelection(Utf8JsonWriter w, InputSummary i)
    {
        if (i.JoinedFiles is { Count: > 1 } files)
        {
            w.WriteStartObject("join"u8);
            w.WriteString("reason"u8, i.JoinReason);
            w.WriteStartArray("files"u8);
            foreach (var f in files) w.WriteStringValue(f);
            w.WriteEndArray();
            w.WriteEndObject();
        }
        if (i.Selection is not { } sel) return;
        w.WriteStartObject("selection"u8);
        if (sel.Filter is null) w.WriteNull("filter"u8); else w.WriteString("filter"u8, sel.Filter);
        WriteTime(w, "since"u8, sel.SinceText is null ? null : sel.Since);
        WriteTime(w, "until"u8, sel.UntilText is null ? null : sel.Until);
        if (sel.Count > 0) w.WriteNumber("count"u8, sel.Count); else w.WriteNull("count"u8);
        w.WriteBoolean("stoppedAtCount"u8, sel.StoppedAtCount);
        w.WriteNumber("framesRead"u8, sel.FramesRead);
        if (sel.Problems.Count > 0)
        {
            w.WriteStartArray("problems"u8);
            foreach (var p in sel.Problems) w.WriteStringValue(p);
            w.WriteEndArray();
        }
        w.WriteEndObject();
    }

    private static void WriteStats(Utf8JsonWriter w, IReadOnlyList<CaptureAnalysis> analyses)
    {
        var t = Totals.Of(analyses);
        w.WriteStartObject("stats"u8);
        w.WriteNumber("packets"u8, t.Packets);
        w.WriteNumber("decoded"u8, t.Decoded);
        w.WriteNumber("notIp"u8, t.NotIp);
        w.WriteNumber("snapTruncated"u8, t.SnapTruncated);
        w.WriteNumber("ipv4ChecksumErrors"u8, t.Ipv4ChecksumErrors);
        w.WriteStartObject("malformed"u8);
        foreach (var kv in t.Malformed) w.WriteNumber(kv.Key, kv.Value);
        w.WriteEndObject();
        w.WriteStartObject("unsupportedLinkTypes"u8);
        foreach (var kv in t.Unsupported) w.WriteNumber(LinkTypes.Name(kv.Key), kv.Value);
        w.WriteEndObject();
        w.WriteStartObject("fragments"u8);
        w.WriteNumber("seen"u8, t.Fragments.Fragments);
        w.WriteNumber("datagramsCompleted"u8, t.Fragments.Completed);
        w.WriteNumber("incomplete"u8, t.Fragments.Incomplete);
        w.WriteNumber("timedOut"u8, t.Fragments.TimedOut);
        w.WriteNumber("openAtEnd"u8, t.Fragments.OpenAtEnd);
        w.WriteNumber("overlaps"u8, t.Fragments.Overlaps);
        w.WriteNumber("duplicates"u8, t.Fragments.Duplicates);
        w.WriteNumber("oversize"u8, t.Fragments.Oversize);
        w.WriteNumber("droppedMemoryBound"u8, t.Fragments.DroppedMemoryBound);
        w.WriteNumber("inconsistent"u8, t.Fragments.Inconsistent);
        w.WriteNumber("tooManyFragments"u8, t.Fragments.TooManyFragments);
        w.WriteNumber("badFragments"u8, t.Fragments.BadFragments);
        w.WriteNumber("atomicFragments"u8, t.Fragments.AtomicFragments);
        w.WriteEndObject();
        w.WriteNumber("flows"u8, t.Flows);
        w.WriteNumber("flowsEvicted"u8, t.FlowsEvicted);
        w.WriteNumber("flowsNotListed"u8, t.FlowsNotReported);
        WriteDnsStats(w, analyses);
        SmtpJson.WriteStats(w, analyses);
        EncapsulationReport.WriteJsonStats(w, analyses);
        w.WriteEndObject();
    }

    private static void WriteFlow(Utf8JsonWriter w, Flow f)
    {
        w.WriteStartObject();
        w.WriteNumber("id"u8, f.Id);
        w.WriteNumber("input"u8, f.InputIndex);
        w.WriteString("protocol"u8, f.ProtocolName);
        var facts = FlowFacts.Of(f);
        Endpoint(w, "client"u8, facts.Client);
        Endpoint(w, "server"u8, facts.Server);
        WriteTime(w, "start"u8, f.Start);
        WriteTime(w, "end"u8, f.End);
        w.WriteString("state"u8, EndName(f.EndReason));
        Pair(w, "packets"u8, f.ClientToServer.Packets, f.ServerToClient.Packets);
        Pair(w, "payloadBytes"u8, f.ClientToServer.PayloadBytes, f.ServerToClient.PayloadBytes);
        Pair(w, "frameBytes"u8, f.ClientToServer.FrameBytes, f.ServerToClient.FrameBytes);
        w.WriteStartObject("mss"u8);
        NullableInt(w, "c2s"u8, f.ClientToServer.Mss);
        NullableInt(w, "s2c"u8, f.ServerToClient.Mss);
        w.WriteEndObject();
        Pair(w, "maxSegment"u8, f.ClientToServer.MaxSegment, f.ServerToClient.MaxSegment);
        Pair(w, "maxIpPacket"u8, f.ClientToServer.MaxIpPacket, f.ServerToClient.MaxIpPacket);
        Pair(w, "maxFrame"u8, f.ClientToServer.MaxFrame, f.ServerToClient.MaxFrame);
        Pair(w, "dfPackets"u8, f.ClientToServer.DfPackets, f.ServerToClient.DfPackets);
        if (f.Application is null) w.WriteNull("application"u8); else w.WriteString("application"u8, f.Application);
        EncapsulationReport.WriteJsonFlow(w, f);
        if (f.Protocol == FlowProtocol.Tcp && f.Tcp is { } tcp) WriteTcp(w, f, tcp, facts);
        SmtpJson.WriteFlow(w, f, facts);
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
        w.WriteStartObject("dns"u8);
        w.WriteNumber("messages"u8, d.Messages);
        w.WriteNumber("queries"u8, d.Queries);
        w.WriteNumber("responses"u8, d.Responses);
        w.WriteNumber("malformed"u8, d.Malformed);
        w.WriteNumber("transactions"u8, d.Transactions);
        w.WriteNumber("notTracked"u8, d.NotTracked);
        w.WriteNumber("timedOut"u8, d.TimedOut);
        w.WriteNumber("findingsSuppressed"u8, d.FindingsSuppressed);
        w.WriteEndObject();
    }

    private static void WriteDns(Utf8JsonWriter w, DnsFlowState s)
    {
        w.WriteStartObject("dns"u8);
        w.WriteString("transport"u8, s.Transport == DnsTransport.Udp ? "udp" : "tcp");
        w.WriteNumber("queries"u8, s.Queries);
        w.WriteNumber("responses"u8, s.Responses);
        w.WriteNumber("malformed"u8, s.Malformed);
        w.WriteNumber("unmatchedResponses"u8, s.UnmatchedResponses);
        w.WriteNumber("notTracked"u8, s.NotTracked);
        w.WriteNumber("tcpStreamsLost"u8, s.TcpStreamsLost);
        w.WriteStartArray("transactions"u8);
        foreach (var t in s.Transactions)
        {
            w.WriteStartObject();
            w.WriteNumber("id"u8, t.Id);
            if (t.Name is null) w.WriteNull("name"u8); else w.WriteString("name"u8, SafeText.Clean(t.Name, 300));
            w.WriteString("type"u8, DnsTransaction.TypeName(t.Type));
            WriteTime(w, "time"u8, t.FirstSent);
            w.WriteNumber("sends"u8, t.Sends);
            w.WriteNumber("querySize"u8, t.QuerySize);
            if (t.QueryEdnsSize is { } e) w.WriteNumber("ednsSize"u8, e); else w.WriteNull("ednsSize"u8);
            w.WriteString("outcome"u8, DnsTransaction.OutcomeName(t.Outcome));
            if (t.AnsweredLate) w.WriteBoolean("answeredLate"u8, true);
            if (t.Response is { } r)
            {
                w.WriteStartObject("response"u8);
                WriteTime(w, "time"u8, r.Time);
                w.WriteNumber("responseTime"u8, Math.Round((r.Time.UnixNanoseconds - t.FirstSent.UnixNanoseconds) / 1e9, 6));
                w.WriteNumber("size"u8, r.Size);
                w.WriteString("rcode"u8, DnsTransaction.RcodeName(r.Rcode));
                w.WriteBoolean("truncated"u8, r.Truncated);
                w.WriteBoolean("authoritative"u8, r.Authoritative);
                w.WriteNumber("answers"u8, r.AnswerCount);
                w.WriteNumber("authority"u8, r.AuthorityCount);
                w.WriteNumber("additional"u8, r.AdditionalCount);
                if (r.EdnsSize is { } re) w.WriteNumber("ednsSize"u8, re); else w.WriteNull("ednsSize"u8);
                w.WriteBoolean("exceedsQueryEdns"u8, t.Transport == DnsTransport.Udp && r.Size > (t.QueryEdnsSize is { } qe ? Math.Max(qe, 512) : 512));
                w.WriteBoolean("fragmented"u8, r.Fragmented);
                if (r.Fragmented)
                {
                    w.WriteNumber("fragments"u8, r.FragmentCount);
                    w.WriteNumber("largestFragment"u8, r.LargestFragment);
                    w.WriteNumber("ipPacketLength"u8, r.IpPacketLength);
                }
                w.WriteStartArray("records"u8);
                r.Texts.WriteJson(w);
                w.WriteEndArray();
                if (r.RecordsNotListed > 0) w.WriteNumber("recordsNotListed"u8, r.RecordsNotListed);
                if (r.Malformed is not null) w.WriteString("malformed"u8, r.Malformed);
                w.WriteEndObject();
            }
            else w.WriteNull("response"u8);
            if (t.RetryOf is { } p) WriteLink(w, "retryOf"u8, p); else w.WriteNull("retryOf"u8);
            if (t.RetriedBy is { } n) WriteLink(w, "retriedBy"u8, n); else w.WriteNull("retriedBy"u8);
            if (t.AnswerDatagramsLost > 0) w.WriteNumber("answerDatagramsLost"u8, t.AnswerDatagramsLost);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteEndObject();
    }

    private static void WriteLink(Utf8JsonWriter w, ReadOnlySpan<byte> name, DnsTransaction t)
    {
        w.WriteStartObject(name);
        w.WriteNumber("flow"u8, t.FlowId);
        w.WriteNumber("id"u8, t.Id);
        w.WriteString("transport"u8, t.Transport == DnsTransport.Udp ? "udp" : "tcp");
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
        w.WriteStartObject("tcp"u8);
        w.WriteString("handshake"u8, HandshakeName(tcp.Handshake));
        w.WriteBoolean("reusedPorts"u8, f.ReusedPorts);
        if (tcp.TsFirstRtt > 0) w.WriteNumber("initialRtt"u8, Seconds(tcp.TsFirstRtt)); else w.WriteNull("initialRtt"u8);
        // The flow's RTT (the same number as the flow table, the TUI and the findings).
        if (facts.RttNanos >= 0) w.WriteNumber("rtt"u8, Seconds(facts.RttNanos)); else w.WriteNull("rtt"u8);
        if (tcp.LongestGapOutstanding > 0)
        {
            w.WriteStartObject("longestGapOutstanding"u8);
            w.WriteNumber("duration"u8, Seconds(tcp.LongestGapOutstanding));
            WriteTime(w, "start"u8, new Timestamp(tcp.LongestGapStart));
            w.WriteEndObject();
        }
        else w.WriteNull("longestGapOutstanding"u8);
        WriteEndpoint(w, "c2s"u8, tcp.Client);
        WriteEndpoint(w, "s2c"u8, tcp.Server);
        w.WriteEndObject();
    }

    private static void WriteEndpoint(Utf8JsonWriter w, ReadOnlySpan<byte> name, TcpEndpointState e)
    {
        var k = e.Counters;
        w.WriteStartObject(name);
        w.WriteNumber("dataSegments"u8, k.DataSegments);
        w.WriteNumber("retransmissions"u8, k.Retransmissions);
        w.WriteNumber("fastRetransmissions"u8, k.FastRetransmissions);
        w.WriteNumber("spuriousRetransmissions"u8, k.SpuriousRetransmissions);
        w.WriteNumber("fullSizeRetransmissions"u8, k.LargeRetransmissions);
        w.WriteNumber("outOfOrder"u8, k.OutOfOrder);
        w.WriteNumber("duplicateAcks"u8, k.DuplicateAcks);
        w.WriteNumber("maxDuplicateAckNumber"u8, k.MaxDuplicateAckNumber);
        w.WriteNumber("lostSegments"u8, k.LostSegments);
        w.WriteNumber("ackedUnseen"u8, k.AckedUnseen);
        w.WriteNumber("zeroWindows"u8, k.ZeroWindows);
        w.WriteNumber("zeroWindowProbes"u8, k.ZeroWindowProbes);
        w.WriteNumber("zeroWindowProbeAcks"u8, k.ZeroWindowProbeAcks);
        w.WriteNumber("windowFull"u8, k.WindowFull);
        w.WriteNumber("windowUpdates"u8, k.WindowUpdates);
        w.WriteNumber("keepAlives"u8, k.KeepAlives);
        w.WriteNumber("keepAliveAcks"u8, k.KeepAliveAcks);
        w.WriteNumber("maxBytesInFlight"u8, k.MaxBytesInFlight);
        if (e.WinScale >= 0) w.WriteNumber("windowScale"u8, e.WinScale); else w.WriteNull("windowScale"u8);
        w.WriteStartObject("rtt"u8);
        w.WriteNumber("samples"u8, e.Rtt.Count);
        if (e.Rtt.Count > 0)
        {
            w.WriteNumber("min"u8, Seconds(e.Rtt.MinNanos));
            w.WriteNumber("median"u8, Seconds(e.Rtt.MedianNanos()));
            w.WriteNumber("max"u8, Seconds(e.Rtt.MaxNanos));
            w.WriteBoolean("medianExact"u8, e.Rtt.MedianIsExact);
        }
        w.WriteEndObject();
        var s = e.WorstSeries;
        if (s.Resends > 0)
        {
            w.WriteStartObject("longestRetransmissionSeries"u8);
            w.WriteNumber("resends"u8, s.Resends);
            // The size on the wire: a TSO/GSO super-frame of the capture host is never one (counted apart).
            w.WriteNumber("ipPacketSize"u8, s.ReportedIpPacketSize);
            w.WriteNumber("superFrameSends"u8, s.SuperFrameSends);
            WriteTime(w, "firstSent"u8, new Timestamp(s.First));
            w.WriteStartArray("intervals"u8);
            foreach (long d in s.IntervalsNanos()) w.WriteNumberValue(Seconds(d));
            w.WriteEndArray();
            w.WriteBoolean("backoff"u8, s.LooksLikeBackoff);
            w.WriteBoolean("acknowledged"u8, s.Acknowledged);
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
        w.WriteNumber("id"u8, f.Id);
        w.WriteString("kind"u8, f.Name);
        w.WriteString("severity"u8, FindingKinds.SeverityName(f.Severity));
        w.WriteString("state"u8, f.State == FindingState.Open ? "open" : "closed");
        w.WriteNumber("version"u8, f.Version);
        w.WriteString("title"u8, f.Kind.Info().Title);
        w.WriteStartArray("flows"u8);
        foreach (int id in f.Flows) w.WriteNumberValue(id);
        w.WriteEndArray();
        WriteTime(w, "time"u8, f.Time);
        w.WriteString("summary"u8, f.Summary);
        w.WritePropertyName("evidence"u8);
        w.WriteStartObject();
        f.Kind.Writer().Evidence(new EvidenceWriter(w), f);
        w.WriteEndObject();
        if (f.Advice is null) w.WriteNull("advice"u8); else w.WriteString("advice"u8, f.Advice);
        if (f.CaptureArtefact is { } a)
        {
            w.WriteStartObject("captureArtefact"u8);
            w.WriteNumber("dropped"u8, a.Dropped);
            if (a.DropSource is null) w.WriteNull("dropSource"u8); else w.WriteString("dropSource"u8, a.DropSource);
            w.WriteNumber("ackedUnseen"u8, a.AckedUnseen);
            w.WriteString("text"u8, a.Words());
            w.WriteEndObject();
        }
        else w.WriteNull("captureArtefact"u8);
    }

    private static void Endpoint(Utf8JsonWriter w, ReadOnlySpan<byte> name, Endpoint e)
    {
        w.WriteStartObject(name);
        WriteAddress(w, "ip"u8, e.Ip);
        w.WriteNumber("port"u8, e.Port);
        w.WriteEndObject();
    }

    /// <summary>An address as its text (<see cref="IpAddress.ToString"/>), formatted into a stack buffer.</summary>
    internal static void WriteAddress(Utf8JsonWriter w, ReadOnlySpan<byte> name, IpAddress address)
    {
        Span<char> text = stackalloc char[IpAddress.MaxTextLength];
        w.WriteString(name, text[..address.Format(text)]);
    }

    private static double Seconds(long nanos) => Math.Round(nanos / 1e9, 9);

    private static void Pair(Utf8JsonWriter w, ReadOnlySpan<byte> name, long c2s, long s2c)
    {
        w.WriteStartObject(name);
        w.WriteNumber("c2s"u8, c2s);
        w.WriteNumber("s2c"u8, s2c);
        w.WriteEndObject();
    }

    private static void NullableInt(Utf8JsonWriter w, ReadOnlySpan<byte> name, int v)
    {
        if (v == 0) w.WriteNull(name); else w.WriteNumber(name, v);
    }

    internal static void WriteTime(Utf8JsonWriter w, ReadOnlySpan<byte> name, Timestamp? t)
    {
        if (t is { } v) WriteTime(w, name, v); else w.WriteNull(name);
    }

    /// <summary>A time as ISO 8601 UTC with nanoseconds (<see cref="Timestamp.ToIso8601"/>), formatted without a string.</summary>
    internal static void WriteTime(Utf8JsonWriter w, ReadOnlySpan<byte> name, Timestamp t)
    {
        Span<byte> text = stackalloc byte[Timestamp.Iso8601Length];
        t.FormatIso8601(text);
        w.WriteString(name, text);
    }
}
