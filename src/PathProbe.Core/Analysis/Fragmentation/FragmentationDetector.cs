using System.Buffers.Binary;
using System.Globalization;
using PathProbe.Analysis.Dns;
using PathProbe.Decoding;
using PathProbe.Decoding.Reassembly;
using PathProbe.Findings;
using PathProbe.Flows;
using PathProbe.Primitives;
using PathProbe.Protocols.Dns;
using static PathProbe.Findings.FindingText;

namespace PathProbe.Analysis.Fragmentation;

public sealed class FragmentationOptions
{
    /// <summary>Senders (address, protocol, application, role) whose fragmented datagrams are summarised; further ones are counted.</summary>
    public int MaxSenders { get; init; } = 4_096;
    /// <summary>Flow ids listed per finding.</summary>
    public int MaxFlowIdsPerFinding { get; init; } = 16;
    /// <summary>ICMP "fragment reassembly time exceeded" messages kept to match with lost datagrams.</summary>
    public int MaxIcmpRecords { get; init; } = 1_024;
    /// <summary>Datagrams listed in the evidence of one fragment-loss finding.</summary>
    public int MaxDatagramsListed { get; init; } = 16;
    /// <summary>Findings of each kind per analysis; further ones are counted in <see cref="FragmentationDetector.FindingsSuppressed"/>.</summary>
    public int MaxFindingsPerKind { get; init; } = 200;
    /// <summary>A datagram still open at the end whose last fragment came this close to the end is not judged:
    /// its other fragments may simply not have been captured yet.</summary>
    public TimeSpan EndGrace { get; init; } = TimeSpan.FromSeconds(1);
}

/// <summary>
/// Who fragments what (<c>ip-fragmentation</c>: datagrams that arrived in fragments, per sender) and which fragmented
/// datagrams never arrived whole (<c>fragment-loss</c>, from the reassembler's incomplete records, tied to the flow, to
/// the DNS query whose answer was lost, and to ICMP "fragment reassembly time exceeded" from the receiver).
/// </summary>
/// <remarks>Per packet this costs nothing unless the packet was reassembled or is an ICMP reassembly-timeout error;
/// findings are decided at the end of input (<see cref="Finish"/>), when every incomplete datagram is known.</remarks>
public sealed class FragmentationDetector(FragmentationOptions options, DnsAnalyzer? dns, Action<Finding> report)
{
    private sealed class SenderGroup
    {
        public IpAddress Sender;
        public byte Protocol;
        public string? Application;
        public bool SenderIsServer;
        public long Datagrams;
        public int MaxDatagram, MaxFragments, LargestFragment;
        public bool AnyDf;
        public int MaxQueryEdns = -1;
        public Timestamp First;
        public readonly List<int> FlowIds = new();
        /// <summary>Every flow seen (the listed ones are capped), so <c>FlowCount</c> counts each flow once.</summary>
        public readonly HashSet<int> DistinctFlows = new();
        public int LastFlowId = -1;
        public int FlowCount => DistinctFlows.Count;
    }

    private readonly record struct SenderKey(IpAddress Sender, byte Protocol, string? Application, bool SenderIsServer);
    private readonly record struct IcmpExceeded(Timestamp Time, IpAddress Reporter, IpAddress Src, IpAddress Dst, uint IpId, byte Protocol);

    /// <summary>An incomplete datagram resolved to its flow and, for DNS, to its query.</summary>
    private sealed class Loss
    {
        public IncompleteDatagram Record;
        public int? FlowId;
        public int DnsId = -1;
        public string? Question;
        public DnsTransaction? Transaction;
        public int UdpLength = -1;
        public int IcmpReports;
    }

    private readonly Dictionary<SenderKey, SenderGroup> _senders = new();
    private readonly List<IcmpExceeded> _icmp = new();
    private readonly List<Loss> _losses = new();
    private int _incompleteSeen;

    /// <summary>Senders not summarised because <see cref="FragmentationOptions.MaxSenders"/> was reached.</summary>
    public long SendersNotTracked { get; private set; }
    public long IcmpNotKept { get; private set; }
    public long FindingsSuppressed { get; private set; }
    /// <summary>Datagrams open at the end whose fragments may still have been on their way (see <see cref="FragmentationOptions.EndGrace"/>).</summary>
    public long NotJudgedAtEnd { get; private set; }

