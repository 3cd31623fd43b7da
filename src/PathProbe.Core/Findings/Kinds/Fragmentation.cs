using PathProbe.Primitives;
using static PathProbe.Findings.FindingText;

namespace PathProbe.Findings.Kinds;

/// <summary><c>ip-fragmentation</c>: datagrams that arrived in IP fragments, per sender, protocol, application and role.</summary>
public sealed record IpFragmentationVerdict : Verdict
{
    public override FindingKind Kind => FindingKind.IpFragmentation;
    public override string Identifier => $"{Sender} {Protocol} {Application} {SenderIsServer}";
    public override Severity Severity => IncompleteDatagrams > 0 ? Severity.Warning : Severity.Info;
    public override Timestamp Time => First;
    public required IpAddress Sender { get; init; }
    public required string Protocol { get; init; }
    public string? Application { get; init; }
    public bool SenderIsServer { get; init; }
    public required Timestamp First { get; init; }
    public long Datagrams { get; init; }
    public int MaxDatagramBytes { get; init; }
    public int MaxFragments { get; init; }
    public int LargestFragment { get; init; }
    public bool DontFragment { get; init; }
    public int? QueryEdnsSize { get; init; }
    public int FlowCount { get; init; }
    public int IncompleteDatagrams { get; init; }
    /// <summary>DNS: the question of the fragmented answer with the largest TXT record ("TXT example.test"), that
    /// record's size in text bytes (0 when the answer held no TXT), whether it is SPF, and the EDNS buffer the server
    /// announced.</summary>
    public string? Question { get; init; }
    public int LargestTxtBytes { get; init; }
    public bool LargestTxtIsSpf { get; init; }
    public int? AnswerEdnsSize { get; init; }

    /// <summary>"; the answer to TXT example.test carries a 2,800-byte SPF record (over the 512 bytes RFC 7208 §3.4
    /// asks for; `pathprobe dns` warns about it as spf-size)", or "".</summary>
    internal string RecordWords() => Question is null ? "" :
        TxtRecords == 1
            ? $"; the answer to {Question} carries a {N(LargestTxtBytes)}-byte {(LargestTxtIsSpf ? "SPF" : "TXT")} record" +
              (LargestTxtIsSpf && LargestTxtBytes > 512 ? " (over the 512 bytes RFC 7208 §3.4 asks for; `pathprobe dns` reports it as spf-size)" : "")
            : TxtRecords > 1
                ? $"; the answer to {Question} carries {N(TxtRecords)} TXT records ({N(TxtBytes)} bytes of text, the largest {N(LargestTxtBytes)}{(LargestTxtIsSpf ? ", an SPF record" : "")})"
                : $"; the answer to {Question}";
    /// <summary>TXT records in that answer and their text bytes together.</summary>
    public int TxtRecords { get; init; }
    public int TxtBytes { get; init; }
}

public sealed class IpFragmentationWriter : FindingWriter<IpFragmentationVerdict>
{
    protected override string One(IpFragmentationVerdict g)
    {
        string proto = g.Protocol.StartsWith("protocol-", StringComparison.Ordinal) ? g.Protocol.Replace('-', ' ') : g.Protocol.ToUpperInvariant();
        string what = g.Application switch
        {
            "dns" => g.SenderIsServer ? "DNS answers" : "DNS queries",
            "smtp" => "SMTP segments",
            _ => proto + " datagrams",
        };
        string sizes = $"{what} of {(g.Datagrams > 1 ? "up to " : "")}{N(g.MaxDatagramBytes)} bytes over {proto} in {(g.Datagrams > 1 ? "up to " : "")}{g.MaxFragments} fragments " +
                       $"(largest IP packet {N(g.LargestFragment)} bytes{(g.DontFragment ? "" : ", DF not set")})";
        return $"{g.Sender} sends {sizes}: {Count(g.Datagrams, "datagram")} in {Count(g.FlowCount, "flow")}" +
               g.RecordWords() +
               (g.QueryEdnsSize is { } e ? $"; the queries offered an EDNS buffer of {N(e)} bytes" : "") +
               (g.AnswerEdnsSize is { } ae ? $" and the server announced {N(ae)}" : "") +
               "; fragments are dropped by many firewalls and NATs" +
               (g.IncompleteDatagrams > 0 ? $", and {Count(g.IncompleteDatagrams, "fragmented datagram")} from this sender never arrived whole (see fragment-loss)" : "");
    }

