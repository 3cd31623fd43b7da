using System.Globalization;
using System.Text;
using PathProbe.Analysis.Dns;
using PathProbe.Capture;
using PathProbe.Findings;
using PathProbe.Flows;
using PathProbe.Pipeline;
using PathProbe.Primitives;
using static PathProbe.Findings.FindingText;

namespace PathProbe.Reports;

/// <summary>The report for people: input summary, anomaly counters, findings, and a flow table. Plain text, no colour,
/// so it reads the same in a terminal, a pager, a mail or a ticket.</summary>
public static class TextReport
{
    public sealed class Options
    {
        /// <summary>Flow rows printed at most (the JSON always has all of them).</summary>
        public int MaxFlowRows { get; init; } = 50;
    }

    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static void Write(TextWriter o, IReadOnlyList<CaptureAnalysis> analyses, Options? options = null)
    {
        options ??= new Options();
        WriteHeadlines(o, analyses);
        foreach (var a in analyses)
        {
            WriteInput(o, a.Input);
            WriteCaptureLoss(o, a);
            if (a.OffloadFrames > 0)
                o.WriteLine($"           note: {N(a.OffloadFrames)} TCP segments are longer than the MSS their receiver advertised: segmentation offload " +
                            "(TSO/GSO/GRO) on the capture host, not packets on the wire; they are not used as path-MTU evidence " +
                            "(`ethtool -K IFACE tso off gso off gro off` before capturing shows wire-sized frames)");
        }

        var t = Totals.Of(analyses);
        o.WriteLine();
        o.WriteLine($"Packets    {N(t.Packets)} read, {N(t.Decoded)} IP packets decoded, {N(t.NotIp)} not IP" +
                    (t.UnsupportedTotal > 0 ? $", {N(t.UnsupportedTotal)} on unsupported link types ({string.Join(", ", t.Unsupported.Select(kv => $"{LinkTypes.Name(kv.Key)} {N(kv.Value)}"))})" : ""));
        EncapsulationReport.WriteTextSummary(o, analyses);
        o.WriteLine($"Anomalies  {N(t.MalformedTotal)} malformed" +
                    (t.Malformed.Count > 0 ? " (" + string.Join(", ", t.Malformed.Select(kv => $"{kv.Key} {N(kv.Value)}")) + ")" : "") +
                    $"; {N(t.Ipv4ChecksumErrors)} IPv4 header checksum errors; {N(t.SnapTruncated)} frames cut by the snap length");
        var fr = t.Fragments;
        o.WriteLine(fr.Fragments == 0
            ? "Fragments  none"
            : $"Fragments  {N(fr.Fragments)} seen, {N(fr.Completed)} datagrams reassembled, {N(fr.Incomplete)} incomplete " +
              $"({N(fr.TimedOut)} timed out, {N(fr.OpenAtEnd)} open at end), {N(fr.Overlaps)} overlaps, {N(fr.Duplicates)} duplicates, {N(fr.Oversize)} oversize" +
              (fr.DroppedMemoryBound + fr.Inconsistent + fr.TooManyFragments + fr.BadFragments > 0
                  ? $", dropped: {N(fr.DroppedMemoryBound)} memory bound, {N(fr.Inconsistent)} inconsistent, {N(fr.TooManyFragments)} too many fragments, {N(fr.BadFragments)} bad" : ""));
        o.WriteLine($"Flows      {N(t.Flows)}" + (t.FlowsEvicted > 0 ? $", {N(t.FlowsEvicted)} evicted because the flow table was full" : "") +
                    (t.FlowsNotReported > 0 ? $", {N(t.FlowsNotReported)} not listed (report limit)" : ""));
        WriteDnsLine(o, analyses);

        MailReport.Write(o, analyses);

        var findings = analyses.SelectMany(a => a.Findings).OrderByDescending(f => f.Severity).ThenBy(f => f.Time).ToList();
        o.WriteLine();
        if (findings.Count == 0) o.WriteLine("Findings   none");
        else
        {
            o.WriteLine($"Findings ({findings.Count})");
            foreach (var f in findings)
            {
                o.WriteLine($"  [{Finding.SeverityName(f.Severity)}] {f.Kind}: {f.Summary}");
                if (f.Advice is not null) o.WriteLine($"      fix: {f.Advice}");
            }
        }

        WriteFlows(o, analyses.SelectMany(a => a.Flows).ToList(), options.MaxFlowRows, EncapsulationReport.NoFlowsNote(analyses));
    }

