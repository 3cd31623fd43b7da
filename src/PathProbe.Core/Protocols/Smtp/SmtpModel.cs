using System.Runtime.InteropServices;
using PathProbe.Primitives;

namespace PathProbe.Protocols.Smtp;

/// <summary>Where an SMTP session is, as seen from the capture. A stall is reported with the phase it stopped in.</summary>
public enum SmtpPhase : byte
{
    /// <summary>TCP connected, no greeting yet.</summary>
    Connect,
    /// <summary>Greeting received, no EHLO/HELO yet.</summary>
    Greeting,
    /// <summary>EHLO/HELO sent (or answered).</summary>
    Ehlo,
    /// <summary>STARTTLS sent, waiting for its 220.</summary>
    StartTls,
    /// <summary>Encrypted (after STARTTLS, or implicit TLS): nothing more is decoded.</summary>
    Tls,
    /// <summary>AUTH exchange in progress or done.</summary>
    Auth,
    /// <summary>No transaction open (after a final reply to the data, RSET, or a failed MAIL).</summary>
    Ready,
    /// <summary>MAIL FROM sent.</summary>
    Mail,
    /// <summary>RCPT TO sent.</summary>
    Rcpt,
    /// <summary>DATA sent, waiting for 354.</summary>
    DataCommand,
    /// <summary>354 received: the message is being sent (<see cref="SmtpSession.CurrentMessageBytes"/>).</summary>
    Data,
    /// <summary>The terminating dot (or the last BDAT chunk) was sent; waiting for the final reply.</summary>
    DataSent,
    /// <summary>BDAT chunks being sent (RFC 3030).</summary>
    Bdat,
    /// <summary>QUIT sent.</summary>
    Quit,
    /// <summary>The connection ended (<see cref="SmtpSession.Close"/> or <see cref="SmtpSession.Abort"/>).</summary>
    Closed,
    /// <summary>The server sent 421 after the greeting (RFC 5321 3.8): it is closing the session, whatever the client
    /// still sends.</summary>
    ServerClosing,
}

public enum SmtpOutcome : byte
{
    /// <summary>Still going (no final reply yet).</summary>
    InProgress,
    /// <summary>2xx final reply to the data.</summary>
    Accepted,
    /// <summary>A 4xx ended it (MAIL, DATA, final reply, 421, or every recipient refused with 4xx).</summary>
    Deferred,
    /// <summary>A 5xx ended it.</summary>
    Rejected,
    /// <summary>Ended before a final reply: connection closed or reset, stalled, RSET/QUIT by the client.</summary>
    Aborted,
    /// <summary>The capture ended in the middle of it.</summary>
    Incomplete,
}

/// <summary>A reply: the code, the RFC 3463 enhanced code when present, and its text, cleaned for display.
/// <see cref="Text"/> is the first line; <see cref="TextLines"/> keeps every line (at most
/// <see cref="SmtpLimits.MaxReplyLines"/>, each at most <see cref="SmtpLimits.MaxTextLength"/> characters), without the
/// code and without an enhanced code that repeats the first line's (Gmail puts it on every line).
/// Only <see cref="Time"/> is the reply's own: the rest is a <see cref="SmtpReplyText"/> that replies of this thread
/// with the same code, texts and line count share (a server says "250 2.1.5 Ok" in every session).</summary>
public sealed record SmtpReply
{
    private readonly SmtpReplyText _text;

    public SmtpReply(int Code, string? EnhancedCode, string Text, int Lines, Timestamp Time)
        : this(Code, EnhancedCode, Text, Lines, Time, null)
    {
    }

    /// <summary>A reply with its kept lines (<paramref name="keptLines"/>, the first being <paramref name="text"/>; null
    /// for one line): one look into the pool, where setting <see cref="TextLines"/> afterwards takes two.</summary>
    internal SmtpReply(int code, string? enhancedCode, string text, int lines, Timestamp time, string[]? keptLines)
    {
        _text = SmtpReplyText.Shared(code, enhancedCode, text, lines, keptLines);
        Time = time;
    }

    /// <summary>What the reply says, shared with the equal replies of this thread.</summary>
    internal SmtpReplyText Content => _text;

    public int Code => _text.Code;
    public string? EnhancedCode => _text.EnhancedCode;
    /// <summary>The first line.</summary>
    public string Text => _text.Text;
    /// <summary>Lines the reply had, kept or not.</summary>
    public int Lines => _text.Lines;
    public Timestamp Time { get; }

