using PathProbe.Primitives;
using static PathProbe.Findings.FindingText;

namespace PathProbe.Findings.Kinds;

/// <summary><c>dns-timeout</c>: a question without an answer (all its attempts).</summary>
public sealed record DnsTimeoutVerdict : Verdict
{
    public override FindingKind Kind => FindingKind.DnsTimeout;
    public override string Identifier => Server.ToString();
    public override Severity Severity => Severity.Warning;
    public override Timestamp Time => FirstSent;
    public required Endpoint Client { get; init; }
    public required Endpoint Server { get; init; }
    /// <summary>"TXT big.example.test", cleaned.</summary>
    public required string Question { get; init; }
    /// <summary>DNS id of the first attempt, and of the last.</summary>
    public required ushort Id { get; init; }
    public ushort LastId { get; init; }
    public required bool Tcp { get; init; }
    public required int Sends { get; init; }
    public required Timestamp FirstSent { get; init; }
    public required Timestamp LastSent { get; init; }
    public required long WaitedNanos { get; init; }
    public int? QueryEdnsSize { get; init; }
    /// <summary>The client endpoints the question was sent from (distinct), and how many transactions the retry chain
    /// holds: a retry from the same port with a new id is one endpoint and two tries.</summary>
    public IReadOnlyList<Endpoint> Attempts { get; init; } = [];
    public int Tries { get; init; } = 1;
    public int AnswerDatagramsLost { get; init; }
}

public sealed class DnsTimeoutWriter : FindingWriter<DnsTimeoutVerdict>
{
    protected override string One(DnsTimeoutVerdict v)
    {
        string how = v.Sends > 1
            ? $" {v.Sends} times over {Sec(v.LastSent.UnixNanoseconds - v.FirstSent.UnixNanoseconds)}" +
              (v.Tries > 1 ? (v.LastId != v.Id ? " (retried with a new id)" : " (retried from a new port)") : "")
            : "";
        return $"{v.Client.Ip} asked {v.Server} for {v.Question} (id {v.Id}, {(v.Tcp ? "TCP" : "UDP")}){how} and got no answer in {Sec(v.WaitedNanos)}" +
               (v.AnswerDatagramsLost > 0 ? $": {Count(v.AnswerDatagramsLost, "answer datagram")} {(v.AnswerDatagramsLost == 1 ? "was" : "were")} sent but lost fragments on the way (see fragment-loss)" : "");
    }

    protected override string Many(IReadOnlyList<DnsTimeoutVerdict> items, Finding f) =>
        $"{Count(items.Count, "question")} to {items[0].Server} got no answer ({string.Join(", ", items.Take(3).Select(v => v.Question))}{(items.Count > 3 ? ", ..." : "")}), " +
        $"after waiting {SecRange(items.Select(v => v.WaitedNanos))}" +
        (items.Any(v => v.AnswerDatagramsLost > 0) ? "; some answers were sent but lost fragments on the way (see fragment-loss)" : "");

    protected override string? Advice(IReadOnlyList<DnsTimeoutVerdict> items) => items.Any(v => v.AnswerDatagramsLost > 0)
        ? "the server answered but the fragmented answer never arrived whole: lower the server's EDNS buffer size to 1232 (DNS Flag Day 2020) so large answers come truncated and are retried over TCP, or let IP fragments through the firewall"
        : "check that the server is reachable and serves this name (firewall on UDP/TCP port 53, server load or rate limiting, a lame delegation); " +
          "a mail server that cannot resolve MX, A or PTR records defers mail, and slow DNS delays every SMTP session";

    protected override void Evidence(EvidenceWriter w, IReadOnlyList<DnsTimeoutVerdict> items, Finding f)
    {
        w.Endpoint(EvidenceKeys.Server, items[0].Server);
        w.List(EvidenceKeys.Flows);
        foreach (var v in items)
        {
            w.Item();
            if (v.Flows.Count > 0) w.Flow(v.Flows[^1]);
            w.Endpoint(EvidenceKeys.Sender, v.Client);
            w.Text(EvidenceKeys.Question, v.Question);
            w.Int(EvidenceKeys.DnsId, v.Id);
            w.Token(EvidenceKeys.Transport, v.Tcp ? "tcp" : "udp");
            w.Int(EvidenceKeys.Sends, v.Sends);
            w.Time(EvidenceKeys.FirstSent, v.FirstSent);
            w.Time(EvidenceKeys.LastSent, v.LastSent);
            w.Seconds(EvidenceKeys.Waited, v.WaitedNanos);
            w.Int(EvidenceKeys.QueryEdnsSize, v.QueryEdnsSize);
            if (v.Tries > 1) w.Endpoints(EvidenceKeys.Attempts, v.Attempts);
            if (v.AnswerDatagramsLost > 0) w.Int(EvidenceKeys.AnswerDatagramsLost, v.AnswerDatagramsLost);
            w.End();
        }
        w.EndList();
    }
}