    /// <summary>A path-MTU black hole leads the report, in words for whoever is on call: what is broken, between
    /// whom, since when, how sure, and the one command that makes mail flow again.</summary>
    private static void WriteHeadlines(TextWriter o, IReadOnlyList<CaptureAnalysis> analyses)
    {
        var holes = analyses.SelectMany(a => a.Findings).Where(f => f.Kind == "mtu-blackhole")
            .OrderByDescending(f => f.Severity).ThenBy(f => f.Time).ToList();
        foreach (var f in holes)
        {
            string Get(string key) => f.Evidence.FirstOrDefault(e => e.Key == key).Value?.ToString() ?? "";
            bool recovered = Get("recovered") == "True";
            o.WriteLine($"PATH-MTU BLACK HOLE ({Finding.SeverityName(f.Severity)}, confidence {Get("confidence")}, seen from the {Get("vantage")})");
            Wrapped(o, "  What:    ", f.Summary);
            Wrapped(o, "  Effect:  ", recovered
                ? "connections recovered only after losing time to timeouts; mail with large messages is slow, and stacks without PLPMTUD would hang"
                : "small mails get through; mails with attachments (full-size packets) hang in DATA until the sender gives up and retries later, again and again");
            Wrapped(o, "  Since:   ", f.Time.ToIso8601() + " (first packet that never arrived)");
            Wrapped(o, "  Attack?  ", "no: the retransmissions come from the senders' own TCP stacks resending data that the path drops");
            if (Get("fixCommand") is { Length: > 0 } cmd) o.WriteLine("  Fix now: " + cmd); // one line: copy and paste
            if (f.Advice is not null) Wrapped(o, "  Then:    ", f.Advice);
            o.WriteLine();
        }
    }

    private static void Wrapped(TextWriter o, string label, string text, int width = 110)
    {
        string indent = new(' ', label.Length);
        var line = new StringBuilder(label);
        int lineStart = 0;
        foreach (var word in text.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            if (line.Length - lineStart + word.Length + 1 > width && line.Length - lineStart > label.Length)
            {
                o.WriteLine(line.ToString());
                line.Clear().Append(indent);
                lineStart = 0;
            }
            else if (line.Length > label.Length && line.Length != indent.Length) line.Append(' ');
            line.Append(word);
        }
        o.WriteLine(line.ToString());
    }

    /// <summary>One line on DNS when the capture has any: queries and what became of them.</summary>
    private static void WriteDnsLine(TextWriter o, IReadOnlyList<CaptureAnalysis> analyses)
    {
        var tx = analyses.SelectMany(a => a.Flows).Select(f => f.App).OfType<DnsFlowState>().SelectMany(s => s.Transactions).ToList();
        long notTracked = analyses.Sum(a => a.Dns?.NotTracked ?? 0);
        if (tx.Count == 0 && notTracked == 0) return;
        int answered = tx.Count(t => t.Outcome == DnsOutcome.Answered);
        int timedOut = tx.Count(t => t.Outcome == DnsOutcome.TimedOut);
        int ended = tx.Count(t => t.Outcome == DnsOutcome.CaptureEnded);
        int truncated = tx.Count(t => t.Response?.Truncated == true);
        int fragmented = tx.Count(t => t.Response?.Fragmented == true);
        int tcp = tx.Count(t => t.Transport == DnsTransport.Tcp);
        var parts = new List<string> { $"{N(tx.Count)} queries ({N(tcp)} over TCP)", $"{N(answered)} answered" };
        if (timedOut > 0) parts.Add($"{N(timedOut)} timed out");
        if (ended > 0) parts.Add($"{N(ended)} without an answer before the capture ended");
        if (truncated > 0) parts.Add($"{N(truncated)} truncated");
        if (fragmented > 0) parts.Add($"{N(fragmented)} answers fragmented");
        if (notTracked > 0) parts.Add($"{N(notTracked)} not tracked (limit)");
        o.WriteLine("DNS        " + string.Join(", ", parts));
    }

