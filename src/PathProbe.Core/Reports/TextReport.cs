using System.Globalization;
using System.Text;
using PathProbe.Capture;
using PathProbe.Findings;
using PathProbe.Flows;
using PathProbe.Pipeline;
using PathProbe.Primitives;

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
        foreach (var a in analyses) WriteInput(o, a.Input);

        var t = Totals.Of(analyses);
        o.WriteLine();
        o.WriteLine($"Packets    {N(t.Packets)} read, {N(t.Decoded)} IP packets decoded, {N(t.NotIp)} not IP" +
                    (t.UnsupportedTotal > 0 ? $", {N(t.UnsupportedTotal)} on unsupported link types ({string.Join(", ", t.Unsupported.Select(kv => $"{LinkTypes.Name(kv.Key)} {N(kv.Value)}"))})" : ""));
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

        WriteFlows(o, analyses.SelectMany(a => a.Flows).ToList(), options.MaxFlowRows);
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
            ? $", {f.ToIso8601()} .. {l.ToIso8601()} ({Seconds(l.UnixNanoseconds - f.UnixNanoseconds)})"
            : "";
        o.WriteLine($"           {N(i.Packets)} packets, {Bytes(i.Bytes)}{span}");
        if (info is not null)
            foreach (var c in info.Comments.Take(5)) o.WriteLine($"           comment: {SafeText.Clean(c, 200)}");
        if (i.Error is not null) o.WriteLine($"           warning: {i.Error}");
    }

    private static void WriteFlows(TextWriter o, List<Flow> flows, int maxRows)
    {
        o.WriteLine();
        if (flows.Count == 0) { o.WriteLine("No flows."); return; }
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
                Seconds(f.End.UnixNanoseconds - f.Start.UnixNanoseconds),
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
    internal static string N(long v) => v.ToString("#,0", Inv);

    internal static string Bytes(long b) => b switch
    {
        < 10_000 => b.ToString(Inv) + " B",
        < 10_000_000 => (b / 1000.0).ToString("0.#", Inv) + " kB",
        < 10_000_000_000 => (b / 1e6).ToString("0.#", Inv) + " MB",
        _ => (b / 1e9).ToString("0.##", Inv) + " GB",
    };

    internal static string Seconds(long nanos) => nanos switch
    {
        < 1_000_000 => (nanos / 1000.0).ToString("0", Inv) + " µs",
        < 1_000_000_000 => (nanos / 1e6).ToString("0.#", Inv) + " ms",
        _ => (nanos / 1e9).ToString("0.##", Inv) + " s",
    };
}
