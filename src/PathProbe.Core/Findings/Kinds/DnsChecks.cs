using PathProbe.Primitives;

namespace PathProbe.Findings.Kinds;

/// <summary>Result of one mail DNS check (<c>analyze --dns-checks</c>): <c>dns-spf</c>, <c>dns-fcrdns</c>, <c>dns-mx</c>.
/// The check's own title, finding and fix come from <c>pathprobe dns</c>'s checker.</summary>
public sealed record DnsCheckVerdict : Verdict
{
    public required FindingKind CheckKind { get; init; }
    public override FindingKind Kind => CheckKind;
    public override string Identifier => $"{Check} {Domain} {Client} {Ehlo}";
    public override Severity Severity => Status switch { "error" => Severity.Critical, "warning" => Severity.Warning, _ => Severity.Info };
    public override Timestamp Time => At;
    public required Timestamp At { get; init; }
    /// <summary>The checker's check id (spf, spf-helo, ip-ptr, helo, mx, ...).</summary>
    public required string Check { get; init; }
    /// <summary>ok, info, warning, error.</summary>
    public required string Status { get; init; }
    public required string Title { get; init; }
    public required string Detail { get; init; }
    public string? Fix { get; init; }
    public required string Domain { get; init; }
    /// <summary>The sender checked (null for a recipient domain's MX).</summary>
    public IpAddress? Client { get; init; }
    public string? Ehlo { get; init; }
}

public sealed class DnsCheckWriter : FindingWriter<DnsCheckVerdict>
{
    protected override string One(DnsCheckVerdict v) => $"{SafeText.Clean(v.Title, 200)}: {v.Status}: {SafeText.Clean(v.Detail, 1000)}";

    protected override string? Advice(IReadOnlyList<DnsCheckVerdict> items) => items[0].Fix is { } f ? SafeText.Clean(f, 1000) : null;

    protected override void Evidence(EvidenceWriter w, IReadOnlyList<DnsCheckVerdict> items, Finding f)
    {
        var v = items[0];
        w.Token(EvidenceKeys.Check, v.Check);
        w.Token(EvidenceKeys.Status, v.Status);
        w.Text(EvidenceKeys.Title, v.Title);
        w.Text(EvidenceKeys.Detail, v.Detail);
        w.Text(EvidenceKeys.Domain, v.Domain);
        if (v.Client is { } c) w.Address(EvidenceKeys.Address, c);
        if (v.Ehlo is not null) w.Text(EvidenceKeys.Ehlo, v.Ehlo);
        w.List(EvidenceKeys.Flows);
        foreach (var ff in v.Flows) { w.Item(); w.Flow(ff); w.End(); }
        w.EndList();
    }
}

/// <summary><c>dns-check-failed</c>: a DNS check could not be made (the resolver got no definite answer).</summary>
public sealed record DnsCheckFailedVerdict : Verdict
{
    public override FindingKind Kind => FindingKind.DnsCheckFailed;
    public override string Identifier => $"{Check} {Domain}";
    public override Severity Severity => Severity.Warning;
    public override Timestamp Time => At;
    public required Timestamp At { get; init; }
    public required string Domain { get; init; }
    /// <summary>The resolver's reason ("REFUSED by 127.0.0.1:5300", "timeout after 2 s").</summary>
    public required string Error { get; init; }
    /// <summary>The check it stands for (its id and title) and the kind it would have been.</summary>
    public string? Check { get; init; }
    public string? Title { get; init; }
    public FindingKind? For { get; init; }
    public string? Fix { get; init; }
}

public sealed class DnsCheckFailedWriter : FindingWriter<DnsCheckFailedVerdict>
{
    protected override string One(DnsCheckFailedVerdict v) => v.Title is not null
        ? $"could not check {SafeText.Clean(v.Title, 200)} ({(v.For is { } k ? k.Name() : "dns")}): {SafeText.Clean(v.Error, 500)}"
        : $"the DNS checks for {SafeText.Clean(v.Domain, 300)} could not run: {SafeText.Clean(v.Error, 500)}";

    protected override string? Advice(IReadOnlyList<DnsCheckFailedVerdict> items) =>
        (items[0].Fix is { } f ? SafeText.Clean(f, 1000) : "name a resolver that answers") + " (--dns-server IP[:port])";

    protected override void Evidence(EvidenceWriter w, IReadOnlyList<DnsCheckFailedVerdict> items, Finding f)
    {
        var v = items[0];
        if (v.Check is not null) w.Token(EvidenceKeys.Check, v.Check);
        w.Token(EvidenceKeys.Status, "unknown");
        if (v.Title is not null) w.Text(EvidenceKeys.Title, v.Title);
        if (v.For is { } k) w.Token(EvidenceKeys.For, k.Name());
        w.Text(EvidenceKeys.Domain, v.Domain);
        w.Text(EvidenceKeys.Reason, v.Error);
        w.Text(EvidenceKeys.Error, v.Error);
        w.List(EvidenceKeys.Flows);
        foreach (var ff in items[0].Flows) { w.Item(); w.Flow(ff); w.End(); }
        w.EndList();
    }
}
