using PathProbe.Advice;
using System.Globalization;
using System.Text;
using PathProbe.Analysis.Dns;
using PathProbe.Capture;
using PathProbe.Findings;
using PathProbe.Findings.Kinds;
using PathProbe.Flows;
using PathProbe.Pipeline;
using PathProbe.Primitives;
using static PathProbe.Findings.FindingText;

namespace PathProbe.Reports;

/// <summary>How the flow table is sorted.</summary>
public enum FlowSort : byte
{
    /// <summary>Worst finding naming the flow first, then by id.</summary>
    Worst,
    Id,
    /// <summary>Most bytes first.</summary>
    Bytes,
    /// <summary>Earliest first.</summary>
    Start,
}

/// <summary>The report for people: what is broken first (a black hole's headline, the findings), then the mail log,
/// then the flows. Plain text, no colour, so it reads the same in a terminal, a pager, a mail or a ticket. Lines wrap
/// to <see cref="Options.Width"/> except the flow table's rows.</summary>
public static class TextReport
{
    public sealed class Options
    {
        /// <summary>Flow rows printed at most (the JSON always has all of them).</summary>
        public int MaxFlowRows { get; init; } = 50;
        /// <summary>Mail lines of successful transactions and sessions without one, after those that did not succeed.</summary>
        public int MailRows { get; init; } = 20;
        public FlowSort Sort { get; init; } = FlowSort.Worst;
        /// <summary>Line width (the terminal's, 80 when not a terminal).</summary>
        public int Width { get; init; } = 80;
    }

    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static void Write(TextWriter o, IReadOnlyList<CaptureAnalysis> analyses, Options? options = null)
    {
        options ??= new Options();
        int width = Math.Max(40, options.Width);
        var findings = analyses.SelectMany(a => a.Findings).OrderByDescending(f => f.Severity).ThenBy(f => f.Time).ThenBy(f => f.Id).ToList();
        WriteHeadlines(o, findings, width);
        foreach (var a in analyses)
        {
            WriteInput(o, a.Input, width);
            WriteCaptureLoss(o, a, width);
            if (a.OffloadFrames > 0)
                Wrap(o, "           ", $"note: {N(a.OffloadFrames)} TCP segments are longer than the MSS their receiver advertised: segmentation offload " +
                            "(TSO/GSO/GRO) on the capture host, not packets on the wire; they are not used as path-MTU evidence " +
                            "(`ethtool -K IFACE tso off gso off gro off` before capturing shows wire-sized frames)", width);
        }

        var t = Totals.Of(analyses);
        o.WriteLine();
        Wrap(o, "Packets    ", $"{N(t.Packets)} read, {N(t.Decoded)} IP packets decoded, {N(t.NotIp)} not IP" +
                    (t.UnsupportedTotal > 0 ? $", {N(t.UnsupportedTotal)} on unsupported link types ({string.Join(", ", t.Unsupported.Select(kv => $"{LinkTypes.Name(kv.Key)} {N(kv.Value)}"))})" : ""), width);
        EncapsulationReport.WriteTextSummary(o, analyses, width);
        Wrap(o, "Anomalies  ", $"{N(t.MalformedTotal)} malformed" +
                    (t.Malformed.Count > 0 ? " (" + string.Join(", ", t.Malformed.Select(kv => $"{kv.Key} {N(kv.Value)}")) + ")" : "") +
                    $"; {N(t.Ipv4ChecksumErrors)} IPv4 header checksum errors; {N(t.SnapTruncated)} frames cut by the snap length", width);
        var fr = t.Fragments;
        Wrap(o, "Fragments  ", fr.Fragments == 0
            ? "none"
            : $"{N(fr.Fragments)} seen, {N(fr.Completed)} datagrams reassembled, {N(fr.Incomplete)} incomplete " +
              $"({N(fr.TimedOut)} timed out, {N(fr.OpenAtEnd)} open at the end), {N(fr.Overlaps)} overlaps, {N(fr.Duplicates)} duplicates, {N(fr.Oversize)} oversize" +
              (fr.DroppedMemoryBound + fr.Inconsistent + fr.TooManyFragments + fr.BadFragments > 0
                  ? $", dropped: {N(fr.DroppedMemoryBound)} memory bound, {N(fr.Inconsistent)} inconsistent, {N(fr.TooManyFragments)} too many fragments, {N(fr.BadFragments)} bad" : ""), width);
        Wrap(o, "Flows      ", N(t.Flows) + (t.FlowsEvicted > 0 ? $", {N(t.FlowsEvicted)} evicted because the flow table was full" : "") +
                    (t.FlowsNotReported > 0 ? $", {N(t.FlowsNotReported)} not listed (report limit)" : ""), width);
        WriteDnsLine(o, analyses, width);

        WriteFindings(o, findings, width);
        MailReport.Write(o, analyses, options.MailRows, width);
        WriteFlows(o, analyses, findings, options);
    }

