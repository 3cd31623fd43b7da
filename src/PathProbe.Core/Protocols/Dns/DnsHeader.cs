using System.Buffers.Binary;

namespace PathProbe.Protocols.Dns;

/// <summary>The 12-byte DNS header (RFC 1035 §4.1.1; AD/CD from RFC 4035 §3.2).</summary>
public readonly struct DnsHeader
{
    public const int Length = 12;
    private const int IdOffset = 0, FlagsOffset = 2, QdOffset = 4, AnOffset = 6, NsOffset = 8, ArOffset = 10;

    public const ushort QrBit = 0x8000, AaBit = 0x0400, TcBit = 0x0200, RdBit = 0x0100, RaBit = 0x0080, AdBit = 0x0020, CdBit = 0x0010;

    public readonly ushort Id;
    public readonly ushort Flags;
    public readonly ushort QuestionCount, AnswerCount, AuthorityCount, AdditionalCount;

    public DnsHeader(ushort id, ushort flags, ushort qd, ushort an, ushort ns, ushort ar)
    {
        Id = id; Flags = flags; QuestionCount = qd; AnswerCount = an; AuthorityCount = ns; AdditionalCount = ar;
    }

    /// <summary>Reads a header; the span must hold at least <see cref="Length"/> bytes.</summary>
    public static DnsHeader Read(ReadOnlySpan<byte> s) => new(
        BinaryPrimitives.ReadUInt16BigEndian(s[IdOffset..]), BinaryPrimitives.ReadUInt16BigEndian(s[FlagsOffset..]),
        BinaryPrimitives.ReadUInt16BigEndian(s[QdOffset..]), BinaryPrimitives.ReadUInt16BigEndian(s[AnOffset..]),
        BinaryPrimitives.ReadUInt16BigEndian(s[NsOffset..]), BinaryPrimitives.ReadUInt16BigEndian(s[ArOffset..]));

    public void Write(Span<byte> d)
    {
        BinaryPrimitives.WriteUInt16BigEndian(d[IdOffset..], Id);
        BinaryPrimitives.WriteUInt16BigEndian(d[FlagsOffset..], Flags);
        BinaryPrimitives.WriteUInt16BigEndian(d[QdOffset..], QuestionCount);
        BinaryPrimitives.WriteUInt16BigEndian(d[AnOffset..], AnswerCount);
        BinaryPrimitives.WriteUInt16BigEndian(d[NsOffset..], AuthorityCount);
        BinaryPrimitives.WriteUInt16BigEndian(d[ArOffset..], AdditionalCount);
    }

    public bool IsResponse => (Flags & QrBit) != 0;
    public int Opcode => (Flags >> 11) & 0xF;
    public bool Authoritative => (Flags & AaBit) != 0;
    public bool Truncated => (Flags & TcBit) != 0;
    public bool RecursionDesired => (Flags & RdBit) != 0;
    public bool RecursionAvailable => (Flags & RaBit) != 0;
    public bool AuthenticData => (Flags & AdBit) != 0;
    public bool CheckingDisabled => (Flags & CdBit) != 0;
    /// <summary>The low 4 bits of the response code; with EDNS the OPT record adds 8 high bits.</summary>
    public int Rcode => Flags & 0xF;
    public int RecordCount => AnswerCount + AuthorityCount + AdditionalCount;
}
