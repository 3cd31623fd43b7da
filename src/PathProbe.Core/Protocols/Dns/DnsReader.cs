using System.Buffers.Binary;
using PathProbe.Primitives;

namespace PathProbe.Protocols.Dns;

/// <summary>A question as read from the wire: the name stays in the message (see <see cref="NameOffset"/>).</summary>
public readonly record struct DnsQuestionView(int NameOffset, DnsType Type, ushort Class);

/// <summary>A resource record as read from the wire; RDATA stays in the message.</summary>
public readonly record struct DnsRecordView(DnsSection Section, int NameOffset, DnsType Type, ushort Class, uint Ttl, int RdataOffset, int RdataLength)
{
    /// <summary>OPT: the requester's UDP payload size (the CLASS field, RFC 6891 §6.1.2).</summary>
    public int OptUdpPayloadSize => Class;
    /// <summary>OPT: the upper 8 bits of the 12-bit response code.</summary>
    public int OptExtendedRcode => (int)(Ttl >> 24);
    public int OptVersion => (int)((Ttl >> 16) & 0xFF);
    /// <summary>OPT: DNSSEC OK (RFC 3225).</summary>
    public bool OptDnssecOk => (Ttl & 0x8000) != 0;
}

/// <summary>
/// Reads a DNS message (RFC 1035 §4) from a span without allocating: header, then questions, then records of the
/// answer, authority and additional sections in order. Each call returns a <see cref="DnsStatus"/>; malformed
/// content never throws. The reader borrows the span: the views it returns are offsets into it and are valid only
/// while the caller keeps the same buffer (a capture source's span is invalidated by its next read).
/// </summary>
public ref struct DnsReader
{
    public const int MaxNameLength = 255, MaxLabelLength = 63;
    /// <summary>Compression pointers followed in one name at most. Backward-only pointers already end every
    /// chain; this bounds the work on a hostile message (127 is the most a 255-byte name can legitimately need).</summary>
    public const int MaxPointerJumps = 127;
    private const int QuestionFixedLength = 4, RecordFixedLength = 10;

    private readonly ReadOnlySpan<byte> _msg;
    private int _pos;
    private DnsHeader _header;
    private int _questionsLeft, _answersLeft, _authorityLeft, _additionalLeft;
    private bool _headerRead;

    public DnsReader(ReadOnlySpan<byte> message)
    {
        _msg = message;
        _pos = 0;
        _header = default;
        _questionsLeft = _answersLeft = _authorityLeft = _additionalLeft = 0;
        _headerRead = false;
    }

    public readonly ReadOnlySpan<byte> Message => _msg;
    public readonly DnsHeader Header => _header;
    /// <summary>Offset of the next byte to read.</summary>
    public readonly int Position => _pos;
    public readonly bool HasQuestions => _questionsLeft > 0;
    public readonly bool HasRecords => _questionsLeft == 0 && (_answersLeft | _authorityLeft | _additionalLeft) != 0;

    public DnsStatus ReadHeader(out DnsHeader header)
    {
        if (_msg.Length < DnsHeader.Length) { header = default; return DnsStatus.TruncatedHeader; }
        header = _header = DnsHeader.Read(_msg);
        _pos = DnsHeader.Length;
        _questionsLeft = header.QuestionCount;
        _answersLeft = header.AnswerCount;
        _authorityLeft = header.AuthorityCount;
        _additionalLeft = header.AdditionalCount;
        _headerRead = true;
        return DnsStatus.Ok;
    }

    public DnsStatus ReadQuestion(out DnsQuestionView question)
    {
        question = default;
        if (!_headerRead) { var s = ReadHeader(out _); if (s != DnsStatus.Ok) return s; }
        if (_questionsLeft == 0) return DnsStatus.End;
        if (_pos >= _msg.Length) return DnsStatus.CountExceedsData;
        int nameOffset = _pos;
        var st = SkipName(_msg, ref _pos);
        if (st != DnsStatus.Ok) return st;
        if (_msg.Length - _pos < QuestionFixedLength) return DnsStatus.TruncatedQuestion;
        question = new DnsQuestionView(nameOffset, (DnsType)BinaryPrimitives.ReadUInt16BigEndian(_msg[_pos..]),
            BinaryPrimitives.ReadUInt16BigEndian(_msg[(_pos + 2)..]));
        _pos += QuestionFixedLength;
        _questionsLeft--;
        return DnsStatus.Ok;
    }

    /// <summary>Reads the next record (skipping any questions not yet read). <see cref="DnsStatus.End"/> after the last.</summary>
    public DnsStatus ReadRecord(out DnsRecordView record)
    {
        record = default;
        if (!_headerRead) { var s = ReadHeader(out _); if (s != DnsStatus.Ok) return s; }
        while (_questionsLeft > 0) { var s = ReadQuestion(out _); if (s != DnsStatus.Ok) return s; }
        DnsSection section;
        if (_answersLeft > 0) section = DnsSection.Answer;
        else if (_authorityLeft > 0) section = DnsSection.Authority;
        else if (_additionalLeft > 0) section = DnsSection.Additional;
        else return DnsStatus.End;
        if (_pos >= _msg.Length) return DnsStatus.CountExceedsData;

        int nameOffset = _pos;
        var st = SkipName(_msg, ref _pos);
        if (st != DnsStatus.Ok) return st == DnsStatus.TruncatedName ? DnsStatus.TruncatedRecord : st;
        if (_msg.Length - _pos < RecordFixedLength) return DnsStatus.TruncatedRecord;
        var f = _msg[_pos..];
        var type = (DnsType)BinaryPrimitives.ReadUInt16BigEndian(f);
        ushort cls = BinaryPrimitives.ReadUInt16BigEndian(f[2..]);
        uint ttl = BinaryPrimitives.ReadUInt32BigEndian(f[4..]);
        int rdlen = BinaryPrimitives.ReadUInt16BigEndian(f[8..]);
        int rdata = _pos + RecordFixedLength;
        if (_msg.Length - rdata < rdlen) return DnsStatus.TruncatedRecord;
        _pos = rdata + rdlen;
        switch (section)
        {
            case DnsSection.Answer: _answersLeft--; break;
            case DnsSection.Authority: _authorityLeft--; break;
            default: _additionalLeft--; break;
        }
        record = new DnsRecordView(section, nameOffset, type, cls, ttl, rdata, rdlen);
        return DnsStatus.Ok;
    }

    // ---- names (RFC 1035 §3.1, §4.1.4) ----

    /// <summary>Validates the name at <paramref name="pos"/> and moves past it (past the first pointer if compressed).</summary>
    public static DnsStatus SkipName(ReadOnlySpan<byte> msg, ref int pos) => ReadName(msg, ref pos, Span<byte>.Empty, out _, write: false);

    /// <summary>
    /// Decodes the name at <paramref name="offset"/> into uncompressed wire form (length-prefixed labels, ending with
    /// the root's 0) in <paramref name="wireName"/> (256 bytes always suffice). Returns the status; the name's
    /// wire length in <paramref name="nameLength"/>.
    /// </summary>
    public static DnsStatus ReadName(ReadOnlySpan<byte> msg, int offset, Span<byte> wireName, out int nameLength)
    {
        int pos = offset;
        if (wireName.Length < MaxNameLength + 1) { nameLength = 0; return DnsStatus.BufferTooSmall; }
        return ReadName(msg, ref pos, wireName, out nameLength, write: true);
    }

    private static DnsStatus ReadName(ReadOnlySpan<byte> msg, ref int pos, Span<byte> dest, out int nameLength, bool write)
    {
        nameLength = 0;
        int p = pos, segmentStart = pos, jumps = 0, length = 0;
        int after = -1; // where the caller continues: after the first pointer
        while (true)
        {
            if (p >= msg.Length) return DnsStatus.TruncatedName;
            byte b = msg[p];
            if (b == 0)
            {
                length++;
                if (length > MaxNameLength) return DnsStatus.NameTooLong;
                if (write) dest[length - 1] = 0;
                nameLength = length;
                pos = after >= 0 ? after : p + 1;
                return DnsStatus.Ok;
            }
            if ((b & 0xC0) == 0xC0)
            {
                if (p + 1 >= msg.Length) return DnsStatus.TruncatedName;
                int target = ((b & 0x3F) << 8) | msg[p + 1];
                if (target >= msg.Length) return DnsStatus.PointerPastEnd;
                if (target > p) return DnsStatus.ForwardPointer;
                // Pointing into the labels read since the last jump (or at itself) would repeat them forever.
                if (target >= segmentStart) return DnsStatus.PointerLoop;
                if (++jumps > MaxPointerJumps) return DnsStatus.PointerLoop;
                if (after < 0) after = p + 2;
                p = segmentStart = target;
                continue;
            }
            if (b > MaxLabelLength) return DnsStatus.LabelTooLong;
            if (p + 1 + b > msg.Length) return DnsStatus.TruncatedName;
            if (length + 1 + b + 1 > MaxNameLength) return DnsStatus.NameTooLong; // + the root byte still to come
            if (write) msg.Slice(p, 1 + b).CopyTo(dest[length..]);
            length += 1 + b;
            p += 1 + b;
        }
    }

    /// <summary>The name at <paramref name="offset"/> in presentation form (see <see cref="DnsName.ToText"/>), or null when malformed.</summary>
    public static string? ReadNameText(ReadOnlySpan<byte> msg, int offset)
    {
        Span<byte> buf = stackalloc byte[MaxNameLength + 1];
        return ReadName(msg, offset, buf, out int len) == DnsStatus.Ok ? DnsName.ToText(buf[..len]) : null;
    }

    /// <summary><see cref="ReadNameText"/> into <paramref name="text"/> (<see cref="DnsName.MaxTextLength"/>
    /// characters), without allocating; false when the name is malformed.</summary>
    public static bool TryReadNameText(ReadOnlySpan<byte> msg, int offset, Span<char> text, out int written)
    {
        Span<byte> buf = stackalloc byte[MaxNameLength + 1];
        written = 0;
        return ReadName(msg, offset, buf, out int len) == DnsStatus.Ok && DnsName.TryWriteText(buf[..len], text, out written);
    }

    // ---- RDATA (RFC 1035 §3.3, RFC 3596 §2.2, RFC 2782) ----

    public static DnsStatus ReadAddress(ReadOnlySpan<byte> msg, in DnsRecordView rr, out IpAddress address)
    {
        var rd = msg.Slice(rr.RdataOffset, rr.RdataLength);
        address = default;
        if (rr.Type == DnsType.A && rd.Length == 4) { address = IpAddress.ReadV4(rd); return DnsStatus.Ok; }
        if (rr.Type == DnsType.AAAA && rd.Length == 16) { address = IpAddress.ReadV6(rd); return DnsStatus.Ok; }
        return DnsStatus.BadRdata;
    }

    /// <summary>
    /// Reads a name inside RDATA at <paramref name="offset"/> (compression allowed) and checks that it stays
    /// inside the RDATA; <paramref name="next"/> is the offset after it.
    /// </summary>
    public static DnsStatus ReadRdataName(ReadOnlySpan<byte> msg, in DnsRecordView rr, int offset, Span<byte> wireName, out int nameLength, out int next)
    {
        nameLength = 0; next = offset;
        int end = rr.RdataOffset + rr.RdataLength;
        if (offset >= end) return DnsStatus.BadRdata;
        int pos = offset;
        if (wireName.Length < MaxNameLength + 1) return DnsStatus.BufferTooSmall;
        var st = ReadName(msg, ref pos, wireName, out nameLength, write: true);
        if (st != DnsStatus.Ok) return st;
        if (pos > end) return DnsStatus.BadRdata;
        next = pos;
        return DnsStatus.Ok;
    }

    /// <summary>Walks the character-strings of a TXT (or SPF) RDATA; each string is 1 length byte + data.</summary>
    public static DnsStatus CountTxtStrings(ReadOnlySpan<byte> rdata, out int strings, out int textBytes)
    {
        strings = 0; textBytes = 0;
        int p = 0;
        while (p < rdata.Length)
        {
            int n = rdata[p];
            if (p + 1 + n > rdata.Length) return DnsStatus.BadRdata;
            strings++; textBytes += n; p += 1 + n;
        }
        return DnsStatus.Ok;
    }

    /// <summary>An OPT record's RDATA is options (code, length, data) that tile it exactly (RFC 6891 §6.1.2).</summary>
    public static bool OptionsTile(ReadOnlySpan<byte> rdata)
    {
        for (int p = 0; p < rdata.Length;)
        {
            if (rdata.Length - p < 4) return false;
            int olen = BinaryPrimitives.ReadUInt16BigEndian(rdata[(p + 2)..]);
            if (rdata.Length - p - 4 < olen) return false;
            p += 4 + olen;
        }
        return true;
    }

    /// <summary>
    /// Reads a whole message without allocating: header, first question, record counts, EDNS. For the capture hot
    /// path, which counts DNS traffic and its sizes. <paramref name="summary"/> holds what was read before any error.
    /// </summary>
    public static DnsStatus Scan(ReadOnlySpan<byte> message, out DnsSummary summary)
    {
        summary = default;
        var r = new DnsReader(message);
        var st = r.ReadHeader(out summary.Header);
        if (st != DnsStatus.Ok) return st;
        summary.MessageLength = message.Length;
        while (r.HasQuestions)
        {
            st = r.ReadQuestion(out var q);
            if (st != DnsStatus.Ok) return st;
            if (summary.QuestionsRead++ == 0) { summary.QuestionType = q.Type; summary.QuestionClass = q.Class; summary.QuestionNameOffset = q.NameOffset; }
        }
        while (true)
        {
            st = r.ReadRecord(out var rr);
            if (st == DnsStatus.End) break;
            if (st != DnsStatus.Ok) return st;
            summary.RecordsRead++;
            if (rr.Section == DnsSection.Answer)
            {
                summary.AnswersRead++;
                if (rr.Type is DnsType.TXT or DnsType.SPF)
                {
                    if (CountTxtStrings(message.Slice(rr.RdataOffset, rr.RdataLength), out int n, out int bytes) != DnsStatus.Ok) return DnsStatus.BadRdata;
                    summary.TxtStrings += n; summary.TxtBytes += bytes;
                }
            }
            if (rr.Type == DnsType.OPT)
            {
                if (summary.HasEdns || rr.Section != DnsSection.Additional || message[rr.NameOffset] != 0) return DnsStatus.BadOpt;
                summary.HasEdns = true;
                summary.UdpPayloadSize = rr.OptUdpPayloadSize;
                summary.ExtendedRcodeHigh = rr.OptExtendedRcode;
                summary.DnssecOk = rr.OptDnssecOk;
            }
        }
        summary.Complete = true;
        return DnsStatus.Ok;
    }
}

/// <summary>What <see cref="DnsReader.Scan"/> read: no names are decoded (the question's name stays at <see cref="QuestionNameOffset"/>).</summary>
public struct DnsSummary
{
    public DnsHeader Header;
    public int MessageLength;
    public int QuestionsRead, RecordsRead, AnswersRead;
    public DnsType QuestionType;
    public ushort QuestionClass;
    public int QuestionNameOffset;
    public bool HasEdns, DnssecOk;
    public int UdpPayloadSize;
    public int ExtendedRcodeHigh;
    public int TxtStrings, TxtBytes;
    /// <summary>Every record counted in the header was read.</summary>
    public bool Complete;
    /// <summary>The 12-bit response code: header RCODE plus the OPT record's upper bits (RFC 6891 §6.1.3).</summary>
    public readonly int Rcode => (ExtendedRcodeHigh << 4) | Header.Rcode;
}
