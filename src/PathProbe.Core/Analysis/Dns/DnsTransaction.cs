using System.Globalization;
using PathProbe.Primitives;
using PathProbe.Protocols.Dns;

namespace PathProbe.Analysis.Dns;

public enum DnsTransport : byte { Udp, Tcp }

/// <summary>What became of a query.</summary>
public enum DnsOutcome : byte
{
    /// <summary>Waiting for an answer (only while the analysis runs).</summary>
    Pending,
    Answered,
    /// <summary>No answer within <see cref="DnsOptions.QueryTimeout"/> (a <c>dns-timeout</c> finding).</summary>
    TimedOut,
    /// <summary>No answer, but the capture ended less than the timeout after the query: not judged.</summary>
    CaptureEnded,
}

/// <summary>The answer to a query, as far as PathProbe keeps it (names and text already made terminal-safe): a view of
/// its transaction (<see cref="DnsTransaction.Response"/> makes one on each read), whose numbers are kept in the
/// transaction itself (<see cref="DnsResponseData"/>), so that an answer allocates nothing and the 100,000 answers kept
/// for a report are not 100,000 more objects. Its record texts are kept in the analysis' <see cref="DnsTextArena"/>
/// until a report reads <see cref="Records"/>.</summary>
public sealed class DnsResponseInfo
{
    private readonly DnsTransaction _t;

    internal DnsResponseInfo(DnsTransaction t) => _t = t;

    private ref readonly DnsResponseData D => ref _t.Answer;

    public Timestamp Time => D.Time;
    /// <summary>DNS message size in bytes (UDP payload, or the TCP message without its 2-byte length).</summary>
    public int Size => D.Size;
    /// <summary>The 12-bit response code (header + OPT).</summary>
    public int Rcode => D.Rcode;
    public bool Truncated => D.Truncated;
    public bool Authoritative => D.Authoritative;
    public int AnswerCount => D.AnswerCount;
    public int AuthorityCount => D.AuthorityCount;
    public int AdditionalCount => D.AdditionalCount;
    /// <summary>The responder's EDNS UDP payload size, null without OPT.</summary>
    public int? EdnsSize => D.EdnsSize;
    /// <summary>Arrived as a reassembled IP datagram.</summary>
    public bool Fragmented => D.Fragmented;
    public int FragmentCount => D.FragmentCount;
    /// <summary>IP packet size of the largest fragment on the wire (0 when not fragmented).</summary>
    public int LargestFragment => D.LargestFragment;
    /// <summary>IP packet size of the whole (reassembled) datagram.</summary>
    public int IpPacketLength => D.IpPacketLength;
    /// <summary>Answer records summarised ("MX 10 mx.example.test"), at most <see cref="DnsOptions.MaxRecordsListed"/>;
    /// made from the analysis' text arena on each read.</summary>
    public IReadOnlyList<string> Records => D.Texts.Read();
    internal DnsRecordTexts Texts => D.Texts;
    /// <summary>Answer records not listed because of the limit.</summary>
    public int RecordsNotListed => D.RecordsNotListed;
    /// <summary>The largest TXT record of the answer section, in text bytes (0 when none), and whether it is an SPF
    /// record ("v=spf1"): what makes an answer large enough to fragment.</summary>
    public int LargestTxtBytes => D.LargestTxtBytes;
    public bool LargestTxtIsSpf => D.LargestTxtIsSpf;
    /// <summary>TXT records in the answer section and their text bytes together.</summary>
    public int TxtRecords => D.TxtRecords;
    public int TxtBytes => D.TxtBytes;
    /// <summary>Why the message could not be decoded completely (a <see cref="DnsStatus"/> name), null when it could.</summary>
    public string? Malformed => D.Malformed;
}

/// <summary>An answer's numbers (<see cref="DnsResponseInfo"/> reads them), kept in its transaction. Counts that are
/// 16 bits on the wire (the header's section counts, the response code, the EDNS size, IP fragments of one datagram)
/// are kept in 16 bits.</summary>
internal struct DnsResponseData
{
    public Timestamp Time;
    public int Size;
    public int IpPacketLength;
    public int LargestFragment;
    public int RecordsNotListed;
    public int LargestTxtBytes;
    public int TxtRecords;
    public int TxtBytes;
    public ushort Rcode;
    public ushort AnswerCount, AuthorityCount, AdditionalCount;
    public ushort FragmentCount;
    private ushort _ednsSize;
    private bool _hasEdns;
    public bool Truncated, Authoritative, Fragmented, LargestTxtIsSpf;
    public DnsRecordTexts Texts;
    public string? Malformed;

    public int? EdnsSize
    {
        readonly get => _hasEdns ? _ednsSize : null;
        set { _hasEdns = value.HasValue; _ednsSize = (ushort)(value ?? 0); }
    }
}

