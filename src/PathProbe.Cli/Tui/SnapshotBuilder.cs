using System.Globalization;
using System.Text;
using PathProbe.Findings;
using PathProbe.Findings.Kinds;
using PathProbe.Flows;
using PathProbe.Primitives;
using PathProbe.Protocols.Smtp;

namespace PathProbe.Cli.Tui;

/// <summary>
/// Turns engine state into <see cref="TuiSnapshot"/> parts. Must run on the thread that owns the flows (the capture
/// thread when live). Rows are cached per flow and rebuilt only when the flow saw packets or findings since, so a
/// live snapshot of 100 000 mostly idle flows costs little more than walking them.
/// </summary>
public sealed class SnapshotBuilder
{
    /// <summary>Most transcript lines kept in a flow detail.</summary>
    public const int MaxTranscriptLines = 4000;

    private readonly Dictionary<int, (long Packets, int FindingsSeen, FlowRow Row)> _cache = new();
    private readonly Dictionary<int, (Severity Worst, int Count, string Kinds)> _byFlow = new();
    private int _findingsIndexed;

    /// <summary>Indexes findings by flow. Findings change in place (a new version with the same id), so the index is
    /// rebuilt when any changed; the version sum tells.</summary>
    public void IndexFindings(IReadOnlyList<Finding> findings)
    {
        long versions = 0;
        foreach (var f in findings) versions += f.Version;
        if (findings.Count == _findingsIndexed && versions == _versionsIndexed) return;
        _byFlow.Clear();
        foreach (var f in findings)
            foreach (int id in f.Flows)
            {
                if (_byFlow.TryGetValue(id, out var e))
                    _byFlow[id] = (f.Severity > e.Worst ? f.Severity : e.Worst, e.Count + f.Version, e.Kinds.Split(' ').Contains(f.Name) ? e.Kinds : e.Kinds + " " + f.Name);
                else _byFlow[id] = (f.Severity, f.Version, f.Name);
            }
        _findingsIndexed = findings.Count;
        _versionsIndexed = versions;
    }

    private long _versionsIndexed;

    /// <summary>The row of <paramref name="flow"/>, from the cache when nothing changed.</summary>
    public FlowRow Row(Flow flow)
    {
        _byFlow.TryGetValue(flow.Id, out var fi);
        if (_cache.TryGetValue(flow.Id, out var c) && c.Packets == flow.Packets && c.FindingsSeen == fi.Count) return c.Row;
        var row = BuildRow(flow, fi.Count > 0 ? (int)fi.Worst : -1, fi.Kinds);
        _cache[flow.Id] = (flow.Packets, fi.Count, row);
        return row;
    }

    public int CachedRows => _cache.Count;

    /// <summary>Forgets cached rows of flows not in <paramref name="keep"/> (flow records recycled past the report limit).</summary>
    public void Prune(HashSet<int> keep)
    {
        if (_cache.Count <= keep.Count) return;
        foreach (int id in _cache.Keys.Where(id => !keep.Contains(id)).ToList()) _cache.Remove(id);
    }

    public static FlowRow BuildRow(Flow f, int severity, string? kinds)
    {
        bool clientSends = f.ClientToServer.PayloadBytes >= f.ServerToClient.PayloadBytes;
        ref DirectionStats send = ref clientSends ? ref f.ClientToServer : ref f.ServerToClient;
        ref DirectionStats recv = ref clientSends ? ref f.ServerToClient : ref f.ClientToServer;
        // The flow's own numbers, as the report and the JSON read them: the retransmitted share of the direction that
        // sent more data, and the flow's RTT.
        var facts = FlowFacts.Of(f);
        double share = facts.RetransmissionShare(clientSends);
        double rtt = facts.RttNanos >= 0 ? facts.RttNanos / 1e6 : double.NaN;
        string app = ApplicationText(f);
        // A stall that never recovered leaves the flow open with a stall finding: say so.
        string state = f.EndReason == FlowEnd.Open && kinds is not null && kinds.Split(' ').Contains("stall") ? "stalled" : StateText(f);
        string client = f.ClientEndpoint, server = f.ServerEndpoint;
        return new FlowRow
        {
            Id = f.Id,
            Protocol = f.ProtocolName,
            Client = client,
            Server = server,
            ServerAddress = f.ServerAddress.ToString(),
            Application = app,
            State = state,
            Bytes = f.ClientToServer.PayloadBytes + f.ServerToClient.PayloadBytes,
            Packets = f.Packets,
            RetransmissionShare = share,
            MaxSegment = send.MaxSegment,
            Mss = recv.Mss,
            RttMs = rtt,
            Severity = severity,
            Start = f.Start.UnixNanoseconds,
            SearchText = string.Join(' ', "#" + f.Id.ToString(CultureInfo.InvariantCulture), client, server, f.ProtocolName, app, state,
                severity >= 0 ? FindingKinds.SeverityName((Severity)severity) : "", kinds ?? "").ToLowerInvariant(),
        };
    }