    /// <summary>The text of each kept line; the first is <see cref="Text"/>. A one-line reply (most of them) keeps no
    /// list: it is made when asked for.</summary>
    public IReadOnlyList<string> TextLines
    {
        get => _text.KeptLines ?? [Text];
        init => _text = SmtpReplyText.Shared(Code, EnhancedCode, Text, Lines,
            value.Count == 1 && value[0] == Text ? null : value as string[] ?? [.. value]);
    }

    /// <summary><see cref="TextLines"/>' count.</summary>
    internal int KeptLineCount => _text.KeptLines?.Length ?? 1;

    /// <summary>Line <paramref name="i"/> of <see cref="TextLines"/> (below <see cref="KeptLineCount"/>), without making
    /// the list of a one-line reply.</summary>
    internal string KeptLine(int i) => _text.KeptLines is { } lines ? lines[i] : Text;

    /// <summary>Lines beyond <see cref="SmtpLimits.MaxReplyLines"/> (counted in <see cref="Lines"/>, not kept).</summary>
    public int LinesNotKept => Math.Max(0, Lines - KeptLineCount);

    /// <summary>All kept lines joined by a space: what classification reads (key words often sit on later lines).</summary>
    public string FullText => _text.KeptLines is { } lines ? string.Join(" ", lines) : Text;

    /// <summary>The text that carries the outcome: for a 2xx the last line (where MTAs put the queue id, e.g. Exim's
    /// "250- 4404 byte chunk, total 4404" / "250 OK id=1lHkUh-008hPw-NY"); for a refusal all lines, because
    /// providers wrap one sentence over several lines.</summary>
    public string OutcomeText => Code is >= 200 and < 300 && _text.KeptLines is { } lines ? lines[^1] : FullText;

    public bool IsPositive => Code is >= 200 and < 400;
    public bool IsTransient => Code is >= 400 and < 500;
    public bool IsPermanent => Code >= 500;
}

/// <summary>What a <see cref="SmtpReply"/> says, apart from its time: one instance for the equal replies of a thread
/// (a per-thread pool by content, bounded to the first <see cref="SharedMax"/> different ones; never written once
/// made). Equal by content, as the replies' record equality was.</summary>
public sealed record SmtpReplyText(int Code, string? EnhancedCode, string Text, int Lines, string[]? KeptLines)
{
    internal const int SharedMax = 4096;
    [ThreadStatic] private static Dictionary<Key, SmtpReplyText>? t_shared;

    /// <summary>The pooled instance with these contents, or a new one (kept for the next while the pool has room); a
    /// hit allocates nothing.</summary>
    internal static SmtpReplyText Shared(int code, string? enhanced, string text, int lines, string[]? kept)
    {
        var key = new Key(code, enhanced, text, lines, kept);
        var pool = t_shared ??= new Dictionary<Key, SmtpReplyText>();
        if (pool.TryGetValue(key, out var known)) return known;
        var made = new SmtpReplyText(code, enhanced, text, lines, kept);
        if (pool.Count < SharedMax) pool[key] = made;
        return made;
    }

    // The kept lines compare by content (the record's own equality would compare the array's reference).
    public bool Equals(SmtpReplyText? o) => o is not null && new Key(this).Equals(new Key(o));
    public override int GetHashCode() => new Key(this).GetHashCode();

    private readonly struct Key(int code, string? enhanced, string text, int lines, string[]? kept) : IEquatable<Key>
    {
        private readonly int _code = code, _lines = lines;
        private readonly string? _enhanced = enhanced;
        private readonly string _text = text;
        private readonly string[]? _kept = kept;

        public Key(SmtpReplyText t) : this(t.Code, t.EnhancedCode, t.Text, t.Lines, t.KeptLines) { }

        public bool Equals(Key o) =>
            _code == o._code && _lines == o._lines && _enhanced == o._enhanced && _text == o._text &&
            (ReferenceEquals(_kept, o._kept) || _kept is not null && o._kept is not null && _kept.AsSpan().SequenceEqual(o._kept));

        public override bool Equals(object? obj) => obj is Key k && Equals(k);

        public override int GetHashCode()
        {
            var h = new HashCode();
            h.Add(_code); h.Add(_lines); h.Add(_enhanced); h.Add(_text);
            if (_kept is not null) foreach (var l in _kept) h.Add(l);
            return h.ToHashCode();
        }
    }
}