    private static void WriteFindings(TextWriter o, List<Finding> findings, int width)
    {
        o.WriteLine();
        if (findings.Count == 0) { o.WriteLine("Findings   none"); return; }
        var bySeverity = findings.GroupBy(f => f.Severity).OrderByDescending(g => g.Key).Select(g => $"{N(g.Count())} {FindingKinds.SeverityName(g.Key)}");
        o.WriteLine($"Findings ({string.Join(", ", bySeverity)}; most severe first)");
        foreach (var f in findings)
        {
            Wrap(o, "  ", $"[{FindingKinds.SeverityName(f.Severity)}] {f.Name}: {f.Summary}", width, "      ");
            if (f.CaptureArtefact is { } artefact) Wrap(o, "      note: ", artefact.Words(), width);
            // The black hole's fix is in its headline at the top: said once.
            if (f.Kind == FindingKind.MtuBlackhole) Wrap(o, "      fix: ", "see PATH-MTU BLACK HOLE at the top", width);
            else if (f.Advice is not null) Wrap(o, "      fix: ", f.Advice, width);
        }
    }

    /// <summary>A path-MTU black hole leads the report, in words for whoever is on call: what is broken, between
    /// whom, since when, how sure, and the one command that makes mail flow again.</summary>
    private static void WriteHeadlines(TextWriter o, List<Finding> findings, int width)
    {
        foreach (var f in findings.Where(f => f.Kind == FindingKind.MtuBlackhole))
        {
            var v = f.Verdict<BlackHoleVerdict>();
            Wrap(o, "", $"PATH-MTU BLACK HOLE ({FindingKinds.SeverityName(f.Severity)}, confidence {(v.Confidence == Confidence.High ? "high" : "medium")}, " +
                        $"seen from the {(v.ReceiverVantage ? "receiver" : "sender")}{(f.Ongoing ? ", ongoing" : "")})", width);
            Wrap(o, "  What:    ", f.Summary, width);
            Wrap(o, "  Effect:  ", v.AllRecovered
                ? "connections recovered only after losing time to timeouts; mail with large messages is slow, and stacks without PLPMTUD would hang"
                : "small mails get through; mails with attachments (full-size packets) hang in DATA until the sender gives up and retries later, again and again", width);
            Wrap(o, "  Since:   ", Time(v.Since) + " UTC (first packet that never arrived)", width);
            Wrap(o, "  Attack?  ", "no: the retransmissions come from the senders' own TCP stacks resending data that the path drops", width);
            if (f.CaptureArtefact is { } artefact) Wrap(o, "  Capture: ", artefact.Words(), width);
            WriteFixes(o, v, width);
            if (f.Advice is not null) Wrap(o, "  Then:    ", f.Advice, width);
            o.WriteLine();
        }
    }