    private static void WriteInput(TextWriter o, InputSummary i)
    {
        o.WriteLine($"Input      {SafeText.Clean(i.Path)}");
        if (i.Unreadable)
        {
            o.WriteLine($"           error: {i.Error}");
            return;
        }
        var info = i.Info;
        var sb = new StringBuilder("           ").Append(i.Format);
        if (i.Compressed) sb.Append(" (gzip)");
        if (i.LinkTypes.Count > 0) sb.Append(", ").Append(string.Join("+", i.LinkTypes.Select(LinkTypes.Name)));
        if (info is not null)
        {
            if (info.SnapLength > 0) sb.Append(", snaplen ").Append(info.SnapLength.ToString(Inv));
            if (info.TimestampResolution is not null) sb.Append(", ").Append(info.TimestampResolution).Append(" timestamps");
            if (info.Sections > 1) sb.Append(", ").Append(info.Sections.ToString(Inv)).Append(" sections");
            var names = info.Interfaces.Where(x => x.Name is not null).Select(x => SafeText.Clean(x.Name, 64)).Distinct().ToList();
            if (names.Count > 0) sb.Append(", interfaces ").Append(string.Join(", ", names));
        }
        o.WriteLine(sb.ToString());
        string span = i.FirstTime is { } f && i.LastTime is { } l
            ? $", {f.ToIso8601()} .. {l.ToIso8601()} ({Seconds(Between(f, l))})"
            : "";
        o.WriteLine($"           {N(i.Packets)} packets, {Bytes(i.Bytes)}{span}");
        if (info is not null)
        {
            foreach (var c in info.Comments.Take(5)) o.WriteLine($"           comment: {SafeText.Clean(c, 200)}");
            foreach (string limit in info.LimitsHit.Describe(info.Limits)) o.WriteLine($"           limit: {limit}");
        }
        if (i.Error is not null) o.WriteLine($"           warning: {i.Error}");
    }

