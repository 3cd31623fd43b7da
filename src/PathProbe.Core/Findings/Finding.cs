using PathProbe.Primitives;

namespace PathProbe.Findings;

public enum Severity : byte { Info, Warning, Critical }

/// <summary>The closed set of finding kinds. Each has one row in <see cref="FindingKinds"/> (stable kebab-case name,
/// default severity, title, writer) and one verdict type with one writer in <c>Findings/Kinds</c>.</summary>
public enum FindingKind : byte
{
    Stall, ConnectTimeout, ConnectRefused, RetransmissionStorm,
    MtuBlackhole, MssMismatch, IcmpTooBig,
    DnsTimeout, DnsTruncated, IpFragmentation, FragmentLoss,
    SmtpDeferral, SmtpReject, SmtpAborted, SmtpSlowReply,
    DnsSpf, DnsFcrdns, DnsMx, DnsCheckFailed,
}

/// <summary>One row of the kind registry.</summary>
public sealed record FindingKindInfo(FindingKind Kind, string Name, Severity DefaultSeverity, string Title, FindingWriter Writer);

/// <summary>
/// The registry of finding kinds: declared once here (like Roslyn's DiagnosticDescriptor or Wireshark's
/// ei_register_info), read by every output. Adding a kind: an enum member, a row here, and a verdict with its writer in
/// <c>Findings/Kinds</c>.
/// </summary>
public static class FindingKinds
{
    private static readonly FindingKindInfo[] Table =
    [
        new(FindingKind.Stall, "stall", Severity.Warning, "TCP stall", new Kinds.StallWriter()),
        new(FindingKind.ConnectTimeout, "connect-timeout", Severity.Warning, "connection attempt unanswered", new Kinds.ConnectTimeoutWriter()),
        new(FindingKind.ConnectRefused, "connect-refused", Severity.Warning, "connection refused", new Kinds.ConnectRefusedWriter()),
        new(FindingKind.RetransmissionStorm, "retransmission-storm", Severity.Warning, "retransmission storm", new Kinds.StormWriter()),
        new(FindingKind.MtuBlackhole, "mtu-blackhole", Severity.Critical, "path-MTU black hole", new Kinds.BlackHoleWriter()),
        new(FindingKind.MssMismatch, "mss-mismatch", Severity.Warning, "MSS larger than the path allows", new Kinds.MssMismatchWriter()),
        new(FindingKind.IcmpTooBig, "icmp-too-big", Severity.Info, "ICMP fragmentation needed / packet too big", new Kinds.IcmpTooBigWriter()),
        new(FindingKind.DnsTimeout, "dns-timeout", Severity.Warning, "DNS query without an answer", new Kinds.DnsTimeoutWriter()),
        new(FindingKind.DnsTruncated, "dns-truncated", Severity.Info, "truncated DNS answer", new Kinds.DnsTruncatedWriter()),
        new(FindingKind.IpFragmentation, "ip-fragmentation", Severity.Info, "IP fragmentation", new Kinds.IpFragmentationWriter()),
        new(FindingKind.FragmentLoss, "fragment-loss", Severity.Warning, "fragmented datagram lost", new Kinds.FragmentLossWriter()),
        new(FindingKind.SmtpDeferral, "smtp-deferral", Severity.Warning, "SMTP deferral (4xx)", new Kinds.SmtpFailureWriter(reject: false)),
        new(FindingKind.SmtpReject, "smtp-reject", Severity.Warning, "SMTP rejection (5xx)", new Kinds.SmtpFailureWriter(reject: true)),
        new(FindingKind.SmtpAborted, "smtp-aborted", Severity.Critical, "SMTP session cut off", new Kinds.SmtpAbortedWriter()),
        new(FindingKind.SmtpSlowReply, "smtp-slow-reply", Severity.Warning, "slow SMTP reply", new Kinds.SmtpSlowReplyWriter()),
        new(FindingKind.DnsSpf, "dns-spf", Severity.Warning, "SPF check", new Kinds.DnsCheckWriter()),
        new(FindingKind.DnsFcrdns, "dns-fcrdns", Severity.Warning, "reverse DNS check", new Kinds.DnsCheckWriter()),
        new(FindingKind.DnsMx, "dns-mx", Severity.Warning, "MX check", new Kinds.DnsCheckWriter()),
        new(FindingKind.DnsCheckFailed, "dns-check-failed", Severity.Warning, "DNS check could not run", new Kinds.DnsCheckFailedWriter()),
    ];