/// <summary>What a command is (the verb as the decoder understood it).</summary>
public enum SmtpCommandKind : byte
{
    /// <summary>A verb the decoder does not know (kept by name only).</summary>
    Unknown,
    Helo, Ehlo, Mail, Rcpt, Data,
    /// <summary>The terminating "." of DATA (RFC 5321 4.1.1.4).</summary>
    EndOfData,
    Bdat, Rset, Noop, Quit, StartTls, Auth, Vrfy, Expn, Help,
    /// <summary>A reply no command asked for (<see cref="SmtpCommand.Verb"/> is "").</summary>
    None,
}

/// <summary>A command and, once it came, its reply. Arguments are kept for EHLO/HELO/MAIL/RCPT/BDAT (cleaned);
/// AUTH keeps its mechanism only (never credentials); other verbs are kept by name only.</summary>
public sealed class SmtpCommand
{
    /// <summary>Upper-case verb ("MAIL", "X-FOO"); "." for the end of DATA; "" for a reply no command asked for.</summary>
    public required string Verb { get; init; }
    public SmtpCommandKind Kind { get; init; }
    public string? Argument { get; init; }
    public Timestamp Time { get; init; }
    /// <summary>Intermediate reply (354 to DATA, the last 334 to AUTH).</summary>
    public SmtpReply? Intermediate { get; internal set; }
    public SmtpReply? Reply { get; internal set; }
    /// <summary>Command sent → reply received (capture time), null while unanswered.</summary>
    public TimeSpan? Latency => Reply == null ? null : TimeSpan.FromTicks((Reply.Time.UnixNanoseconds - Time.UnixNanoseconds) / 100);
    /// <summary>Index of the transaction the command belongs to (as the server's replies settled it), or -1.</summary>
    public int Transaction { get; internal set; } = -1;

    public override string ToString() => Reply == null ? $"{Verb} {Argument}" : $"{Verb} {Argument} -> {Reply.Code}";
}

public sealed class SmtpRecipient
{
    public required string Address { get; init; }
    public string? Parameters { get; init; }
    public Timestamp Time { get; init; }
    /// <summary>The server's reply to this RCPT, or null while unanswered.</summary>
    public SmtpReply? Reply { get; internal set; }
    /// <summary>0 while unanswered.</summary>
    public int ReplyCode => Reply?.Code ?? 0;
    public string? EnhancedCode => Reply?.EnhancedCode;
}

/// <summary>One mail transaction: MAIL FROM to the final reply (or RSET/QUIT/abort).</summary>
public sealed class SmtpTransaction
{
    public int Index { get; init; }
    public required string Sender { get; init; }
    /// <summary>MAIL parameters as sent (cleaned), e.g. "SIZE=1234 BODY=8BITMIME".</summary>
    public string? MailParameters { get; init; }
    /// <summary>SIZE= of MAIL FROM (RFC 1870), or -1.</summary>
    public long DeclaredSize { get; init; } = -1;
    /// <summary>BODY= of MAIL FROM (RFC 6152), or null.</summary>
    public string? Body { get; init; }
    public Timestamp MailTime { get; init; }
    public int MailReplyCode { get; internal set; }

    public List<SmtpRecipient> Recipients { get; } = new();
    /// <summary>Recipients beyond the per-transaction limit (counted, not kept).</summary>
    public int RecipientsNotKept { get; internal set; }
    public int RecipientsAccepted { get; internal set; }
    public int RecipientsDeferred { get; internal set; }
    public int RecipientsRejected { get; internal set; }
    /// <summary>MAIL was refused: no transaction was opened; this record keeps the attempt and its reply.</summary>
    public bool MailRefused => MailReplyCode >= 400;
    /// <summary>The latest refusal of DATA or BDAT (503, 554, 451...): the transaction stayed open (RFC 5321 4.1.4).</summary>
    public SmtpReply? DataRefusal { get; internal set; }
    /// <summary>Client bytes missing from the capture while this transaction was being sent: the server acknowledged
    /// them (TCP delivered them) or a snap length cut them. Holes nobody acknowledged (lost on the path, as in a
    /// black hole) are not counted here.</summary>
    public long CaptureGapBytes { get; internal set; }

