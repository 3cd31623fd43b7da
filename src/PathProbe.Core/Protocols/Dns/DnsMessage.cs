using System.Buffers.Binary;
using System.Text;
using PathProbe.Primitives;

namespace PathProbe.Protocols.Dns;

/// <summary>Decoded RDATA. Names are in presentation form (<see cref="DnsName.ToText"/>).</summary>
public abstract record DnsRdata;
public sealed record AddressRdata(IpAddress Address) : DnsRdata;
/// <summary>NS, CNAME, PTR: one name.</summary>
public sealed record NameRdata(string Name) : DnsRdata;
public sealed record MxRdata(ushort Preference, string Exchange) : DnsRdata
{
    /// <summary>"MX 0 ." : the domain accepts no mail (RFC 7505).</summary>
    public bool IsNullMx => Preference == 0 && Exchange == ".";
}
public sealed record TxtRdata(IReadOnlyList<byte[]> Strings) : DnsRdata
{
    /// <summary>The strings concatenated without separator (RFC 7208 §3.3), one char per byte (Latin-1) so no byte is lost.</summary>
    public string Joined => string.Concat(Strings.Select(s => Encoding.Latin1.GetString(s)));
    public int TextBytes => Strings.Sum(s => s.Length);
}
public sealed record SoaRdata(string MName, string RName, uint Serial, uint Refresh, uint Retry, uint Expire, uint Minimum) : DnsRdata;
public sealed record SrvRdata(ushort Priority, ushort Weight, ushort Port, string Target) : DnsRdata;
public sealed record OptRdata(int UdpPayloadSize, int ExtendedRcodeHigh, int Version, bool DnssecOk, int OptionBytes) : DnsRdata;
/// <summary>A type PathProbe does not decode: only its length is kept.</summary>
public sealed record UnknownRdata(int Length) : DnsRdata;

public sealed record DnsRecord(DnsSection Section, string Name, DnsType Type, ushort Class, uint Ttl, int RdataLength, DnsRdata Data)
{
    public override string ToString() => $"{SafeText.Clean(Name)} {Ttl} {Type} {Describe(Data)}";

    public static string Describe(DnsRdata d) => d switch
    {
        AddressRdata a => a.Address.ToString(),
        NameRdata n => SafeText.Clean(n.Name),
        MxRdata m => $"{m.Preference} {SafeText.Clean(m.Exchange)}",
        TxtRdata t => string.Join(" ", t.Strings.Select(s => "\"" + SafeText.FromBytes(s) + "\"")),
        SoaRdata s => $"{SafeText.Clean(s.MName)} {SafeText.Clean(s.RName)} {s.Serial} {s.Refresh} {s.Retry} {s.Expire} {s.Minimum}",
        SrvRdata s => $"{s.Priority} {s.Weight} {s.Port} {SafeText.Clean(s.Target)}",
        OptRdata o => $"udp={o.UdpPayloadSize} do={(o.DnssecOk ? 1 : 0)} version={o.Version}",
        UnknownRdata u => $"({u.Length} bytes)",
        _ => "",
    };
}

public sealed record DnsQuestion(string Name, DnsType Type, ushort Class);

/// <summary>
/// A whole DNS message as objects, for reports and the resolver. Allocates; the capture hot path uses
/// <see cref="DnsReader.Scan"/> instead.
/// </summary>
public sealed class DnsMessage
{
    public DnsHeader Header { get; private init; }
    public List<DnsQuestion> Questions { get; } = new();
    public List<DnsRecord> Answers { get; } = new();
    public List<DnsRecord> Authority { get; } = new();
    public List<DnsRecord> Additional { get; } = new();
    /// <summary>The OPT record's fields when present (RFC 6891).</summary>
    public OptRdata? Edns { get; private set; }
    public int Length { get; private init; }

    /// <summary>The 12-bit response code (header + OPT).</summary>
    public DnsRcode Rcode => (DnsRcode)(((Edns?.ExtendedRcodeHigh ?? 0) << 4) | Header.Rcode);

    /// <summary>Decodes a message. On a malformed message returns null and the status in <paramref name="status"/>;
    /// <paramref name="errorOffset"/> is where reading stopped.</summary>
    public static DnsMessage? Decode(ReadOnlySpan<byte> msg, out DnsStatus status, out int errorOffset)
    {
        var r = new DnsReader(msg);
        errorOffset = 0;
        status = r.ReadHeader(out var header);
        if (status != DnsStatus.Ok) return null;
        var m = new DnsMessage { Header = header, Length = msg.Length };
        Span<byte> name = stackalloc byte[DnsReader.MaxNameLength + 1];
        while (r.HasQuestions)
        {
            errorOffset = r.Position;
            status = r.ReadQuestion(out var q);
            if (status != DnsStatus.Ok) return null;
            DnsReader.ReadName(msg, q.NameOffset, name, out int n);
            m.Questions.Add(new DnsQuestion(DnsName.ToText(name[..n]), q.Type, q.Class));
        }
        while (true)
        {
            errorOffset = r.Position;
            status = r.ReadRecord(out var rr);
            if (status == DnsStatus.End) { status = DnsStatus.Ok; break; }
            if (status != DnsStatus.Ok) return null;
            DnsReader.ReadName(msg, rr.NameOffset, name, out int n);
            string owner = DnsName.ToText(name[..n]);
            status = DecodeRdata(msg, rr, out var data);
            if (status != DnsStatus.Ok) { errorOffset = rr.RdataOffset; return null; }
            if (data is OptRdata opt)
            {
                if (m.Edns is not null || rr.Section != DnsSection.Additional || n != 1) { status = DnsStatus.BadOpt; errorOffset = rr.NameOffset; return null; }
                m.Edns = opt;
            }
            var rec = new DnsRecord(rr.Section, owner, rr.Type, rr.Class, rr.Ttl, rr.RdataLength, data);
            (rr.Section switch { DnsSection.Answer => m.Answers, DnsSection.Authority => m.Authority, _ => m.Additional }).Add(rec);
        }
        errorOffset = msg.Length;
        return m;
    }

