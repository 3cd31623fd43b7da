using System.Globalization;
using System.Text;
using PathProbe.Findings;
using PathProbe.Flows;
using PathProbe.Primitives;
using PathProbe.Protocols.Smtp;
using PathProbe.Reports;

namespace PathProbe.Cli.Tui.Model;

/// <summary>
/// One row of the flow table: the per-flow numbers from the one place they come from (<see cref="FlowFacts"/>, as the
/// report's flow table and every finding read them), and text already cleaned for a terminal. Immutable.
/// </summary>
public sealed record FlowRow
{
    public required int Id { get; init; }
    public required string Protocol { get; init; }
    public required string Client { get; init; }
    public required string Server { get; init; }
    public required string ClientAddress { get; init; }
    public required string ServerAddress { get; init; }
    public ushort ClientPort { get; init; }
    public ushort ServerPort { get; init; }
    /// <summary>"smtp", "dns" or "" (what the analyzers decided, as in the report's APP column).</summary>
    public required string AppName { get; init; }
    /// <summary>What the application layer says (SMTP: EHLO name, sender → recipient count, tls); cleaned.</summary>
    public required string Application { get; init; }
    /// <summary>How the flow ended, as the report names it (open, closed, reset, idle-timeout, evicted, replaced).</summary>
    public required string State { get; init; }
    public long Start { get; init; }
    public long DurationNanos { get; init; }
    public long PacketsToServer { get; init; }
    public long PacketsToClient { get; init; }
    /// <summary>Frame bytes per direction (the report's BYTES column and JSON frameBytes).</summary>
    public long BytesToServer { get; init; }
    public long BytesToClient { get; init; }
    /// <summary>Retransmissions per direction (TCP), -1 when not TCP.</summary>
    public long RetransmissionsClient { get; init; } = -1;
    public long RetransmissionsServer { get; init; } = -1;
    /// <summary>The flow's RTT (<see cref="FlowFacts.RttNanos"/>: median of the direction with more samples), -1 without samples.</summary>
    public long RttNanos { get; init; } = -1;
    /// <summary><see cref="RttNanos"/> in ms, NaN without samples (for sorting).</summary>
    public double RttMs => RttNanos < 0 ? double.NaN : RttNanos / 1e6;
    public int MssClient { get; init; }
    public int MssServer { get; init; }
    public int MaxSegmentClient { get; init; }
    public int MaxSegmentServer { get; init; }
    public int MaxIpClient { get; init; }
    public int MaxIpServer { get; init; }
    /// <summary>Worst verdict on this flow, or -1 when none.</summary>
    public int Severity { get; init; } = -1;
    /// <summary>Kinds of the verdicts on this flow, space separated ("" none).</summary>
    public string Kinds { get; init; } = "";
    public long Packets => PacketsToServer + PacketsToClient;
    public long Bytes => BytesToServer + BytesToClient;
    public long Retransmissions => Math.Max(0, RetransmissionsClient) + Math.Max(0, RetransmissionsServer);
}

/// <summary>
/// Builds flow rows: every per-flow number from <see cref="FlowFacts.Of"/>, the one place the reports and the findings
/// take them from, and every number in the report's own formats (<see cref="FindingText"/>), so the TUI reads the same
/// as <c>analyze</c>.
/// </summary>
public static class FlowRows
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static FlowRow Row(Flow f, int severity, string kinds)
    {
        var facts = FlowFacts.Of(f);
        bool tcp = f.Protocol == FlowProtocol.Tcp && f.Tcp is not null;
        return new FlowRow
        {
            Id = f.Id,
            Protocol = f.ProtocolName,
            Client = SafeText.Clean(facts.Client.ToString()),
            Server = SafeText.Clean(facts.Server.ToString()),
            ClientAddress = f.ClientAddress.ToString(),
            ServerAddress = f.ServerAddress.ToString(),
            ClientPort = f.ClientPort,
            ServerPort = f.ServerPort,
            AppName = SafeText.Clean(f.Application ?? "", 40),
            Application = ApplicationText(f),
            State = JsonReport.EndName(f.EndReason),
            Start = f.Start.UnixNanoseconds,
            DurationNanos = TextReport.Between(f.Start, f.End),
            PacketsToServer = f.ClientToServer.Packets,
            PacketsToClient = f.ServerToClient.Packets,
            BytesToServer = f.ClientToServer.FrameBytes,
            BytesToClient = f.ServerToClient.FrameBytes,
            RetransmissionsClient = tcp ? facts.Retransmissions.C2s : -1,
            RetransmissionsServer = tcp ? facts.Retransmissions.S2c : -1,
            RttNanos = tcp ? facts.RttNanos : -1,
            MssClient = f.ClientToServer.Mss,
            MssServer = f.ServerToClient.Mss,
            MaxSegmentClient = f.ClientToServer.MaxSegment,
            MaxSegmentServer = f.ServerToClient.MaxSegment,
            MaxIpClient = f.ClientToServer.MaxIpPacket,
            MaxIpServer = f.ServerToClient.MaxIpPacket,
            Severity = severity,
            Kinds = kinds,
        };
    }

    /// <summary>The report's "RTT ms" of a flow (<see cref="TextReport.RttMs"/>).</summary>
    public static string RttText(long nanos) => TextReport.RttMs(nanos);

    /// <summary>An RTT in ms as the report writes one: two decimals under 10 ms, none above.</summary>
    public static string RttText(double ms) => double.IsNaN(ms) ? "-" : TextReport.RttMs((long)Math.Round(ms * 1e6));

    /// <summary>SMTP: "smtp EHLO-name sender → N rcpt tls"; otherwise the analyzers' application name. Cleaned.</summary>
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
                sb.Append(' ').Append(tx.Sender.Length == 0 ? "<>" : tx.Sender).Append(" → ").Append(rcpt.ToString(Inv)).Append(" rcpt");
            }
            if (s.TlsStarted || s.ImplicitTls) sb.Append(" tls");
            return SafeText.Clean(sb.ToString(), 200);
        }
        return SafeText.Clean(f.Application ?? "", 200);
    }

    // ---- the report's number formats (FindingText: one format each) ---------------------------------------------------

    /// <summary>Bytes as the text report writes them ("1,234 B", "22.7 kB", "3.1 MB").</summary>
    public static string Bytes(long b) => FindingText.Bytes(b);

    /// <summary>A duration as the text report writes it ("0.35 ms", "26.5 s").</summary>
    public static string Duration(long nanos) => TextReport.Seconds(nanos);

    public static string N(long v) => FindingText.N(v);

    /// <summary>A time offset on a graph axis or in a list: "+0.214s", "+26.5s", "+1:02:03".</summary>
    public static string Offset(long nanos)
    {
        double s = nanos / 1e9;
        string sign = s < 0 ? "-" : "+";
        s = Math.Abs(s);
        return sign + (s < 10 ? s.ToString("0.000", Inv) + "s" : s < 600 ? s.ToString("0.0", Inv) + "s" : TimeSpan.FromSeconds(Math.Round(s)).ToString(@"h\:mm\:ss", Inv));
    }

    public static string SeverityMarker(int severity) => severity switch { 2 => "!!", 1 => "!", 0 => "i", _ => "" };
}