    private static string StateText(Flow f)
    {
        if (f.Tcp is { RefusedByReset: true }) return "refused";
        return f.EndReason switch
        {
            FlowEnd.Open => f.Protocol == FlowProtocol.Tcp && f.Tcp is { } t && t.Handshake is Flows.Tcp.TcpHandshake.SynSent ? "syn-sent" : "open",
            FlowEnd.Fin => "closed",
            FlowEnd.Reset => "reset",
            FlowEnd.IdleTimeout => "idle",
            FlowEnd.Evicted => "evicted",
            FlowEnd.Reused => "reused",
            _ => "?",
        };
    }

    /// <summary>SMTP: "EHLO-name sender → N rcpt"; otherwise the application by port. Cleaned for a terminal.</summary>
    public static string ApplicationText(Flow f)
    {
        if (f.App is ISmtpSessionSource { Session: { } s })
        {
            var sb = new StringBuilder("smtp");
            if (s.EhloName is { } ehlo) sb.Append(' ').Append(ehlo);
            if (s.CurrentTransaction is { } tx)
            {
                int rcpt = 0;
                foreach (var t in s.Transactions) rcpt += t.Recipients.Count + t.RecipientsNotKept;
                sb.Append(' ').Append(tx.Sender.Length == 0 ? "<>" : tx.Sender).Append(" → ").Append(rcpt.ToString(CultureInfo.InvariantCulture)).Append(" rcpt");
            }
            if (s.TlsStarted || s.ImplicitTls) sb.Append(" tls");
            return SafeText.Clean(sb.ToString(), 200);
        }
        return SafeText.Clean(f.Application ?? "", 200);
    }

    /// <summary>Everything the flow view needs of <paramref name="flow"/>, copied.</summary>
    public static FlowDetail BuildDetail(Flow flow, FlowRow row, IReadOnlyList<Finding> allFindings)
    {
        var findings = new List<Finding>();
        foreach (var f in allFindings)
            foreach (int id in f.Flows)
                if (id == flow.Id) { findings.Add(f); break; }

        bool clientSends = flow.ClientToServer.PayloadBytes >= flow.ServerToClient.PayloadBytes;
        ref DirectionStats send = ref clientSends ? ref flow.ClientToServer : ref flow.ServerToClient;
        ref DirectionStats recv = ref clientSends ? ref flow.ServerToClient : ref flow.ClientToServer;
        // An MSS invites packets of MSS + TCP header (20) + IP header (RFC 879), as the mss-mismatch finding says.
        int header = FlowFacts.PacketSizeForMss(0, flow.ClientAddress.IsV4);
        var tl = flow.Timeline is { } t && t.FlowId == flow.Id ? t : null;
        return new FlowDetail
        {
            Row = row,
            Start = flow.Start.UnixNanoseconds,
            End = flow.End.UnixNanoseconds,
            ClientSends = clientSends,
            Mss = recv.Mss,
            HeaderBytes = header,
            Ceiling = Ceiling(findings),
            Points = tl?.CopyPoints() ?? [],
            Phases = tl?.CopyPhases() ?? [],
            PacketsPerPoint = tl?.PacketsPerPoint ?? 1,
            Findings = findings,
            Transcript = flow.App is ISmtpSessionSource { Session: { } s } ? Transcript(s) : [],
            NoTimeline = flow.Protocol != FlowProtocol.Tcp ? $"no timeline: {flow.ProtocolName} flow (timelines are kept for TCP)"
                : tl is null ? "no timeline recorded for this flow" : null,
        };
    }

    /// <summary>
    /// The path-MTU ceiling of an <c>mtu-blackhole</c> finding, in IP packet bytes: its evidence <c>pathMtu</c> holds
    /// the range the path MTU lies in (<c>min</c> got through, nothing above <c>max</c> did), so packets of
    /// <c>max + 1</c> bytes or more never got through; with only <c>min</c>, the line is drawn at <c>min</c>. 0 when none.
    /// </summary>
    public static int Ceiling(IEnumerable<Finding> findings)
    {
        foreach (var f in findings)
        {
            if (f.Kind != FindingKind.MtuBlackhole) continue;
            var v = f.Verdict<BlackHoleVerdict>();
            if (v.Max > 0) return v.Max + 1;
            if (v.Min > 0) return v.Min;
        }
        return 0;
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