    /// <summary>The black hole's fixes per place (this host first, then the other end, then the router), each place's in
    /// the order to try them: nft, iptables, ip route. A fix's commands are one line, unwrapped, to paste into a root
    /// shell on that host; its undo follows.</summary>
    private static void WriteFixes(TextWriter o, BlackHoleVerdict v, int width)
    {
        if (v.Fixes is not { } plan || plan.Fixes.Count == 0) return;
        var here = v.ReceiverVantage ? FixSite.Receiver : FixSite.Sender;
        string Host(FixSite site) => site switch
        {
            FixSite.Sender => v.Senders.Count == 1 ? v.Senders[0].ToString() : "each sender",
            FixSite.Receiver => v.Receivers.Count == 1 ? v.Receivers[0].ToString() : "each receiver",
            _ => "the router with the small MTU",
        };
        Wrap(o, "  Fixes:   ", $"MSS {plan.Mss} ({N(plan.PacketSize)}-byte packets); run one fix, as root, on the host it names (nft first, then iptables, then ip route); each is for new connections", width);
        foreach (var site in plan.Fixes.Select(x => x.At).Distinct())
        {
            string where = site == FixSite.Router ? "On the router" : $"At the {MtuFix.SiteName(site)} ({Host(site)}{(site == here ? ", this host" : "")})";
            o.WriteLine($"    {where}:");
            foreach (var fix in plan.Fixes.Where(x => x.At == site))
            {
                o.WriteLine($"      {MtuFix.ToolName(fix.Tool),-9}{fix.OneLine}");
                o.WriteLine($"      {"undo",-9}{string.Join(" && ", fix.Undo)}");
            }
        }
    }

    /// <summary>Writes <paramref name="text"/> after <paramref name="label"/>, wrapped at word boundaries to
    /// <paramref name="width"/>; continuation lines are indented by <paramref name="indent"/> (default: the label's width).</summary>
    public static void Wrap(TextWriter o, string label, string text, int width, string? indent = null)
    {
        indent ??= new string(' ', label.Length);
        var line = new StringBuilder(label);
        bool empty = true;
        // Split on single spaces so runs of spaces (the mail log's column gaps) survive within a line.
        foreach (var word in text.Split(' '))
        {
            if (word.Length == 0)
            {
                if (!empty) line.Append(' ');
                continue;
            }
            if (!empty && line.Length + 1 + word.Length > width)
            {
                o.WriteLine(line.ToString().TrimEnd());
                line.Clear().Append(indent);
                empty = true;
            }
            if (!empty) line.Append(' ');
            line.Append(word);
            empty = false;
        }
        o.WriteLine(line.ToString().TrimEnd());
    }

    /// <summary>One line on DNS when the capture has any: queries and what became of them.</summary>
    private static void WriteDnsLine(TextWriter o, IReadOnlyList<CaptureAnalysis> analyses, int width)
    {
        // One pass over the listed flows' transactions (100,000 flows at most, as many transactions).
        int count = 0, answered = 0, timedOut = 0, ended = 0, truncated = 0, fragmented = 0, tcp = 0;
        foreach (var a in analyses)
            foreach (var f in a.Flows)
            {
                if (f.App is not DnsFlowState s) continue;
                foreach (var t in s.Transactions)
                {
                    count++;
                    if (t.Outcome == DnsOutcome.Answered) answered++;
                    else if (t.Outcome == DnsOutcome.TimedOut) timedOut++;
                    else if (t.Outcome == DnsOutcome.CaptureEnded) ended++;
                    if (t.Response is { } r)
                    {
                        if (r.Truncated) truncated++;
                        if (r.Fragmented) fragmented++;
                    }
                    if (t.Transport == DnsTransport.Tcp) tcp++;
                }
            }
        long notTracked = analyses.Sum(a => a.Dns?.NotTracked ?? 0);
        // Queries of flows the report does not keep (beyond its flow limit): said, so the numbers add up to the
        // queries decoded (the counts below are the listed flows').
        long notListed = Math.Max(0, analyses.Sum(a => a.Dns?.Transactions ?? 0) - count);
        if (count == 0 && notTracked == 0 && notListed == 0) return;
        var parts = new List<string> { $"{Count(count, "query", "queries")} ({N(tcp)} over TCP)", $"{N(answered)} answered" };
        if (timedOut > 0) parts.Add($"{N(timedOut)} timed out");
        if (ended > 0) parts.Add($"{N(ended)} without an answer before the capture ended");
        if (truncated > 0) parts.Add($"{N(truncated)} truncated");
        if (fragmented > 0) parts.Add($"{N(fragmented)} answers fragmented");
        if (notTracked > 0) parts.Add($"{N(notTracked)} not tracked (limit)");
        string more = notListed > 0 ? $"; {Count(notListed, "more query", "more queries")} decoded but not listed (report limit of flows)" : "";
        Wrap(o, "DNS        ", string.Join(", ", parts) + more, width);
    }

