using System.Globalization;
using PathProbe.Findings;
using PathProbe.Flows;
using PathProbe.Flows.Timeline;
using PathProbe.Primitives;
using PathProbe.Protocols.Smtp;

namespace PathProbe.Cli.Tui.Model;

/// <summary>
/// Turns engine state into snapshot parts. Runs on the thread that owns the flows (the capture thread when live). Rows
/// are cached per flow and rebuilt only when the flow saw packets or its verdicts changed, so a live snapshot of 100 000
/// mostly idle flows costs little more than walking them.
/// </summary>
public sealed class SnapshotBuilder
{
    /// <summary>Most transcript lines kept in a flow detail.</summary>
    public const int MaxTranscriptLines = 4000;

    private readonly Dictionary<int, (long Packets, int Severity, string Kinds, FlowRow Row)> _cache = new();
    private Dictionary<int, (int Worst, string Kinds)> _byFlow = new();

    /// <summary>Indexes verdicts by flow: worst severity and kinds per flow.</summary>
    public void IndexVerdicts(IReadOnlyList<TuiVerdict> verdicts)
    {
        var byFlow = new Dictionary<int, (int Worst, string Kinds)>();
        foreach (var v in verdicts)
            foreach (int id in v.Flows)
            {
                if (byFlow.TryGetValue(id, out var e))
                    byFlow[id] = (Math.Max(e.Worst, (int)v.Severity), e.Kinds.Split(' ').Contains(v.Kind) ? e.Kinds : e.Kinds + " " + v.Kind);
                else byFlow[id] = ((int)v.Severity, v.Kind);
            }
        _byFlow = byFlow;
    }

    /// <summary>The row of <paramref name="flow"/>, from the cache when nothing changed.</summary>
    public FlowRow Row(Flow flow)
    {
        int severity = -1;
        string kinds = "";
        if (_byFlow.TryGetValue(flow.Id, out var v)) { severity = v.Worst; kinds = v.Kinds; }
        if (_cache.TryGetValue(flow.Id, out var c) && c.Packets == flow.Packets && c.Severity == severity && string.Equals(c.Kinds, kinds, StringComparison.Ordinal))
            return c.Row;
        var row = FlowRows.Row(flow, severity, kinds);
        _cache[flow.Id] = (flow.Packets, severity, kinds, row);
        return row;
    }

    public int CachedRows => _cache.Count;

    /// <summary>Forgets cached rows of flows not in <paramref name="keep"/> (flow records recycled past the report limit).</summary>
    public void Prune(HashSet<int> keep)
    {
        if (_cache.Count <= keep.Count) return;
        foreach (int id in _cache.Keys.Where(id => !keep.Contains(id)).ToList()) _cache.Remove(id);
    }

    /// <summary>Everything the flow view needs of <paramref name="flow"/>, copied.</summary>
    public static FlowDetail BuildDetail(Flow flow, FlowRow row, IReadOnlyList<TuiVerdict> allVerdicts)
    {
        var verdicts = allVerdicts.Where(v => v.Flows.Contains(flow.Id)).ToList();
        var tl = flow.Timeline is { } t && t.FlowId == flow.Id ? t : null;
        var session = flow.App is ISmtpSessionSource { Session: { } s } ? s : null;
        bool tcp = flow.Protocol == FlowProtocol.Tcp;
        var facts = FlowFacts.Of(flow); // the flow's own numbers, as the report and the findings read them
        return new FlowDetail
        {
            Row = row,
            Start = flow.Start.UnixNanoseconds,
            End = flow.End.UnixNanoseconds,
            Tcp = tcp,
            ClientSendsMore = flow.ClientToServer.PayloadBytes >= flow.ServerToClient.PayloadBytes,
            ClientToServer = Direction(flow, facts, clientToServer: true),
            ServerToClient = Direction(flow, facts, clientToServer: false),
            Points = tl?.CopyPoints() ?? [],
            PacketsPerPoint = tl?.PacketsPerPoint ?? 1,
            Marks = session is not null ? SmtpMarks(session) : PhaseMarks(tl),
            Verdicts = verdicts,
            Transcript = session is not null ? Transcript(session) : [],
            NoTimeline = !tcp ? $"no graphs: {flow.ProtocolName} flow (timelines are kept for TCP)" : tl is null ? "no timeline recorded for this flow" : null,
            Key = flow.Key,
            ClientIp = flow.ClientAddress,
            ServerIp = flow.ServerAddress,
            IpProtocol = flow.Key.Protocol,
            WiresharkFilter = WiresharkFilter(flow),
        };
    }

    private static DirectionFacts Direction(Flow flow, FlowFacts facts, bool clientToServer)
    {
        ref readonly DirectionStats send = ref clientToServer ? ref flow.ClientToServer : ref flow.ServerToClient;
        ref readonly DirectionStats recv = ref clientToServer ? ref flow.ServerToClient : ref flow.ClientToServer;
        // The MSS counts the payload of a segment without TCP options (RFC 6691 2): as a packet it is MSS + the fixed IP
        // and TCP headers of the flow's IP version.
        int header = flow.ClientAddress.IsV4 ? 40 : 60;
        var endpoint = flow.Tcp is null ? null : clientToServer ? flow.Tcp.Client : flow.Tcp.Server;
        return new DirectionFacts
        {
            Mss = recv.Mss,
            HeaderBytes = header,
            PayloadBytes = send.PayloadBytes,
            Retransmissions = facts.Retransmissions.Of(clientToServer),
            RttMedianMs = endpoint is { Rtt.Count: > 0 } e ? e.Rtt.MedianNanos() / 1e6 : double.NaN,
            RttSamples = endpoint?.Rtt.Count ?? 0,
        };
    }