    protected override string? Advice(IReadOnlyList<IpFragmentationVerdict> items) => items[0].Application == "dns"
        ? "fragmented DNS over UDP is fragile (dropped by firewalls, open to fragment spoofing): lower the server's EDNS buffer size to 1232 bytes " +
          "(DNS Flag Day 2020; NSD ipv4-edns-size, BIND max-udp-size, Unbound edns-buffer-size) so large answers are truncated and retried over TCP, " +
          "keep TCP port 53 open, and keep TXT/SPF records short" +
          (items.FirstOrDefault(v => v.LargestTxtBytes > 0) is { } t
              ? $": the {(t.TxtRecords == 1 ? $"{N(t.TxtBytes)}-byte {(t.LargestTxtIsSpf ? "SPF" : "TXT")} record" : $"{N(t.TxtRecords)} TXT records ({N(t.TxtBytes)} bytes)")} of {t.Question} {(t.TxtRecords == 1 ? "is" : "are")} what makes the answer this large" +
                (t.LargestTxtIsSpf ? " (shorten it under 512 bytes: merge ip4: ranges, drop unused includes; `pathprobe dns` checks its size)" : " (move it to a subdomain or shorten it)")
              : "")
        : "the sender emits datagrams larger than the path MTU: reduce the datagram size (application setting, MTU) or use a protocol that segments (TCP), and make sure fragments are allowed on the path";

    protected override void Evidence(EvidenceWriter w, IReadOnlyList<IpFragmentationVerdict> items, Finding f)
    {
        var g = items[0];
        w.Address(EvidenceKeys.Peer, g.Sender);
        w.Token(EvidenceKeys.Protocol, g.Protocol);
        w.Token(EvidenceKeys.Application, g.Application);
        w.Int(EvidenceKeys.Datagrams, g.Datagrams);
        w.Int(EvidenceKeys.MaxDatagramBytes, g.MaxDatagramBytes);
        w.Int(EvidenceKeys.MaxFragments, g.MaxFragments);
        w.Int(EvidenceKeys.LargestFragment, g.LargestFragment);
        w.Bool(EvidenceKeys.DontFragment, g.DontFragment);
        w.Int(EvidenceKeys.QueryEdnsSize, g.QueryEdnsSize);
        w.Int(EvidenceKeys.FlowCount, g.FlowCount);
        w.Int(EvidenceKeys.IncompleteDatagrams, g.IncompleteDatagrams);
        w.List(EvidenceKeys.Flows);
        foreach (var ff in g.Flows) { w.Item(); w.Flow(ff); w.End(); }
        w.EndList();
    }
}

/// <summary>Which fragments of a lost datagram arrived.</summary>
public enum FragmentsSeen : byte { OnlyFirst, FirstFewNotLast, AllButFirst, MiddleMissing, NeitherEnd }

/// <summary>What became of the DNS query whose answer was lost.</summary>
public enum QueryFate : byte { NoQuerySeen, Answered, TimedOut, CaptureEnded, Pending }

/// <summary>One datagram that never arrived whole.</summary>
public sealed record LostDatagram(int IpId, Timestamp FirstSeen, int FragmentsReceived, int BytesReceived, bool FirstFragmentSeen, bool LastFragmentSeen, string Reason);