    /// <summary>A datagram reassembled from fragments, decoded; <paramref name="dnsAnswer"/> is the DNS transaction
    /// it answered, when it did.</summary>
    public void OnReassembled(Flow flow, bool fromClient, ref DecodedPacket p, DnsTransaction? dnsAnswer)
    {
        var key = new SenderKey(p.Src, p.Protocol, flow.Application, !fromClient);
        if (!_senders.TryGetValue(key, out var g))
        {
            if (_senders.Count >= options.MaxSenders) { SendersNotTracked++; return; }
            g = new SenderGroup { Sender = p.Src, Protocol = p.Protocol, Application = flow.Application, SenderIsServer = !fromClient, First = p.Time };
            _senders.Add(key, g);
        }
        g.Datagrams++;
        g.MaxDatagram = Math.Max(g.MaxDatagram, p.IpPacketLength - p.IpHeaderLength);
        g.MaxFragments = Math.Max(g.MaxFragments, p.FragmentCount);
        g.LargestFragment = Math.Max(g.LargestFragment, p.LargestFragment);
        g.AnyDf |= p.DontFragment;
        if (dnsAnswer?.QueryEdnsSize is { } e) g.MaxQueryEdns = Math.Max(g.MaxQueryEdns, e);
        if (g.LastFlowId != flow.Id && g.DistinctFlows.Add(flow.Id) && g.FlowIds.Count < options.MaxFlowIdsPerFinding)
            g.FlowIds.Add(flow.Id);
        g.LastFlowId = flow.Id;
    }

    /// <summary>An ICMP error: keeps "fragment reassembly time exceeded" (ICMPv4 11/1, ICMPv6 3/1) with the quoted datagram.</summary>
    public void OnIcmp(ref DecodedPacket p)
    {
        bool v6 = p.Protocol == IpProtocols.IcmpV6;
        if (p.IcmpCode != 1 || p.IcmpType != (v6 ? 3 : 11) || !p.Quoted.Present) return;
        if (_icmp.Count >= options.MaxIcmpRecords) { IcmpNotKept++; return; }
        _icmp.Add(new IcmpExceeded(p.Time, p.Src, p.Quoted.Src, p.Quoted.Dst, p.Quoted.IpId, p.Quoted.Protocol));
    }

    /// <summary>Resolves incomplete datagrams recorded since the last call (cheap when none are new): finds the
    /// flow while it is still in <paramref name="flows"/> and decodes what was lost.</summary>
    public void CollectIncomplete(IReadOnlyList<IncompleteDatagram> incomplete, FlowTable flows)
    {
        if (incomplete.Count == _incompleteSeen) return;
        for (int i = _incompleteSeen; i < incomplete.Count; i++) _losses.Add(Resolve(incomplete[i], flows));
        _incompleteSeen = incomplete.Count;
    }

    private Loss Resolve(in IncompleteDatagram d, FlowTable flows)
    {
        var loss = new Loss { Record = d };
        var k = d.Key;
        if (d.FirstFragmentSeen && (d.SrcPort != 0 || d.DstPort != 0))
        {
            var fk = FlowKey.Create(k.Src, d.SrcPort, k.Dst, d.DstPort, k.Protocol, out _);
            loss.FlowId = flows.Find(fk)?.Id;
        }
        var head = d.FirstFragmentHead.Span;
        if (k.Protocol == IpProtocols.Udp && head.Length >= 8)
        {
            loss.UdpLength = BinaryPrimitives.ReadUInt16BigEndian(head[4..]);
            if ((d.SrcPort == 53 || d.DstPort == 53) && head.Length >= 8 + DnsHeader.Length)
            {
                // Only the first bytes of the message are here: the header and usually the question.
                var r = new DnsReader(head[8..]);
                if (r.ReadHeader(out var h) == DnsStatus.Ok)
                {
                    loss.DnsId = h.Id;
                    if (r.ReadQuestion(out var q) == DnsStatus.Ok)
                    {
                        string? name = DnsReader.ReadNameText(head[8..], q.NameOffset);
                        if (name is not null) loss.Question = $"{DnsTransaction.TypeName(q.Type)} {SafeText.Clean(name, 300)}";
                    }
                    if (loss.FlowId is { } fid && dns?.FindTransaction(fid, h.Id) is { } t && h.IsResponse)
                    {
                        loss.Transaction = t;
                        t.AnswerDatagramsLost++;
                    }
                }
            }
        }
        return loss;
    }

