using System.Diagnostics.Metrics;
using PathProbe.Analysis.Smtp;
using PathProbe.Findings;
using PathProbe.Flows;
using PathProbe.Flows.Tcp;
using PathProbe.Protocols.Smtp;

namespace PathProbe.Cli.Commands.Capture;

/// <summary>
/// PathProbe's own counters as OpenTelemetry instruments (Prometheus names in the README, "Metrics"). Nothing is
/// recorded per packet: the capture thread copies its counters here on its status tick (<see cref="Publish"/>, twice a
/// second) and when a flow leaves the table (<see cref="FlowClosed"/>); the instruments are observable and read the
/// copy when an exporter collects (a Prometheus scrape, an OTLP export), on the exporter's thread. The one recorded
/// instrument, the handshake-RTT histogram, takes one value per closed flow.
/// <para>Labels are bounded: finding kind × severity (the closed registry), mail outcome × reply class (two closed
/// enums), the drop counter's "where". No label carries an address: peers are in the findings (OTLP log records).</para>
/// </summary>
internal sealed class CaptureMetrics : IDisposable
{
    public const string MeterName = "PathProbe.Capture";

    private static readonly int Kinds = FindingKinds.All.Count;
    private static readonly int Severities = Enum.GetValues<Severity>().Length;
    private static readonly int Outcomes = Enum.GetValues<SmtpOutcome>().Length;
    /// <summary>Reply classes plus "none" (a transaction no 4xx/5xx ended) in the last slot.</summary>
    private static readonly int Classes = Enum.GetValues<SmtpReplyKind>().Length + 1;

    /// <summary>Handshake RTT bucket bounds in seconds (LAN to intercontinental, and a SYN retransmitted).</summary>
    public static readonly double[] RttBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

    private readonly Meter _meter = new(MeterName);
    private readonly Histogram<double> _handshakeRtt;
    private readonly object _gate = new();

    // The copy the instruments read (under _gate).
    private long _packets, _kernelDrops, _interfaceDrops, _retransmissions;
    private int _flowsActive;
    private readonly long[] _findingsTotal = new long[Kinds * Severities];
    private readonly int[] _findingsOpen = new int[Kinds * Severities];
    private readonly long[] _mail = new long[Outcomes * Classes];

    // Capture thread only.
    private readonly Dictionary<int, int> _openSlot = new(); // open finding id → kind × severity slot
    private long _retransmissionsClosed;                     // of flows that left the table

    public CaptureMetrics()
    {
        _meter.CreateObservableCounter("pathprobe.packets", () => Read(ref _packets),
            description: "Packets captured and analysed");
        _meter.CreateObservableCounter("pathprobe.drops", Drops,
            description: "Packets the capture lost: where=kernel (capture buffer full) or interface (pcap_stats)");
        _meter.CreateObservableGauge("pathprobe.flows_active", () => { lock (_gate) return (long)_flowsActive; },
            description: "Flows in the flow table now");
        _meter.CreateObservableCounter("pathprobe.retransmissions", () => Read(ref _retransmissions),
            description: "TCP retransmissions (Wireshark's retransmission, fast and spurious) in all flows");
        _meter.CreateObservableCounter("pathprobe.findings", () => FindingSeries(total: true),
            description: "Findings opened, by kind and severity at opening (a finding counts once)");
        _meter.CreateObservableGauge("pathprobe.findings_open", () => FindingSeries(total: false),
            description: "Findings open now, by kind and current severity");
        _meter.CreateObservableGauge("pathprobe.blackhole_peers", BlackHolePeers,
            description: "Peers with an open path-MTU black hole (mtu-blackhole findings open now, one per peer)");
        _meter.CreateObservableCounter("pathprobe.mail_transactions", MailSeries,
            description: "SMTP transactions that ended, by outcome and the class of the reply that refused them (none when accepted)");
        _handshakeRtt = _meter.CreateHistogram<double>("pathprobe.handshake_rtt", unit: "s",
            description: "TCP handshake RTT (SYN to the first ACK, Wireshark's initial RTT), one value per flow when it ends");
    }

    /// <summary>The instruments' names as exported to Prometheus, with their kinds (README and tests).</summary>
    public static readonly IReadOnlyList<string> PrometheusNames =
    [
        "pathprobe_packets_total", "pathprobe_drops_total", "pathprobe_flows_active", "pathprobe_retransmissions_total",
        "pathprobe_findings_total", "pathprobe_findings_open", "pathprobe_blackhole_peers", "pathprobe_mail_transactions_total",
        "pathprobe_handshake_rtt_seconds",
    ];

    /// <summary>Capture thread, on its status tick: the counters now and the findings' changes since the last tick.</summary>
    public void Publish(long packets, long kernelDrops, long interfaceDrops, FlowTable flows, List<FindingEvent> events)
    {
        long live = 0;
        foreach (var flow in flows.LiveFlows) live += Retransmissions(flow);
        lock (_gate)
        {
            _packets = packets;
            _kernelDrops = kernelDrops;
            _interfaceDrops = interfaceDrops;
            _flowsActive = flows.LiveCount;
            // A flow's count moves from the live sum to the closed sum when it leaves: the total never goes down.
            _retransmissions = Math.Max(_retransmissions, _retransmissionsClosed + live);
            foreach (var e in events) Apply(e);
        }
    }