    /// <summary>DATA or first BDAT sent.</summary>
    public Timestamp? DataCommandTime { get; internal set; }
    /// <summary>354 received.</summary>
    public Timestamp? DataStartTime { get; internal set; }
    /// <summary>Terminating dot or last BDAT chunk sent.</summary>
    public Timestamp? DataEndTime { get; internal set; }
    public bool UsedBdat { get; internal set; }
    /// <summary>Message size in bytes as RFC 5321 counts it (dot-stuffing undone, terminating "." line excluded),
    /// so far. Includes gap bytes when <see cref="SizeApproximate"/>.</summary>
    public long MessageBytes { get; internal set; }
    public bool SizeApproximate { get; internal set; }

    public SmtpReply? FinalReply { get; internal set; }
    /// <summary>DATA (or first BDAT) → final reply.</summary>
    public TimeSpan? DataDuration => FinalReply != null && DataCommandTime is { } d
        ? TimeSpan.FromTicks((FinalReply.Time.UnixNanoseconds - d.UnixNanoseconds) / 100) : null;

    public SmtpOutcome Outcome { get; internal set; }
    public string? OutcomeReason { get; internal set; }
    /// <summary>Session phase when the transaction ended (for an aborted one: where it stalled).</summary>
    public SmtpPhase EndPhase { get; internal set; }
    public Timestamp? EndTime { get; internal set; }

    /// <summary>Why the client left the transaction before the end of the data (decided once replies are in).</summary>
    internal string? EndRequest;
    /// <summary>Commands of this transaction still waiting for a reply.</summary>
    internal int PendingReplies;
}

/// <summary>What the server advertised in its EHLO reply (RFC 5321 4.1.1.1 and the extension RFCs).</summary>
public sealed class SmtpCapabilities
{
    public const int MaxOther = 64;
    public const int MaxAuthMechanisms = 32;

    public bool Pipelining { get; internal set; }        // RFC 2920
    public bool Chunking { get; internal set; }          // RFC 3030
    public bool StartTls { get; internal set; }          // RFC 3207
    public bool EightBitMime { get; internal set; }      // RFC 6152
    public bool SmtpUtf8 { get; internal set; }          // RFC 6531
    public bool EnhancedStatusCodes { get; internal set; } // RFC 2034
    public bool Dsn { get; internal set; }               // RFC 3461
    /// <summary>SIZE advertised (RFC 1870).</summary>
    public bool Size { get; internal set; }
    /// <summary>SIZE limit in bytes; 0 when advertised without a limit (or "SIZE 0"); -1 when not advertised.</summary>
    public long SizeLimit { get; internal set; } = -1;
    public List<string> AuthMechanisms { get; } = new();
    /// <summary>Other keywords, by name (upper case).</summary>
    public List<string> Other { get; } = new();

    /// <summary>Capabilities equal to these that an earlier session of this thread was given (a server answers every
    /// EHLO alike, so 30,000 sessions to it hold one instead of 30,000, about 200 bytes each), or these, kept for the
    /// next ones. Per thread (parallel workers each have theirs) and bounded: the first <see cref="SharedMax"/>
    /// different ones. A session's capabilities are complete when they are shared and never written again.</summary>
    internal SmtpCapabilities Shared()
    {
        var pool = t_shared ??= new Dictionary<SmtpCapabilities, SmtpCapabilities>(SameContent.Instance);
        if (pool.TryGetValue(this, out var known)) return known;
        if (pool.Count < SharedMax) pool[this] = this;
        return this;
    }

    internal const int SharedMax = 1024;
    [ThreadStatic] private static Dictionary<SmtpCapabilities, SmtpCapabilities>? t_shared;

    private sealed class SameContent : IEqualityComparer<SmtpCapabilities>
    {
        public static readonly SameContent Instance = new();

        public bool Equals(SmtpCapabilities? a, SmtpCapabilities? b) =>
            ReferenceEquals(a, b) || a is not null && b is not null && Flags(a) == Flags(b) && a.SizeLimit == b.SizeLimit &&
            CollectionsMarshal.AsSpan(a.AuthMechanisms).SequenceEqual(CollectionsMarshal.AsSpan(b.AuthMechanisms)) &&
            CollectionsMarshal.AsSpan(a.Other).SequenceEqual(CollectionsMarshal.AsSpan(b.Other));