    /// <summary>End of input (after <see cref="CollectIncomplete"/> and the DNS analyzer's finish): fragment-loss
    /// findings, then one ip-fragmentation finding per sender.</summary>
    public void Finish(long end)
    {
        foreach (var l in _losses)
        {
            var d = l.Record;
            foreach (var ic in _icmp)
                if (ic.IpId == d.Key.Id && ic.Src == d.Key.Src && ic.Dst == d.Key.Dst && ic.Protocol == d.Key.Protocol) l.IcmpReports++;
        }
        long grace = (long)options.EndGrace.TotalNanoseconds;
        var judged = new List<Loss>();
        foreach (var l in _losses)
        {
            if (l.Record.Reason == IncompleteReason.OpenAtEnd && end - l.Record.LastSeen.UnixNanoseconds < grace && l.IcmpReports == 0)
                NotJudgedAtEnd++;
            else judged.Add(l);
        }
        // One finding per DNS question (all attempts: a retried query loses its answer again) or per flow direction.
        foreach (var group in judged.GroupBy(l => l.Transaction is { } t ? (object)t.Root
                                        : (l.Record.Key.Src, l.Record.Key.Dst, l.Record.Key.Protocol, l.Record.SrcPort, l.Record.DstPort, l.DnsId))
                                    .OrderBy(g => g.Min(l => l.Record.FirstSeen)))
            ReportLoss(group.OrderBy(l => l.Record.FirstSeen).ToList());

        int n = 0;
        foreach (var g in _senders.Values.OrderBy(g => g.First))
        {
            if (n++ >= options.MaxFindingsPerKind) { FindingsSuppressed++; continue; }
            ReportFragmentation(g, judged.Count(l => l.Record.Key.Src == g.Sender));
        }
    }

    private int _lossFindings;