/// <summary>
/// One query and its answer, matched on the flow (5-tuple), the DNS id and the question. Allocated per query (bounded
/// by <see cref="DnsOptions.MaxTransactionsPerFlow"/> and <see cref="DnsOptions.MaxTransactions"/>).
/// </summary>
public sealed class DnsTransaction
{
    public int FlowId { get; internal set; }
    /// <summary>The flow record (its numbers are read only while it still carries <see cref="FlowId"/>).</summary>
    internal PathProbe.Flows.Flow? Flow { get; init; }
    public required DnsTransport Transport { get; init; }
    public required IpAddress Client { get; init; }
    public required ushort ClientPort { get; init; }
    public required IpAddress Server { get; init; }
    public required ushort ServerPort { get; init; }
    public required ushort Id { get; init; }
    /// <summary>Question name in presentation form (DNS escapes applied); null when the query had no readable question.</summary>
    public string? Name { get; init; }
    public DnsType Type { get; init; }
    public ushort Class { get; init; }
    public required Timestamp FirstSent { get; init; }
    public Timestamp LastSent { get; internal set; }
    /// <summary>How many times the same query (same flow, id and question) was sent.</summary>
    public int Sends { get; internal set; } = 1;
    public int QuerySize { get; init; }
    /// <summary>The query's EDNS UDP payload size (RFC 6891); null without OPT, which limits a UDP answer to 512 bytes.</summary>
    public int? QueryEdnsSize { get; init; }
    public DnsOutcome Outcome { get; internal set; }
    /// <summary>The answer, null until one is matched (a view of this transaction's <see cref="Answer"/>, made on each
    /// read: the analysis reads <see cref="Answer"/>).</summary>
    public DnsResponseInfo? Response => Answered ? new DnsResponseInfo(this) : null;
    internal bool Answered;
    /// <summary>The answer's numbers, filled in when the answer is matched (valid when <see cref="Answered"/>).</summary>
    internal ref readonly DnsResponseData Answer => ref _answer;
    internal DnsResponseData _answer;
    /// <summary>An answer after the timeout had already been reported.</summary>
    public bool AnsweredLate { get; internal set; }
    /// <summary>An earlier transaction for the same question between the same hosts that this one repeats
    /// (a new id or port after a timeout, or TCP after a truncated UDP answer).</summary>
    public DnsTransaction? RetryOf { get; internal set; }
    public DnsTransaction? RetriedBy { get; internal set; }
    /// <summary>Answer datagrams for this query whose IP fragments never all arrived (set by the fragmentation detector).</summary>
    public int AnswerDatagramsLost { get; internal set; }

    // Pending list (ordered by FirstSent) kept by the analyzer.
    internal DnsTransaction? Older, Newer;
    internal bool InPendingList;
    internal bool TruncationReported;

    public double? ResponseSeconds => Response is { } r ? (r.Time.UnixNanoseconds - FirstSent.UnixNanoseconds) / 1e9 : null;

    /// <summary>"TXT big.example.test" (terminal-safe).</summary>
    public string Question => Name is null ? "(no question)" : $"{TypeName(Type)} {SafeText.Clean(Name, 300)}";

    public string IdText => "0x" + Id.ToString("x4", CultureInfo.InvariantCulture);

    /// <summary>The question was answered here or by a retry of it.</summary>
    public bool EventuallyAnswered
    {
        get
        {
            int guard = 0;
            for (var t = this; t is not null && guard++ < 64; t = t.RetriedBy)
                if (t.Outcome == DnsOutcome.Answered) return true;
            return false;
        }
    }

    /// <summary>The first attempt of the question this transaction repeats (itself when it repeats nothing).</summary>
    public DnsTransaction Root
    {
        get
        {
            var t = this;
            for (int guard = 0; t.RetryOf is { } p && guard < 64; guard++) t = p;
            return t;
        }
    }

    /// <summary>Sends of this question over the retry chain from <see cref="Root"/> up to and including this one.</summary>
    public int ChainSends
    {
        get
        {
            int n = 0, guard = 0;
            for (var t = this; t is not null && guard++ < 64; t = t.RetryOf) n += t.Sends;
            return n;
        }
    }

    /// <summary>The last attempt of the retry chain this transaction starts or belongs to.</summary>
    public DnsTransaction Last
    {
        get
        {
            var t = this;
            for (int guard = 0; t.RetriedBy is { } n && guard < 64; guard++) t = n;
            return t;
        }
    }

    public static string TypeName(DnsType t) => Enum.IsDefined(t) ? t.ToString() : "TYPE" + ((ushort)t).ToString(CultureInfo.InvariantCulture);

    public static string RcodeName(int rcode) => rcode switch
    {
        0 => "NOERROR", 1 => "FORMERR", 2 => "SERVFAIL", 3 => "NXDOMAIN", 4 => "NOTIMP", 5 => "REFUSED",
        6 => "YXDOMAIN", 7 => "YXRRSET", 8 => "NXRRSET", 9 => "NOTAUTH", 10 => "NOTZONE", 16 => "BADVERS",
        _ => "RCODE" + rcode.ToString(CultureInfo.InvariantCulture),
    };

    public static string OutcomeName(DnsOutcome o) => o switch
    {
        DnsOutcome.Answered => "answered",
        DnsOutcome.TimedOut => "timeout",
        DnsOutcome.CaptureEnded => "capture-ended",
        _ => "pending",
    };
}