        public int GetHashCode(SmtpCapabilities c)
        {
            var h = new HashCode();
            h.Add(Flags(c));
            h.Add(c.SizeLimit);
            foreach (var m in c.AuthMechanisms) h.Add(m);
            foreach (var k in c.Other) h.Add(k);
            return h.ToHashCode();
        }

        private static int Flags(SmtpCapabilities c) =>
            (c.Pipelining ? 1 : 0) | (c.Chunking ? 2 : 0) | (c.StartTls ? 4 : 0) | (c.EightBitMime ? 8 : 0) |
            (c.SmtpUtf8 ? 16 : 0) | (c.EnhancedStatusCodes ? 32 : 0) | (c.Dsn ? 64 : 0) | (c.Size ? 128 : 0);
    }
}

/// <summary>Named anomaly counters (stable names, like Zeek's weirds).</summary>
public struct SmtpAnomalies
{
    /// <summary>Command lines over 1000 bytes or reply lines over 512 bytes incl. CRLF (RFC 5321 4.5.3.1.4/5).</summary>
    public long LongLines;
    /// <summary>Lines over the hard cap: only their start was decoded, the rest skipped.</summary>
    public long TruncatedLines;
    public long NulBytes;
    /// <summary>Bytes ≥ 0x80 in command or reply lines (not in message bodies).</summary>
    public long NonAsciiBytes;
    /// <summary>Lines ended by LF without CR (commands, replies and DATA).</summary>
    public long BareLfLines;
    public long UnparsableReplies;
    public long RepliesWithoutCommand;
    /// <summary>A continuation line of a multi-line reply with another code.</summary>
    public long ReplyCodeMismatches;
    /// <summary>A reply ended DATA before the terminating dot was seen.</summary>
    public long RepliesDuringData;
    public long UnknownCommands;
    /// <summary>Client bytes after STARTTLS before its reply (command injection, CVE-2011-0411 style).</summary>
    public long BytesAfterStartTls;
    /// <summary>AUTH continuation lines skipped (never decoded).</summary>
    public long AuthLinesSkipped;
    public long ClientGaps;
    public long ServerGaps;
    public long GapBytes;
    public long CommandsNotKept;
    public long TransactionsNotKept;
    /// <summary>Commands not queued for pairing because too many were outstanding.</summary>
    public long PendingOverflows;
    public long BdatSizeInvalid;
    /// <summary>Times the decoder lost its place in the client stream (a capture gap where the position is unknown)
    /// and looked for the next command confirmed by the server's reply.</summary>
    public long Resyncs;
    /// <summary>Client lines skipped while resynchronising (message content or lost commands, never decoded).</summary>
    public long ResyncSkippedLines;
    /// <summary>Replies whose code is followed by neither a space nor a hyphen (e.g. "220&lt;ESC&gt;..."): taken as
    /// the last line of the reply.</summary>
    public long OddReplySeparators;
    /// <summary>Lines of multi-line replies beyond <see cref="SmtpLimits.MaxReplyLines"/> (counted, not kept).</summary>
    public long ReplyLinesNotKept;
    /// <summary>A proxy preamble (HTTP CONNECT, PROXY, SOCKS) that started but did not parse.</summary>
    public long ProxyPreambleInvalid;
}

/// <summary>Bounds of one session's kept state.</summary>
public sealed record SmtpLimits
{
    public static readonly SmtpLimits Default = new();
    /// <summary>Longest line decoded; longer lines are truncated to this and counted.</summary>
    public int HardLineCap { get; init; } = 8 * 1024;
    public int MaxCommands { get; init; } = 1000;
    public int MaxTransactions { get; init; } = 100;
    public int MaxRecipients { get; init; } = 100;
    /// <summary>Commands awaiting a reply (PIPELINING) that are tracked for pairing.</summary>
    public int MaxPending { get; init; } = 256;
    /// <summary>Longest kept text (reply text, addresses, names).</summary>
    public int MaxTextLength { get; init; } = 512;
    /// <summary>Lines of one multi-line reply kept (the rest are counted).</summary>
    public int MaxReplyLines { get; init; } = 32;
    /// <summary>Client bytes held while resynchronising after a gap, until a server reply confirms a command.</summary>
    public int MaxResyncHold { get; init; } = 16 * 1024;
}