    private void ReportLoss(List<Loss> items)
    {
        if (_lossFindings >= options.MaxFindingsPerKind) { FindingsSuppressed++; return; }
        _lossFindings++;
        var first = items[0];
        var d = first.Record;
        var k = d.Key;
        bool ports = d.FirstFragmentSeen && (d.SrcPort != 0 || d.DstPort != 0);
        string proto = k.Protocol switch { IpProtocols.Udp => "UDP", IpProtocols.Tcp => "TCP", _ => "protocol " + k.Protocol.ToString(CultureInfo.InvariantCulture) };
        string from = ports ? k.Src.ToEndpointString(d.SrcPort) : k.Src.ToString();
        bool samePorts = items.All(l => l.Record.SrcPort == d.SrcPort && l.Record.DstPort == d.DstPort);
        string to = ports && samePorts ? k.Dst.ToEndpointString(d.DstPort) : k.Dst.ToString();
        bool isDns = first.DnsId >= 0;
        // The latest attempt speaks for the question (its retry chain holds the earlier ones).
        var t = items.Select(l => l.Transaction).LastOrDefault(x => x is not null)?.Last;

        int total = first.UdpLength > 0 ? first.UdpLength : d.LastFragmentSeen ? d.TotalPayloadLength : -1;
        int estimated = total > 0 && d.FirstFragmentLength > 0 ? (total + d.FirstFragmentLength - 1) / d.FirstFragmentLength : -1;
        string what = isDns
            ? $"DNS {(t is null || t.Server == k.Src ? "answer" : "message")} for {first.Question ?? "(question not readable)"} (id 0x{first.DnsId:x4})"
            : $"{proto} datagrams";
        string count = items.Count == 1 ? "1 datagram" : $"{items.Count} datagrams";
        string size = total > 0 ? $" of {N(total)} bytes" : "";
        string missing = estimated > 0 && d.FirstFragmentSeen && !d.LastFragmentSeen
            ? $"{estimated - d.FragmentsReceived} of {estimated} fragments missing{(items.Count > 1 ? " each" : "")}"
            : "";
        string how = d.FirstFragmentSeen && !d.LastFragmentSeen
            ? (d.FragmentsReceived == 1 ? $"only the first fragment ({N(d.FirstFragmentLength)} bytes) arrived" : $"{d.FragmentsReceived} fragments arrived, the last never did")
            : !d.FirstFragmentSeen && d.LastFragmentSeen ? "the first fragment never arrived (later ones did)"
            : d.FirstFragmentSeen ? "a fragment in the middle never arrived"
            : "neither the first nor the last fragment arrived";

        int icmp = items.Sum(l => l.IcmpReports);
        string summary = $"{what} from {from} to {to}: {count}{size} never arrived whole" +
                         (missing.Length > 0 ? $", {missing} ({how})" : $" ({how})");
        Severity severity = Severity.Warning;
        if (isDns)
        {
            summary += "; " + Outcome(t);
            if (t is null || !t.Root.EventuallyAnswered) severity = Severity.Critical;
        }
        if (icmp > 0)
            summary += $"; {k.Dst} reported 'fragment reassembly time exceeded' (ICMP) for {(icmp == items.Count ? (items.Count == 1 ? "it" : "each") : $"{icmp} of them")}";

        var ev = new Evidence
        {
            { "sender", from },
            { "receiver", to },
            { "protocol", proto.ToLowerInvariant() },
            { "datagrams", items.Count },
            { "datagramBytes", total > 0 ? total : null },
            { "fragmentsExpected", estimated > 0 ? estimated : null },
            { "icmpReassemblyTimeExceeded", icmp },
        };
        if (isDns)
        {
            ev.Add("dnsId", $"0x{first.DnsId:x4}");
            ev.Add("question", first.Question);
            ev.Add("queryOutcome", t is null ? "no-query-seen" : t.Root.EventuallyAnswered ? "answered" : t.Root.Outcome == DnsOutcome.TimedOut ? "timeout" : DnsTransaction.OutcomeName(t.Outcome));
            if (t is not null) { ev.Add("querySends", t.ChainSends); ev.Add("queryEdnsSize", t.QueryEdnsSize); }
        }
        ev.Add("lost", items.Take(options.MaxDatagramsListed).Select(l => new Evidence
        {
            { "ipId", $"0x{l.Record.Key.Id:x4}" },
            { "firstSeen", l.Record.FirstSeen },
            { "fragmentsReceived", l.Record.FragmentsReceived },
            { "bytesReceived", l.Record.BytesReceived },
            { "firstFragmentSeen", l.Record.FirstFragmentSeen },
            { "lastFragmentSeen", l.Record.LastFragmentSeen },
            { "reason", l.Record.Reason switch { IncompleteReason.TimedOut => "timed-out", IncompleteReason.Evicted => "evicted", _ => "open-at-end" } },
        }).ToList());

        var flows = items.Select(l => l.FlowId).Where(f => f is not null).Select(f => f!.Value).Distinct().ToArray();
        bool txt = first.Question?.StartsWith("TXT ", StringComparison.Ordinal) == true || first.Question?.StartsWith("SPF ", StringComparison.Ordinal) == true;
        report(new Finding
        {
            Kind = "fragment-loss",
            Severity = severity,
            Flows = flows,
            Time = d.FirstSeen,
            Summary = summary,
            Evidence = ev,
            Advice = isDns
                ? $"IP fragments of large DNS answers are dropped between {k.Src} and {k.Dst} (a firewall or NAT that discards non-first fragments): " +
                  "lower the server's EDNS buffer size to 1232 bytes (DNS Flag Day 2020; NSD ipv4-edns-size, BIND max-udp-size, Unbound edns-buffer-size) " +
                  "so large answers come truncated and are retried over TCP, keep TCP port 53 open, or let fragments through the firewall" +
                  (txt ? "; shorten the TXT/SPF record (fewer include: mechanisms, ip4 ranges instead of single addresses)" : "")
                : $"fragments are dropped between {k.Src} and {k.Dst}: make the sender send smaller datagrams (lower the MTU or the application's datagram size, use TCP), or let IP fragments through the firewall on the path",
        });
    }