    static FindingKinds()
    {
        for (int i = 0; i < Table.Length; i++)
            if ((int)Table[i].Kind != i) throw new InvalidOperationException($"FindingKinds row {i} is {Table[i].Kind}: keep the table in enum order");
        if (Table.Length != Enum.GetValues<FindingKind>().Length) throw new InvalidOperationException("every FindingKind needs a row in FindingKinds");
    }

    public static IReadOnlyList<FindingKindInfo> All => Table;
    public static FindingKindInfo Info(this FindingKind kind) => Table[(int)kind];
    /// <summary>The stable kebab-case name ("mtu-blackhole").</summary>
    public static string Name(this FindingKind kind) => Table[(int)kind].Name;
    public static FindingWriter Writer(this FindingKind kind) => Table[(int)kind].Writer;

    public static bool TryParse(string name, out FindingKind kind)
    {
        foreach (var row in Table)
            if (row.Name == name) { kind = row.Kind; return true; }
        kind = default;
        return false;
    }

    public static string SeverityName(Severity s) => s switch
    {
        Severity.Critical => "critical",
        Severity.Warning => "warning",
        _ => "info",
    };
}

/// <summary>
/// The typed facts a detector decided on: numbers, addresses, enums, never sentences. One record type per kind
/// (<c>Findings/Kinds</c>); its writer turns it into words and JSON. Immutable: an update is a new record.
/// </summary>
public abstract record Verdict
{
    public abstract FindingKind Kind { get; }
    /// <summary>Verdicts of one kind with the same identifier are one finding (Zeek's notice identifier): eight stalls
    /// toward one peer are one stall finding that lists eight flows.</summary>
    public abstract string Identifier { get; }
    public abstract Severity Severity { get; }
    /// <summary>When the problem began.</summary>
    public abstract Timestamp Time { get; }
    /// <summary>The flows the verdict names, with their own numbers (<see cref="FlowFacts.Of"/>): one number per fact.</summary>
    public IReadOnlyList<FlowFacts> Flows { get; init; } = [];
    /// <summary>Still in progress when this version was made (live capture).</summary>
    public bool Ongoing { get; init; }
    /// <summary>The packets this verdict rests on went missing where the capture itself lost packets: it may be an
    /// artefact of the capture (set after the analysis by <see cref="CaptureArtefacts"/>); null when not.</summary>
    public CaptureArtefact? CaptureArtefact { get; init; }
}

public enum FindingState : byte { Open, Closed }

/// <summary>
/// One finding as the user sees it: a kind, a stable id, the verdicts grouped under it (one per flow or per
/// occurrence; group-native kinds such as <c>mtu-blackhole</c> have one), and its lifecycle. Immutable: the
/// <see cref="FindingLog"/> publishes a new version on every change, with the same <see cref="Id"/>.
/// </summary>
public sealed class Finding
{
    private string? _summary, _advice;
    private bool _adviceDone;