    private static void WriteInput(TextWriter o, InputSummary i, int width)
    {
        Wrap(o, "Input      ", i.Path == "-" ? "- (standard input)" : SafeText.Clean(i.Path), width);
        if (i.Unreadable)
        {
            Wrap(o, "           ", $"error: {i.Error}", width);
            return;
        }
        var info = i.Info;
        var sb = new StringBuilder(i.Format);
        if (i.Compressed) sb.Append(" (gzip)");
        if (i.LinkTypes.Count > 0) sb.Append(", ").Append(string.Join("+", i.LinkTypes.Select(LinkTypes.Name)));
        if (info is not null)
        {
            if (info.SnapLength != 0) sb.Append(", snaplen ").Append(N(info.SnapLength));
            if (info.TimestampResolution is not null) sb.Append(", ").Append(info.TimestampResolution).Append(" timestamps");
            if (info.Sections > 1) sb.Append(", ").Append(N(info.Sections)).Append(" sections");
            var names = info.Interfaces.Where(x => x.Name is not null).Select(x => SafeText.Clean(x.Name, 64)).Distinct().ToList();
            if (names.Count > 0) sb.Append(", interfaces ").Append(string.Join(", ", names));
        }
        if (i.Format is not null) Wrap(o, "           ", sb.ToString(), width);
        string span = i.FirstTime is { } f && i.LastTime is { } l
            ? $", {Time(f)} to {Time(l)} UTC ({Seconds(Between(f, l))})"
            : "";
        Wrap(o, "           ", $"{N(i.Packets)} packets, {Bytes(i.Bytes)}{span}", width);
        if (info is not null)
        {
            foreach (var c in info.Comments.Take(5)) Wrap(o, "           ", $"comment: {SafeText.Clean(c, 200)}", width);
            foreach (string limit in info.LimitsHit.Describe(info.Limits)) Wrap(o, "           ", $"limit: {limit}", width);
        }
        if (i.Error is not null) Wrap(o, "           ", $"warning: {i.Error}", width);
        WriteSelection(o, i, width);
    }

    /// <summary>Which files were joined and which frames were selected (analyze --join, FILTER, -c, --since, --until).</summary>
    private static void WriteSelection(TextWriter o, InputSummary i, int width)
    {
        if (i.JoinedFiles is { Count: > 1 } files)
            Wrap(o, "           ", $"joined: {string.Join(", ", files.Select(f => SafeText.Clean(f)))} as one capture, merged by time (" +
                                   (i.JoinReason == "rotated-set" ? "a rotated set: the names differ only in numbers and each file starts where the previous ended" : "--join") + ")", width);
        if (i.Selection is not { } sel) return;
        var what = new List<string>();
        if (sel.Filter is not null) what.Add($"filter '{SafeText.Clean(sel.Filter)}'");
        if (sel.SinceText is not null) what.Add($"since {(sel.Since is { } since ? Time(since) + " UTC" : SafeText.Clean(sel.SinceText))}{(sel.SinceText.StartsWith('+') ? $" ({sel.SinceText} after the first packet)" : "")}");
        if (sel.UntilText is not null) what.Add($"until {(sel.Until is { } until ? Time(until) + " UTC" : SafeText.Clean(sel.UntilText))}{(sel.UntilText.StartsWith('+') ? $" ({sel.UntilText} after the first packet)" : "")}");
        if (sel.Count > 0) what.Add($"at most {N(sel.Count)} packets{(sel.StoppedAtCount ? ", reached" : "")}");
        Wrap(o, "           ", $"selected: {string.Join(", ", what)}: {N(i.Packets)} of {N(sel.FramesRead)} packets read", width);
        foreach (var p in sel.Problems) Wrap(o, "           ", $"warning: {p}", width);
    }