    /// <summary>Per interface with statistics: received and dropped (pcapng ISB, pcap_stats live); the capture-loss
    /// evidence in ACKs for data never seen.</summary>
    private static void WriteCaptureLoss(TextWriter o, CaptureAnalysis a)
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
                o.WriteLine($"           interface {name}: {string.Join(", ", parts)} (statistics at {s.Time.ToIso8601()})");
            }
            if (withStats.Count > 8) o.WriteLine($"           ({N(withStats.Count - 8)} more interfaces with statistics: see --json)");
        }
        if (a.Input.Drops is { Dropped: > 0 } drops)
            o.WriteLine($"           capture loss: {N(drops.Dropped)} packets dropped by the capture itself ({drops.Source}) in " +
                        $"{N(drops.Windows.Count)} window{(drops.Windows.Count == 1 ? "" : "s")}; findings that rest on packets missing then may be artefacts of the capture");
        if (a.AckedUnseen > 0)
            o.WriteLine($"           capture loss: {N(a.AckedUnseen)} ACKs for data the capture never saw (the capture missed it, or it was sent before the capture started)");
    }

    private static void WriteFlows(TextWriter o, List<Flow> flows, int maxRows, string? noFlowsNote)
    {
        o.WriteLine();
        if (flows.Count == 0) { o.WriteLine($"No flows{noFlowsNote}."); return; }
        o.WriteLine(flows.Count > maxRows ? $"Flows (the {maxRows} largest of {N(flows.Count)}; --json lists all)" : $"Flows ({flows.Count})");
        var shown = flows.Count > maxRows
            ? flows.OrderByDescending(f => f.ClientToServer.FrameBytes + f.ServerToClient.FrameBytes).Take(maxRows).OrderBy(f => f.Id).ToList()
            : flows;
        var rows = new List<string[]>
        {
            new[] { "ID", "PROTO", "CLIENT", "SERVER", "APP", "DURATION", "PACKETS c>s/s>c", "BYTES c>s/s>c", "RETX c>s/s>c", "RTT ms", "MSS c/s", "MAX SEG c/s", "MAX IP c/s", "STATE" },
        };
        foreach (var f in shown)
        {
            bool icmp = f.Protocol == FlowProtocol.Icmp;
            bool tcp = f.Protocol == FlowProtocol.Tcp && f.Tcp is not null;
            rows.Add(new[]
            {
                f.Id.ToString(Inv), f.ProtocolName,
                icmp ? f.ClientAddress.ToString() : f.ClientEndpoint,
                icmp ? f.ServerAddress.ToString() : f.ServerEndpoint,
                f.Application ?? "-",
                Seconds(Between(f.Start, f.End)),
                $"{N(f.ClientToServer.Packets)}/{N(f.ServerToClient.Packets)}",
                $"{Bytes(f.ClientToServer.FrameBytes)}/{Bytes(f.ServerToClient.FrameBytes)}",
                tcp ? $"{f.Tcp!.Client.Counters.Retransmissions}/{f.Tcp.Server.Counters.Retransmissions}" : "-",
                tcp ? Rtt(f.Tcp!) : "-",
                tcp ? $"{Opt(f.ClientToServer.Mss)}/{Opt(f.ServerToClient.Mss)}" : "-",
                $"{f.ClientToServer.MaxSegment}/{f.ServerToClient.MaxSegment}",
                $"{f.ClientToServer.MaxIpPacket}/{f.ServerToClient.MaxIpPacket}",
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
                bool right = c is 0 or 5 or 6 or 7 or 8 or 9;
                sb.Append(right ? r[c].PadLeft(widths[c]) : r[c].PadRight(widths[c]));
                if (c < r.Length - 1) sb.Append("  ");
            }
            o.WriteLine(sb.ToString().TrimEnd());
        }
    }

    /// <summary>Median RTT of the direction that sent the most data (its data is what the ACKs time).</summary>
    private static string Rtt(Flows.Tcp.TcpConnectionState t)
    {
        var e = t.Client.Rtt.Count >= t.Server.Rtt.Count ? t.Client.Rtt : t.Server.Rtt;
        return e.Count == 0 ? "-" : (e.MedianNanos() / 1e6).ToString(e.MedianNanos() < 10_000_000 ? "0.00" : "0", Inv);
    }

    private static string Opt(int v) => v == 0 ? "-" : v.ToString(Inv);
    internal static string Bytes(long b) => b switch
    {
        < 10_000 => b.ToString(Inv) + " B",
        < 10_000_000 => (b / 1000.0).ToString("0.#", Inv) + " kB",
        < 10_000_000_000 => (b / 1e6).ToString("0.#", Inv) + " MB",
        _ => (b / 1e9).ToString("0.##", Inv) + " GB",
    };

    /// <summary>b − a in nanoseconds, saturating instead of wrapping when the times are at the ends of the range.</summary>
    internal static long Between(Timestamp a, Timestamp b) =>
        (long)Int128.Clamp((Int128)b.UnixNanoseconds - a.UnixNanoseconds, long.MinValue, long.MaxValue);

    /// <summary>A duration; negative ones (time running backwards in a file) keep their sign, and the extremes of a
    /// saturated timestamp read as seconds, never as "-9223372036854780 µs".</summary>
    internal static string Seconds(long nanos) => nanos switch
    {
        long.MinValue => "-" + Seconds(long.MaxValue),
        < 0 => "-" + Seconds(-nanos),
        < 1_000_000 => (nanos / 1000.0).ToString("0", Inv) + " µs",
        < 1_000_000_000 => (nanos / 1e6).ToString("0.#", Inv) + " ms",
        _ => (nanos / 1e9).ToString("0.##", Inv) + " s",
    };
}