    private static string Outcome(DnsTransaction? last)
    {
        if (last is null) return "no matching query was captured";
        var root = last.Root;
        int sends = last.ChainSends;
        string sent = sends > 1 ? $"sent {sends} times over {DnsAnalyzer.Sec(last.LastSent.UnixNanoseconds - root.FirstSent.UnixNanoseconds)}" : "sent once";
        int guard = 0;
        for (var t = last; t is not null && guard++ < 64; t = t.RetryOf)
            if (t.Outcome == DnsOutcome.Answered)
                return $"the query ({sent}) was answered {DnsAnalyzer.Sec(t.Response!.Time.UnixNanoseconds - root.FirstSent.UnixNanoseconds)} after it was first sent" +
                       (t != root ? $" (by the retry with id {t.IdText} over {(t.Transport == DnsTransport.Tcp ? "TCP" : "UDP")}, flow {t.FlowId})" : "");
        return last.Outcome == DnsOutcome.TimedOut || root.Outcome == DnsOutcome.TimedOut
            ? $"the query was {sent} and never answered (dns-timeout)"
            : $"the query was {sent} and had no answer before the capture ended";
    }

    private void ReportFragmentation(SenderGroup g, int losses)
    {
        string proto = g.Protocol switch { IpProtocols.Udp => "UDP", IpProtocols.Tcp => "TCP", _ => "protocol " + g.Protocol.ToString(CultureInfo.InvariantCulture) };
        string what = g.Application switch
        {
            "dns" => g.SenderIsServer ? "DNS answers" : "DNS queries",
            "smtp" => "SMTP segments",
            _ => proto + " datagrams",
        };
        string sizes = $"{what} of {(g.Datagrams > 1 ? "up to " : "")}{N(g.MaxDatagram)} bytes over {proto} in {(g.Datagrams > 1 ? "up to " : "")}{g.MaxFragments} fragments " +
                       $"(largest IP packet {N(g.LargestFragment)} bytes{(g.AnyDf ? "" : ", DF not set")})";
        string summary = $"{g.Sender} sends {sizes}: {N(g.Datagrams)} datagram{(g.Datagrams == 1 ? "" : "s")} in {g.FlowCount} flow{(g.FlowCount == 1 ? "" : "s")}" +
                         (g.MaxQueryEdns > 0 ? $"; the queries offered an EDNS buffer of {N(g.MaxQueryEdns)} bytes" : "") +
                         "; fragments are dropped by many firewalls and NATs" +
                         (losses > 0 ? $", and {losses} fragmented datagram{(losses == 1 ? "" : "s")} from this sender never arrived whole (see fragment-loss)" : "");
        var ev = new Evidence
        {
            { "sender", g.Sender.ToString() },
            { "protocol", proto.ToLowerInvariant() },
            { "application", g.Application },
            { "datagrams", g.Datagrams },
            { "maxDatagramBytes", g.MaxDatagram },
            { "maxFragments", g.MaxFragments },
            { "largestFragment", g.LargestFragment },
            { "dontFragment", g.AnyDf },
            { "queryEdnsSize", g.MaxQueryEdns > 0 ? g.MaxQueryEdns : null },
            { "flowCount", g.FlowCount },
            { "incompleteDatagrams", losses },
        };
        report(new Finding
        {
            Kind = "ip-fragmentation",
            Severity = losses > 0 ? Severity.Warning : Severity.Info,
            Flows = g.FlowIds.ToArray(),
            Time = g.First,
            Summary = summary,
            Evidence = ev,
            Advice = g.Application == "dns"
                ? "fragmented DNS over UDP is fragile (dropped by firewalls, open to fragment spoofing): lower the server's EDNS buffer size to 1232 bytes " +
                  "(DNS Flag Day 2020; NSD ipv4-edns-size, BIND max-udp-size, Unbound edns-buffer-size) so large answers are truncated and retried over TCP, " +
                  "keep TCP port 53 open, and keep TXT/SPF records short"
                : "the sender emits datagrams larger than the path MTU: reduce the datagram size (application setting, MTU) or use a protocol that segments (TCP), and make sure fragments are allowed on the path",
        });
    }
}