    /// <summary>Per interface with statistics: received and dropped (pcapng ISB, pcap_stats live); the capture-loss
    /// evidence in ACKs for data never seen.</summary>
    private static void WriteCaptureLoss(TextWriter o, CaptureAnalysis a, int width)
    {
        var info = a.Input.Info;
        if (info is not null)
        {
            var withStats = info.Interfaces.Where(x => x.Statistics is not null).ToList();
            foreach (var itf in withStats.Take(8))
            {
                var s = itf.Statistics!;
                string name = itf.Name is null ? "#" + itf.Index.ToString(Inv) : SafeText.Clean(itf.Name, 64);
                var parts = new List<string>();
                if (s.Received is { } r) parts.Add($"{N(r)} received");
                if (s.InterfaceDropped is { } id) parts.Add($"{N(id)} dropped by the interface");
                if (s.OsDropped is { } od) parts.Add($"{N(od)} dropped by the OS (capture buffer full)");
                if (s.Delivered is { } d) parts.Add($"{N(d)} delivered");
                if (parts.Count == 0) parts.Add("no counters");
                Wrap(o, "           ", $"interface {name}: {string.Join(", ", parts)} (statistics at {Time(s.Time)} UTC)", width);
            }
            if (withStats.Count > 8) Wrap(o, "           ", $"({N(withStats.Count - 8)} more interfaces with statistics: see --json)", width);
        }
        if (a.Input.Drops is { Dropped: > 0 } drops)
            Wrap(o, "           ", $"capture loss: {N(drops.Dropped)} packets dropped by the capture itself ({drops.Source}) in " +
                                   $"{Count(drops.Windows.Count, "window")}; findings that rest on packets missing then may be artefacts of the capture", width);
        if (a.AckedUnseen > 0)
            Wrap(o, "           ", $"capture loss: {N(a.AckedUnseen)} ACKs for data the capture never saw (the capture missed it, or it was sent before the capture started)", width);
    }

    /// <summary>The worst severity of the findings that name each flow.</summary>
    public static Dictionary<int, Severity> WorstByFlow(IReadOnlyList<Finding> findings)
    {
        int named = 0;
        foreach (var f in findings) named += f.Flows.Count;
        var worst = new Dictionary<int, Severity>(named); // at most one entry a flow named: never resized
        foreach (var f in findings)
            foreach (int id in f.Flows)
                if (!worst.TryGetValue(id, out var s) || f.Severity > s) worst[id] = f.Severity;
        return worst;
    }