/// <summary><c>fragment-loss</c>: fragmented datagrams that never arrived whole, per DNS question or flow direction.</summary>
public sealed record FragmentLossVerdict : Verdict
{
    public override FindingKind Kind => FindingKind.FragmentLoss;
    public override string Identifier => $"{Source} {Destination} {DnsId} {FirstSeen.UnixNanoseconds}";
    public override Severity Severity => Critical ? Severity.Critical : Severity.Warning;
    public override Timestamp Time => FirstSeen;
    public required Endpoint Source { get; init; }
    public required Endpoint Destination { get; init; }
    public required string Protocol { get; init; }
    public required Timestamp FirstSeen { get; init; }
    public required IReadOnlyList<LostDatagram> Lost { get; init; }
    public int Datagrams { get; init; }
    public int? DatagramBytes { get; init; }
    public int? FragmentsExpected { get; init; }
    public FragmentsSeen Seen { get; init; }
    public int FragmentsReceived { get; init; }
    public int FirstFragmentBytes { get; init; }
    public int IcmpReports { get; init; }
    public bool Critical { get; init; }
    // DNS
    public int DnsId { get; init; } = -1;
    public string? Question { get; init; }
    public bool AnswerToQuery { get; init; } = true;
    public QueryFate Fate { get; init; }
    public int QuerySends { get; init; }
    public long QuerySpanNanos { get; init; }
    public int? QueryEdnsSize { get; init; }
    public long? AnsweredAfterNanos { get; init; }
    /// <summary>Answered by a retry (a new id or TCP): its id, transport and flow.</summary>
    public int? RetryId { get; init; }
    public bool RetryTcp { get; init; }
    public int RetryFlow { get; init; }
}

public sealed class FragmentLossWriter : FindingWriter<FragmentLossVerdict>
{
    protected override string One(FragmentLossVerdict v)
    {
        bool isDns = v.DnsId >= 0;
        string proto = v.Protocol.StartsWith("protocol-", StringComparison.Ordinal) ? v.Protocol.Replace('-', ' ') : v.Protocol.ToUpperInvariant();
        string what = isDns
            ? $"DNS {(v.AnswerToQuery ? "answer" : "message")} for {v.Question ?? "(question not readable)"} (id {v.DnsId})"
            : $"{proto} datagrams";
        string count = Count(v.Datagrams, "datagram");
        string size = v.DatagramBytes is { } b ? $" of {N(b)} bytes" : "";
        string missing = v.FragmentsExpected is { } exp && v.Seen is FragmentsSeen.OnlyFirst or FragmentsSeen.FirstFewNotLast
            ? $"{exp - v.FragmentsReceived} of {exp} fragments missing{(v.Datagrams > 1 ? " each" : "")}"
            : "";
        string how = v.Seen switch
        {
            FragmentsSeen.OnlyFirst => $"only the first fragment ({N(v.FirstFragmentBytes)} bytes) arrived",
            FragmentsSeen.FirstFewNotLast => $"{v.FragmentsReceived} fragments arrived, the last never did",
            FragmentsSeen.AllButFirst => "the first fragment never arrived (later ones did)",
            FragmentsSeen.MiddleMissing => "a fragment in the middle never arrived",
            _ => "neither the first nor the last fragment arrived",
        };
        string s = $"{what} from {v.Source} to {v.Destination}: {count}{size} never arrived whole" + (missing.Length > 0 ? $", {missing} ({how})" : $" ({how})");
        if (isDns) s += "; " + Fate(v);
        if (v.IcmpReports > 0)
            s += $"; {v.Destination.Ip} reported 'fragment reassembly time exceeded' (ICMP) for {(v.IcmpReports == v.Datagrams ? (v.Datagrams == 1 ? "it" : "each") : $"{v.IcmpReports} of them")}";
        return s;
    }

    private static string Fate(FragmentLossVerdict v)
    {
        if (v.Fate == QueryFate.NoQuerySeen) return "no matching query was captured";
        string sent = v.QuerySends > 1 ? $"sent {v.QuerySends} times over {Sec(v.QuerySpanNanos)}" : "sent once";
        if (v.Fate == QueryFate.Answered)
            return $"the query ({sent}) was answered {Sec(v.AnsweredAfterNanos ?? 0)} after it was first sent" +
                   (v.RetryId is { } id ? $" (by the retry with id {id} over {(v.RetryTcp ? "TCP" : "UDP")}, flow {v.RetryFlow})" : "");
        return v.Fate == QueryFate.TimedOut
            ? $"the query was {sent} and never answered (dns-timeout)"
            : $"the query was {sent} and had no answer before the capture ended";
    }