    /// <summary>Capture thread, when a flow leaves the table (after the engine's detectors closed it).</summary>
    public void FlowClosed(Flow flow)
    {
        _retransmissionsClosed += Retransmissions(flow);
        if (flow.Tcp is { TsFirstRtt: > 0 } tcp) _handshakeRtt.Record(tcp.TsFirstRtt / 1e9);
        if (flow.App is not SmtpFlowState { Candidate: false } smtp) return;
        lock (_gate)
        {
            foreach (var tx in smtp.Session.Transactions)
            {
                if (tx.Outcome == SmtpOutcome.InProgress) continue;
                _mail[(int)tx.Outcome * Classes + ClassSlot(tx)]++;
            }
        }
    }

    // TcpIfMade: a flow whose only packet is a held SYN has no resend, and its state is not rebuilt for the count.
    private static long Retransmissions(Flow flow) => flow.TcpIfMade is { } t
        ? t.Client.Counters.Retransmissions + t.Client.Counters.FastRetransmissions + t.Client.Counters.SpuriousRetransmissions +
          t.Server.Counters.Retransmissions + t.Server.Counters.FastRetransmissions + t.Server.Counters.SpuriousRetransmissions
        : 0;

    /// <summary>The class of the reply that ended a deferred or rejected transaction: the final reply, a refused DATA,
    /// the refused MAIL, or the first refused recipient.</summary>
    private static int ClassSlot(SmtpTransaction tx)
    {
        if (tx.Outcome is not (SmtpOutcome.Deferred or SmtpOutcome.Rejected)) return Classes - 1;
        SmtpReply? reply = tx.FinalReply is { Code: >= 400 } f ? f : tx.DataRefusal;
        if (reply is null)
            foreach (var r in tx.Recipients)
                if (r.Reply is { Code: >= 400 } rr) { reply = rr; break; }
        var meaning = reply is not null ? SmtpReplyClass.Classify(reply) : SmtpReplyClass.Classify(tx.MailReplyCode, null, "");
        return (int)meaning.Kind;
    }

    private static string ClassName(int slot) => slot == Classes - 1 ? "none" : SmtpReplyClass.Name((SmtpReplyKind)slot);

    private void Apply(FindingEvent e)
    {
        var f = e.Finding;
        int slot = (int)f.Kind * Severities + (int)f.Severity;
        if (_openSlot.Remove(f.Id, out int was)) _findingsOpen[was]--;
        if (e.Change == FindingChange.Opened) _findingsTotal[slot]++;
        if (e.Change != FindingChange.Closed && f.State == FindingState.Open)
        {
            _openSlot[f.Id] = slot;
            _findingsOpen[slot]++;
        }
    }

    private long Read(ref long field)
    {
        lock (_gate) return field;
    }

    private IEnumerable<Measurement<long>> Drops()
    {
        lock (_gate)
            return [new(_kernelDrops, new KeyValuePair<string, object?>("where", "kernel")),
                    new(_interfaceDrops, new KeyValuePair<string, object?>("where", "interface"))];
    }

    private IEnumerable<Measurement<long>> FindingSeries(bool total)
    {
        var list = new List<Measurement<long>>(Kinds * Severities);
        lock (_gate)
            for (int k = 0; k < Kinds; k++)
                for (int s = 0; s < Severities; s++)
                    list.Add(new(total ? _findingsTotal[k * Severities + s] : _findingsOpen[k * Severities + s],
                        new("kind", ((FindingKind)k).Name()), new("severity", FindingKinds.SeverityName((Severity)s))));
        return list;
    }

    private long BlackHolePeers()
    {
        lock (_gate)
        {
            long n = 0;
            for (int s = 0; s < Severities; s++) n += _findingsOpen[(int)FindingKind.MtuBlackhole * Severities + s];
            return n;
        }
    }

    private IEnumerable<Measurement<long>> MailSeries()
    {
        var list = new List<Measurement<long>>();
        lock (_gate)
        {
            for (int o = 0; o < Outcomes; o++)
                for (int c = 0; c < Classes; c++)
                {
                    long n = _mail[o * Classes + c];
                    // Every outcome is always there (class none), so rate() sees the first one; other pairs once seen.
                    if (n == 0 && c != Classes - 1) continue;
                    list.Add(new(n, new("outcome", SmtpWordsOutcome((SmtpOutcome)o)), new("class", ClassName(c))));
                }
        }
        return list;
    }

    private static string SmtpWordsOutcome(SmtpOutcome o) => PathProbe.Findings.Kinds.SmtpWords.OutcomeName(o);

    public void Dispose() => _meter.Dispose();
}