    private static void WriteFlows(TextWriter o, IReadOnlyList<CaptureAnalysis> analyses, List<Finding> findings, Options options)
    {
        var flows = analyses.SelectMany(a => a.Flows).ToList();
        o.WriteLine();
        if (flows.Count == 0) { o.WriteLine($"No flows{EncapsulationReport.NoFlowsNote(analyses)}."); return; }
        var worst = WorstByFlow(findings);
        int Rank(Flow f) => worst.TryGetValue(f.Id, out var s) ? (int)s + 1 : 0;
        IEnumerable<Flow> sorted = options.Sort switch
        {
            FlowSort.Id => flows.OrderBy(f => f.Id),
            FlowSort.Bytes => flows.OrderByDescending(f => f.ClientToServer.FrameBytes + f.ServerToClient.FrameBytes).ThenBy(f => f.Id),
            FlowSort.Start => flows.OrderBy(f => f.Start).ThenBy(f => f.Id),
            _ => flows.OrderByDescending(Rank).ThenBy(f => f.Id),
        };
        string order = options.Sort switch { FlowSort.Id => "by id", FlowSort.Bytes => "most bytes first", FlowSort.Start => "earliest first", _ => "worst first, then by id" };
        int maxRows = options.MaxFlowRows;
        var shown = sorted.Take(maxRows).ToList();
        o.WriteLine(flows.Count > maxRows
            ? $"Flows (the first {N(maxRows)} of {N(flows.Count)}, {order}; --flow-rows N shows more, --json lists all {N(flows.Count)})"
            : $"Flows ({N(flows.Count)}, {order})");
        var rows = new List<string[]>
        {
            new[] { "ID", "WORST", "PROTO", "CLIENT", "SERVER", "APP", "DURATION", "PACKETS c>s/s>c", "BYTES c>s/s>c", "RETX c>s/s>c", "RTT ms", "MSS c/s", "MAX SEG c/s", "MAX IP c/s", "STATE" },
        };
        foreach (var f in shown)
        {
            var facts = FlowFacts.Of(f);
            bool tcp = f.Protocol == FlowProtocol.Tcp && f.Tcp is not null;
            rows.Add(new[]
            {
                f.Id.ToString(Inv),
                worst.TryGetValue(f.Id, out var sev) ? FindingKinds.SeverityName(sev) : "-",
                f.ProtocolName,
                facts.Client.ToString(),
                facts.Server.ToString(),
                f.Application ?? "-",
                Seconds(Between(f.Start, f.End)),
                $"{N(f.ClientToServer.Packets)}/{N(f.ServerToClient.Packets)}",
                $"{Bytes(f.ClientToServer.FrameBytes)}/{Bytes(f.ServerToClient.FrameBytes)}",
                tcp ? $"{N(facts.Retransmissions.C2s)}/{N(facts.Retransmissions.S2c)}" : "-",
                tcp ? RttMs(facts.RttNanos) : "-",
                tcp ? $"{Opt(f.ClientToServer.Mss)}/{Opt(f.ServerToClient.Mss)}" : "-",
                $"{N(f.ClientToServer.MaxSegment)}/{N(f.ServerToClient.MaxSegment)}",
                $"{N(f.ClientToServer.MaxIpPacket)}/{N(f.ServerToClient.MaxIpPacket)}",
                JsonReport.EndName(f.EndReason),
            });
        }
        if (EncapsulationReport.AnyEncapsulated(shown))
        {
            rows[0] = [.. rows[0], EncapsulationReport.ColumnHeader];
            for (int i = 1; i < rows.Count; i++) rows[i] = [.. rows[i], EncapsulationReport.Column(shown[i - 1])];
        }
        var widths = new int[rows[0].Length];
        foreach (var r in rows) for (int c = 0; c < r.Length; c++) widths[c] = Math.Max(widths[c], r[c].Length);
        foreach (var r in rows)
        {
            var sb = new StringBuilder("  ");
            for (int c = 0; c < r.Length; c++)
            {
                bool right = c is 0 or 6 or 7 or 8 or 9 or 10;
                sb.Append(right ? r[c].PadLeft(widths[c]) : r[c].PadRight(widths[c]));
                if (c < r.Length - 1) sb.Append("  ");
            }
            o.WriteLine(sb.ToString().TrimEnd());
        }
    }

    /// <summary>The flow's RTT (<see cref="FlowFacts.RttNanos"/>) in milliseconds, for the table and the TUI.</summary>
    public static string RttMs(long nanos) =>
        nanos < 0 ? "-" : (nanos / 1e6).ToString(nanos < 10_000_000 ? "0.00" : "0", Inv);

    private static string Opt(int v) => v == 0 ? "-" : N(v);

    /// <summary>b − a in nanoseconds, saturating instead of wrapping when the times are at the ends of the range.</summary>
    public static long Between(Timestamp a, Timestamp b) =>
        (long)Int128.Clamp((Int128)b.UnixNanoseconds - a.UnixNanoseconds, long.MinValue, long.MaxValue);

    /// <summary>A duration in the one format (<see cref="FindingText.Sec"/>); a negative one (time running backwards in
    /// a file) keeps its sign, and a saturated one never reads as "-9223372036854780 µs".</summary>
    public static string Seconds(long nanos) => nanos switch
    {
        long.MinValue => "-" + Sec(long.MaxValue),
        < 0 => "-" + Sec(-nanos),
        _ => Sec(nanos),
    };
}