    public static DnsStatus DecodeRdata(ReadOnlySpan<byte> msg, in DnsRecordView rr, out DnsRdata data)
    {
        data = new UnknownRdata(rr.RdataLength);
        var rd = msg.Slice(rr.RdataOffset, rr.RdataLength);
        int end = rr.RdataOffset + rr.RdataLength;
        Span<byte> name = stackalloc byte[DnsReader.MaxNameLength + 1];
        Span<byte> name2 = stackalloc byte[DnsReader.MaxNameLength + 1];
        DnsStatus st;
        switch (rr.Type)
        {
            case DnsType.A or DnsType.AAAA:
                st = DnsReader.ReadAddress(msg, rr, out var addr);
                if (st == DnsStatus.Ok) data = new AddressRdata(addr);
                return st;
            case DnsType.NS or DnsType.CNAME or DnsType.PTR:
            {
                st = DnsReader.ReadRdataName(msg, rr, rr.RdataOffset, name, out int n, out int next);
                if (st != DnsStatus.Ok) return st;
                if (next != end) return DnsStatus.BadRdata;
                data = new NameRdata(DnsName.ToText(name[..n]));
                return DnsStatus.Ok;
            }
            case DnsType.MX:
            {
                if (rd.Length < 3) return DnsStatus.BadRdata;
                st = DnsReader.ReadRdataName(msg, rr, rr.RdataOffset + 2, name, out int n, out int next);
                if (st != DnsStatus.Ok) return st;
                if (next != end) return DnsStatus.BadRdata;
                data = new MxRdata(BinaryPrimitives.ReadUInt16BigEndian(rd), DnsName.ToText(name[..n]));
                return DnsStatus.Ok;
            }
            case DnsType.TXT or DnsType.SPF:
            {
                if (DnsReader.CountTxtStrings(rd, out int count, out _) != DnsStatus.Ok) return DnsStatus.BadRdata;
                var list = new byte[count][];
                for (int p = 0, i = 0; p < rd.Length; i++) { int len = rd[p]; list[i] = rd.Slice(p + 1, len).ToArray(); p += 1 + len; }
                data = new TxtRdata(list);
                return DnsStatus.Ok;
            }
            case DnsType.SOA:
            {
                st = DnsReader.ReadRdataName(msg, rr, rr.RdataOffset, name, out int n1, out int next);
                if (st != DnsStatus.Ok) return st;
                st = DnsReader.ReadRdataName(msg, rr, next, name2, out int n2, out next);
                if (st != DnsStatus.Ok) return st;
                if (end - next != 20) return DnsStatus.BadRdata;
                var f = msg.Slice(next, 20);
                data = new SoaRdata(DnsName.ToText(name[..n1]), DnsName.ToText(name2[..n2]),
                    BinaryPrimitives.ReadUInt32BigEndian(f), BinaryPrimitives.ReadUInt32BigEndian(f[4..]), BinaryPrimitives.ReadUInt32BigEndian(f[8..]),
                    BinaryPrimitives.ReadUInt32BigEndian(f[12..]), BinaryPrimitives.ReadUInt32BigEndian(f[16..]));
                return DnsStatus.Ok;
            }
            case DnsType.SRV:
            {
                if (rd.Length < 7) return DnsStatus.BadRdata;
                st = DnsReader.ReadRdataName(msg, rr, rr.RdataOffset + 6, name, out int n, out int next);
                if (st != DnsStatus.Ok) return st;
                if (next != end) return DnsStatus.BadRdata;
                data = new SrvRdata(BinaryPrimitives.ReadUInt16BigEndian(rd), BinaryPrimitives.ReadUInt16BigEndian(rd[2..]),
                    BinaryPrimitives.ReadUInt16BigEndian(rd[4..]), DnsName.ToText(name[..n]));
                return DnsStatus.Ok;
            }
            case DnsType.OPT:
            {
                if (!DnsReader.OptionsTile(rd)) return DnsStatus.BadOpt;
                data = new OptRdata(rr.OptUdpPayloadSize, rr.OptExtendedRcode, rr.OptVersion, rr.OptDnssecOk, rd.Length);
                return DnsStatus.Ok;
            }
            default:
                return DnsStatus.Ok;
        }
    }

    public IEnumerable<DnsRecord> AllRecords => Answers.Concat(Authority).Concat(Additional);
}
