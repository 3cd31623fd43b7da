using System.Buffers.Binary;
using System.Globalization;
using PathProbe.Analysis.Dns;
using PathProbe.Decoding;
using PathProbe.Decoding.Reassembly;
using PathProbe.Findings;
using PathProbe.Flows;
using PathProbe.Primitives;
using PathProbe.Protocols.Dns;
using PathProbe.Findings.Kinds;

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
public sealed class FragmentationDetector(FragmentationOptions options, DnsAnalyzer? dns, FindingLog log)
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
        /// <summary>DNS: the question of the answer with the largest TXT record, that record's size, whether it is SPF,
        /// and the EDNS buffer the server announced in it.</summary>
        public string? Question;
        public int LargestTxtBytes;
        public bool LargestTxtIsSpf;
        public int? AnswerEdns;
        public int TxtRecords, TxtBytes;
        public int MaxQueryEdns = -1;
        public Timestamp First;
        public readonly List<int> FlowIds = new();
        public readonly List<Flow> FlowRecords = new();
        /// <summary>Flows that sent this group's datagrams, each counted once (the listed ones are capped): a flow is
        /// counted with its direction's first reassembled datagram (<see cref="DirectionStats.Fragmented"/>), so the
        /// count costs nothing per flow (a set of every flow id grew with a resolver's flows: 100,000 on set (c)).</summary>
        public int FlowCount;
    }

    private readonly record struct SenderKey(IpAddress Sender, byte Protocol, string? Application, bool SenderIsServer);
    private readonly record struct IcmpExceeded(Timestamp Time, IpAddress Reporter, IpAddress Src, IpAddress Dst, uint IpId, byte Protocol);

    /// <summary>An incomplete datagram resolved to its flow and, for DNS, to its query.</summary>
    private sealed class Loss
    {
        public IncompleteDatagram Record;
        public int? FlowId;
        public Flow? Flow;
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
        // The DNS answer that fragmented, and the TXT (SPF) record that made it large: linked to `pathprobe dns`'s
        // spf-size check, which warns about exactly these records.
        if (dnsAnswer is { Answered: true } && (g.Question is null || dnsAnswer.Answer.LargestTxtBytes > g.LargestTxtBytes))
        {
            ref readonly var resp = ref dnsAnswer.Answer;
            g.Question = dnsAnswer.Question;
            g.LargestTxtBytes = resp.LargestTxtBytes;
            g.LargestTxtIsSpf = resp.LargestTxtIsSpf;
            g.AnswerEdns = resp.EdnsSize;
            g.TxtRecords = resp.TxtRecords;
            g.TxtBytes = resp.TxtBytes;
        }
        // This direction's first reassembled datagram (the flow table counted this one before the detectors run): the
        // flow is new to the group, whose key (sender, protocol, application, side) is the direction's for its life.
        bool newFlow = (fromClient ? flow.ClientToServer : flow.ServerToClient).Fragmented == 1;
        if (newFlow) g.FlowCount++;
        if (newFlow && g.FlowIds.Count < options.MaxFlowIdsPerFinding)
        {
            g.FlowIds.Add(flow.Id);
            g.FlowRecords.Add(flow);
        }
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
            loss.Flow = flows.Find(fk);
            loss.FlowId = loss.Flow?.Id;
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
                    if (loss.Flow is { } flow && dns is not null && DnsAnalyzer.FindTransaction(flow, h.Id) is { } t && h.IsResponse)
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
        bool samePorts = items.All(l => l.Record.SrcPort == d.SrcPort && l.Record.DstPort == d.DstPort);
        bool isDns = first.DnsId >= 0;
        // The latest attempt speaks for the question (its retry chain holds the earlier ones).
        var t = items.Select(l => l.Transaction).LastOrDefault(x => x is not null)?.Last;
        int total = first.UdpLength > 0 ? first.UdpLength : d.LastFragmentSeen ? d.TotalPayloadLength : -1;
        int estimated = total > 0 && d.FirstFragmentLength > 0 ? (total + d.FirstFragmentLength - 1) / d.FirstFragmentLength : -1;
        var seen = d.FirstFragmentSeen && !d.LastFragmentSeen ? (d.FragmentsReceived == 1 ? FragmentsSeen.OnlyFirst : FragmentsSeen.FirstFewNotLast)
            : !d.FirstFragmentSeen && d.LastFragmentSeen ? FragmentsSeen.AllButFirst
            : d.FirstFragmentSeen ? FragmentsSeen.MiddleMissing : FragmentsSeen.NeitherEnd;

        QueryFate fate = QueryFate.NoQuerySeen;
        long? answeredAfter = null;
        DnsTransaction? answeredBy = null;
        if (t is not null)
        {
            var root = t.Root;
            int guard = 0;
            for (var x = t; x is not null && guard++ < 64; x = x.RetryOf)
                if (x.Outcome == DnsOutcome.Answered) { answeredBy = x; break; }
            fate = answeredBy is not null ? QueryFate.Answered
                : t.Outcome == DnsOutcome.TimedOut || root.Outcome == DnsOutcome.TimedOut ? QueryFate.TimedOut
                : t.Outcome == DnsOutcome.CaptureEnded ? QueryFate.CaptureEnded : QueryFate.Pending;
            if (answeredBy is not null) answeredAfter = answeredBy.Answer.Time.UnixNanoseconds - root.FirstSent.UnixNanoseconds;
        }
        var flows = new List<FlowFacts>();
        foreach (var l in items)
            if (l.Flow is { } fl && fl.Id == l.FlowId && !flows.Any(x => x.Id == fl.Id)) flows.Add(FlowFacts.Of(fl));
        string proto = k.Protocol switch { IpProtocols.Udp => "udp", IpProtocols.Tcp => "tcp", _ => $"protocol-{k.Protocol}" };
        log.Raise(new FragmentLossVerdict
        {
            Flows = flows,
            Source = new Endpoint(k.Src, ports ? d.SrcPort : (ushort)0),
            Destination = new Endpoint(k.Dst, ports && samePorts ? d.DstPort : (ushort)0),
            Protocol = proto,
            FirstSeen = d.FirstSeen,
            Lost = items.Take(options.MaxDatagramsListed).Select(l => new LostDatagram((int)l.Record.Key.Id, l.Record.FirstSeen, l.Record.FragmentsReceived,
                l.Record.BytesReceived, l.Record.FirstFragmentSeen, l.Record.LastFragmentSeen,
                l.Record.Reason switch { IncompleteReason.TimedOut => "timed-out", IncompleteReason.Evicted => "evicted", _ => "open-at-end" })).ToArray(),
            Datagrams = items.Count,
            DatagramBytes = total > 0 ? total : null,
            FragmentsExpected = estimated > 0 ? estimated : null,
            Seen = seen,
            FragmentsReceived = d.FragmentsReceived,
            FirstFragmentBytes = d.FirstFragmentLength,
            IcmpReports = items.Sum(l => l.IcmpReports),
            Critical = isDns && (t is null || !t.Root.EventuallyAnswered),
            DnsId = first.DnsId,
            Question = first.Question,
            AnswerToQuery = t is null || t.Server == k.Src,
            Fate = fate,
            QuerySends = t?.ChainSends ?? 0,
            QuerySpanNanos = t is null ? 0 : t.LastSent.UnixNanoseconds - t.Root.FirstSent.UnixNanoseconds,
            QueryEdnsSize = t?.QueryEdnsSize,
            AnsweredAfterNanos = answeredAfter,
            RetryId = answeredBy is not null && answeredBy != t?.Root ? answeredBy.Id : null,
            RetryTcp = answeredBy?.Transport == DnsTransport.Tcp,
            RetryFlow = answeredBy?.FlowId ?? 0,
        });
    }

    private void ReportFragmentation(SenderGroup g, int losses)
    {
        var flows = new List<FlowFacts>();
        for (int i = 0; i < g.FlowRecords.Count; i++)
            if (g.FlowRecords[i].Id == g.FlowIds[i]) flows.Add(FlowFacts.Of(g.FlowRecords[i]));
        log.Raise(new IpFragmentationVerdict
        {
            Flows = flows,
            Sender = g.Sender,
            Protocol = g.Protocol switch { IpProtocols.Udp => "udp", IpProtocols.Tcp => "tcp", _ => $"protocol-{g.Protocol}" },
            Application = g.Application,
            SenderIsServer = g.SenderIsServer,
            First = g.First,
            Datagrams = g.Datagrams,
            MaxDatagramBytes = g.MaxDatagram,
            MaxFragments = g.MaxFragments,
            LargestFragment = g.LargestFragment,
            DontFragment = g.AnyDf,
            QueryEdnsSize = g.MaxQueryEdns > 0 ? g.MaxQueryEdns : null,
            FlowCount = g.FlowCount,
            IncompleteDatagrams = losses,
            Question = g.Question,
            LargestTxtBytes = g.LargestTxtBytes,
            LargestTxtIsSpf = g.LargestTxtIsSpf,
            AnswerEdnsSize = g.AnswerEdns,
            TxtRecords = g.TxtRecords,
            TxtBytes = g.TxtBytes,
        });
    }
}