/// <summary><c>dns-truncated</c>: a UDP answer with TC set, and whether the TCP retry was answered.</summary>
public sealed record DnsTruncatedVerdict : Verdict
{
    public override FindingKind Kind => FindingKind.DnsTruncated;
    public override string Identifier => Server.ToString();
    public override Severity Severity => TcpAnswerSize is not null ? Severity.Info : Severity.Warning;
    public override Timestamp Time => AnswerTime;
    public required Endpoint Client { get; init; }
    public required Endpoint Server { get; init; }
    public required string Question { get; init; }
    public required ushort Id { get; init; }
    public required int UdpAnswerSize { get; init; }
    public required Timestamp AnswerTime { get; init; }
    public int? QueryEdnsSize { get; init; }
    public int? TcpFlow { get; init; }
    public long? RetryAfterNanos { get; init; }
    public int? TcpAnswerSize { get; init; }
    public string? TcpRcode { get; init; }
}

public sealed class DnsTruncatedWriter : FindingWriter<DnsTruncatedVerdict>
{
    protected override string One(DnsTruncatedVerdict v)
    {
        string tail = v.TcpFlow is { } flow
            ? v.TcpAnswerSize is { } size
                ? $"; the client retried over TCP {Sec(v.RetryAfterNanos ?? 0)} later (flow {flow}) and got a {N(size)}-byte answer ({v.TcpRcode})"
                : $"; the client retried over TCP (flow {flow}) but got no answer there"
            : "; no TCP retry was seen: if TCP port 53 is blocked toward the server, this lookup fails";
        return $"{v.Server} answered {v.Question} (id {v.Id}) over UDP with a truncated {N(v.UdpAnswerSize)}-byte message (TC set; the query " +
               (v.QueryEdnsSize is { } e ? $"offered an EDNS buffer of {N(e)} bytes" : "had no EDNS, so 512 bytes is the limit") + ")" + tail;
    }

    protected override string? Advice(IReadOnlyList<DnsTruncatedVerdict> items) => items.All(v => v.TcpAnswerSize is not null)
        ? "nothing is broken: the answer does not fit the UDP size the client offered, so it is fetched over TCP (one more round trip); keep TCP port 53 open toward the server"
        : "the answer needs TCP: allow TCP port 53 between the client and the server (RFC 7766 makes TCP support mandatory), or shorten the record so it fits in UDP";

    protected override void Evidence(EvidenceWriter w, IReadOnlyList<DnsTruncatedVerdict> items, Finding f)
    {
        w.Endpoint(EvidenceKeys.Server, items[0].Server);
        w.List(EvidenceKeys.Flows);
        foreach (var v in items)
        {
            w.Item();
            if (v.Flows.Count > 0) w.Flow(v.Flows[0]);
            w.Endpoint(EvidenceKeys.Sender, v.Client);
            w.Text(EvidenceKeys.Question, v.Question);
            w.Int(EvidenceKeys.DnsId, v.Id);
            w.Int(EvidenceKeys.UdpAnswerSize, v.UdpAnswerSize);
            w.Int(EvidenceKeys.QueryEdnsSize, v.QueryEdnsSize);
            w.Bool(EvidenceKeys.TcpRetry, v.TcpFlow is not null);
            if (v.TcpFlow is { } t)
            {
                w.Int(EvidenceKeys.TcpFlow, t);
                w.Seconds(EvidenceKeys.RetryAfter, v.RetryAfterNanos);
                w.Int(EvidenceKeys.TcpAnswerSize, v.TcpAnswerSize);
            }
            w.End();
        }
        w.EndList();
    }
}