    /// <summary>Wireshark's conversation filter for the flow (independent of tcp.stream numbering; ip.addr also matches
    /// the header quoted inside an ICMP error, so the too-big messages about the flow are selected too).</summary>
    public static string WiresharkFilter(Flow f)
    {
        string ip = f.ClientAddress.IsV4 ? "ip.addr" : "ipv6.addr";
        return f.Protocol switch
        {
            FlowProtocol.Tcp => $"{ip}=={f.ClientAddress} && tcp.port=={f.ClientPort} && {ip}=={f.ServerAddress} && tcp.port=={f.ServerPort}",
            FlowProtocol.Udp => $"{ip}=={f.ClientAddress} && udp.port=={f.ClientPort} && {ip}=={f.ServerAddress} && udp.port=={f.ServerPort}",
            _ => $"{ip}=={f.ClientAddress} && {ip}=={f.ServerAddress} && {(f.ClientAddress.IsV4 ? "icmp" : "icmpv6")}",
        };
    }

    /// <summary>
    /// The steps of the SMTP dialogue at the times they happened: G greeting, E EHLO/HELO, T STARTTLS, A AUTH, M MAIL,
    /// R first RCPT of a transaction, D DATA (or first BDAT), 3 the 354 (the body follows), . end of data, F the final
    /// reply, Q QUIT.
    /// </summary>
    public static List<AxisMark> SmtpMarks(SmtpSession s)
    {
        var marks = new List<AxisMark>();
        if (s.Greeting is { } g) marks.Add(new AxisMark(g.Time.UnixNanoseconds, 'G', "greeting " + g.Code.ToString(CultureInfo.InvariantCulture)));
        bool rcptMarked = false;
        foreach (var c in s.Commands)
        {
            switch (c.Verb)
            {
                case "EHLO" or "HELO": marks.Add(new AxisMark(c.Time.UnixNanoseconds, 'E', c.Verb)); break;
                case "STARTTLS": marks.Add(new AxisMark(c.Time.UnixNanoseconds, 'T', "STARTTLS")); break;
                case "AUTH": marks.Add(new AxisMark(c.Time.UnixNanoseconds, 'A', "AUTH")); break;
                case "MAIL": marks.Add(new AxisMark(c.Time.UnixNanoseconds, 'M', "MAIL")); rcptMarked = false; break;
                case "RCPT" when !rcptMarked: marks.Add(new AxisMark(c.Time.UnixNanoseconds, 'R', "RCPT")); rcptMarked = true; break;
                case "QUIT": marks.Add(new AxisMark(c.Time.UnixNanoseconds, 'Q', "QUIT")); break;
            }
        }
        foreach (var tx in s.Transactions)
        {
            if (tx.DataCommandTime is { } d) marks.Add(new AxisMark(d.UnixNanoseconds, 'D', tx.UsedBdat ? "BDAT" : "DATA"));
            if (tx.DataStartTime is { } b) marks.Add(new AxisMark(b.UnixNanoseconds, '3', "354: the body follows"));
            if (tx.DataEndTime is { } e) marks.Add(new AxisMark(e.UnixNanoseconds, '.', "end of data"));
            if (tx.FinalReply is { } r) marks.Add(new AxisMark(r.Time.UnixNanoseconds, 'F', "final reply " + r.Code.ToString(CultureInfo.InvariantCulture)));
        }
        marks.Sort((a, b) => a.Time.CompareTo(b.Time));
        return marks;
    }

    /// <summary>Without an SMTP session: the application phases the timeline recorded (first letter of each).</summary>
    private static List<AxisMark> PhaseMarks(FlowTimeline? tl)
    {
        var marks = new List<AxisMark>();
        if (tl is null) return marks;
        foreach (var p in tl.Phases)
        {
            string name = SafeText.Clean(p.Phase, 40);
            if (name.Length > 0) marks.Add(new AxisMark(p.Time, char.ToUpperInvariant(name[0]), name));
        }
        return marks;
    }

    /// <summary>Greeting, commands and replies with their times; message content is never kept by the session.</summary>
    public static List<TranscriptLine> Transcript(SmtpSession s)
    {
        var lines = new List<TranscriptLine>();
        if (s.Greeting is { } g) lines.Add(new TranscriptLine(g.Time.UnixNanoseconds, false, Reply(g)));
        foreach (var c in s.Commands)
        {
            if (lines.Count >= MaxTranscriptLines) break;
            if (c.Verb.Length > 0)
            {
                string text = c.Verb == "." ? "<end of data>" : c.Argument is null ? c.Verb : c.Verb + " " + c.Argument;
                lines.Add(new TranscriptLine(c.Time.UnixNanoseconds, true, SafeText.Clean(text, 300)));
            }
            if (c.Intermediate is { } i) lines.Add(new TranscriptLine(i.Time.UnixNanoseconds, false, Reply(i)));
            if (c.Reply is { } r && !ReferenceEquals(r, c.Intermediate)) lines.Add(new TranscriptLine(r.Time.UnixNanoseconds, false, Reply(r)));
        }
        return lines;
    }

    private static string Reply(SmtpReply r) =>
        SafeText.Clean(r.Code.ToString(CultureInfo.InvariantCulture) + (r.EnhancedCode is null ? "" : " " + r.EnhancedCode) +
                       (r.Text.Length > 0 ? " " + r.Text : "") + (r.Lines > 1 ? $" (+{r.Lines - 1} lines)" : ""), 300);
}