    public Finding(int id, int version, IReadOnlyList<Verdict> items, int itemsNotListed = 0)
    {
        if (items.Count == 0) throw new ArgumentException("a finding has at least one verdict", nameof(items));
        Id = id;
        Version = version;
        Items = items;
        ItemsNotListed = itemsNotListed;
        Kind = items[0].Kind;
        Identifier = items[0].Identifier;
        Severity sev = Severity.Info;
        long time = long.MaxValue;
        bool ongoing = false;
        foreach (var v in items)
        {
            if (v.Kind != Kind) throw new ArgumentException("verdicts of one finding share a kind", nameof(items));
            if (v.Severity > sev) sev = v.Severity;
            if (v.Time.UnixNanoseconds < time) time = v.Time.UnixNanoseconds;
            ongoing |= v.Ongoing;
        }
        // A finding every verdict of which may be a capture artefact is never critical (and so never decides the exit
        // status): the capture, not the path, may have lost the packets.
        bool artefact = true;
        foreach (var v in items) artefact &= v.CaptureArtefact is not null;
        if (artefact)
        {
            CaptureArtefact = items[0].CaptureArtefact;
            if (sev > Severity.Warning) sev = Severity.Warning;
        }
        Severity = sev;
        Time = new Timestamp(time);
        State = ongoing ? FindingState.Open : FindingState.Closed;
    }

    /// <summary>This version with one more verdict counted and not kept (past the per-finding limit): the same verdicts,
    /// so nothing else is worked out again (a flood adds them by the thousand).</summary>
    internal Finding WithOneMoreNotListed() => new(this);

    private Finding(Finding f)
    {
        Id = f.Id;
        Version = f.Version + 1;
        Items = f.Items;
        ItemsNotListed = f.ItemsNotListed + 1;
        Kind = f.Kind;
        Identifier = f.Identifier;
        Severity = f.Severity;
        CaptureArtefact = f.CaptureArtefact;
        Time = f.Time;
        State = f.State;
        _flows = f._flows;
    }

    /// <summary>Stable within one analysis; the same across versions.</summary>
    public int Id { get; }
    public int Version { get; }
    public FindingKind Kind { get; }
    public string Identifier { get; }
    public IReadOnlyList<Verdict> Items { get; }
    /// <summary>Verdicts beyond the per-finding limit: counted, not kept.</summary>
    public int ItemsNotListed { get; }
    public Severity Severity { get; }
    /// <summary>Every verdict rests on packets missing where the capture itself lost packets: a possible artefact of
    /// the capture (severity at most warning); null otherwise.</summary>
    public CaptureArtefact? CaptureArtefact { get; }
    public Timestamp Time { get; }
    public FindingState State { get; }
    public bool Ongoing => State == FindingState.Open;
    /// <summary>Ids of every flow the verdicts name, ascending (worked out when first read: a finding in a flood gets a
    /// new version with every verdict, and most versions are never read).</summary>
    public IReadOnlyList<int> Flows => _flows ??= FlowIds(Items);

    private int[]? _flows;

    private static int[] FlowIds(IReadOnlyList<Verdict> items)
    {
        int count = 0;
        foreach (var v in items) count += v.Flows.Count;
        var ids = new int[count];
        int at = 0;
        foreach (var v in items)
            for (int i = 0; i < v.Flows.Count; i++) ids[at++] = v.Flows[i].Id;
        Array.Sort(ids);
        int n = 0;
        for (int i = 0; i < ids.Length; i++)
            if (n == 0 || ids[i] != ids[n - 1]) ids[n++] = ids[i];
        return n == ids.Length ? ids : ids[..n];
    }

    public string Name => Kind.Name();
    public string Summary => _summary ??= Kind.Writer().Summary(this);
    public string? Advice
    {
        get
        {
            if (!_adviceDone) { _advice = Kind.Writer().Advice(this); _adviceDone = true; }
            return _advice;
        }
    }

    /// <summary>The single verdict of a group-native kind (or the first of a group), typed.</summary>
    public T Verdict<T>() where T : Verdict => (T)Items[0];

    public IEnumerable<T> VerdictsOf<T>() where T : Verdict => Items.OfType<T>();

    public override string ToString() => $"#{Id} {Name} ({FindingKinds.SeverityName(Severity)}): {Summary}";
}