    public static string FateName(QueryFate f) => f switch
    {
        QueryFate.NoQuerySeen => "no-query-seen",
        QueryFate.Answered => "answered",
        QueryFate.TimedOut => "timeout",
        QueryFate.CaptureEnded => "capture-ended",
        _ => "pending",
    };

    protected override string? Advice(IReadOnlyList<FragmentLossVerdict> items)
    {
        var v = items[0];
        bool txt = v.Question?.StartsWith("TXT ", StringComparison.Ordinal) == true || v.Question?.StartsWith("SPF ", StringComparison.Ordinal) == true;
        return v.DnsId >= 0
            ? $"IP fragments of large DNS answers are dropped between {v.Source.Ip} and {v.Destination.Ip} (a firewall or NAT that discards non-first fragments): " +
              "lower the server's EDNS buffer size to 1232 bytes (DNS Flag Day 2020; NSD ipv4-edns-size, BIND max-udp-size, Unbound edns-buffer-size) " +
              "so large answers come truncated and are retried over TCP, keep TCP port 53 open, or let fragments through the firewall" +
              (txt ? $"; the answer to {v.Question} is {(v.DatagramBytes is { } b ? $"{N(b - 8)} bytes of DNS" : "larger than one packet")}, over the 512 bytes RFC 7208 §3.4 " +
                     "asks SPF to fit and the 1232 that avoids fragments: shorten the TXT/SPF record (fewer include: mechanisms, ip4 ranges instead of single addresses); " +
                     $"`pathprobe dns {v.Question![4..]}` measures it (its spf-size check)" : "")
            : $"fragments are dropped between {v.Source.Ip} and {v.Destination.Ip}: make the sender send smaller datagrams (lower the MTU or the application's datagram size, use TCP), or let IP fragments through the firewall on the path";
    }

    protected override void Evidence(EvidenceWriter w, IReadOnlyList<FragmentLossVerdict> items, Finding f)
    {
        var v = items[0];
        w.Endpoint(EvidenceKeys.Sender, v.Source);
        w.Endpoint(EvidenceKeys.Receiver, v.Destination);
        w.Token(EvidenceKeys.Protocol, v.Protocol);
        w.Int(EvidenceKeys.Datagrams, v.Datagrams);
        w.Int(EvidenceKeys.DatagramBytes, v.DatagramBytes);
        w.Int(EvidenceKeys.FragmentsExpected, v.FragmentsExpected);
        w.Int(EvidenceKeys.IcmpReassemblyTimeExceeded, v.IcmpReports);
        if (v.DnsId >= 0)
        {
            w.Int(EvidenceKeys.DnsId, v.DnsId);
            w.Text(EvidenceKeys.Question, v.Question);
            w.Token(EvidenceKeys.QueryOutcome, FateName(v.Fate));
            if (v.Fate != QueryFate.NoQuerySeen) { w.Int(EvidenceKeys.Sends, v.QuerySends); w.Int(EvidenceKeys.QueryEdnsSize, v.QueryEdnsSize); }
        }
        w.List(EvidenceKeys.Lost);
        foreach (var l in v.Lost)
        {
            w.Item();
            w.Int(EvidenceKeys.IpId, l.IpId);
            w.Time(EvidenceKeys.FirstSent, l.FirstSeen);
            w.Int(EvidenceKeys.FragmentsReceived, l.FragmentsReceived);
            w.Int(EvidenceKeys.BytesReceived, l.BytesReceived);
            w.Bool(EvidenceKeys.FirstFragmentSeen, l.FirstFragmentSeen);
            w.Bool(EvidenceKeys.LastFragmentSeen, l.LastFragmentSeen);
            w.Token(EvidenceKeys.Ended, l.Reason);
            w.End();
        }
        w.EndList();
        w.List(EvidenceKeys.Flows);
        foreach (var ff in v.Flows) { w.Item(); w.Flow(ff); w.End(); }
        w.EndList();
    }
}
