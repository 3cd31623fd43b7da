using System.Buffers.Binary;

namespace PathProbe.Protocols.Dns;

/// <summary>Options of a query built by <see cref="DnsWriter.WriteQuery"/>.</summary>
public readonly record struct DnsQueryOptions(bool RecursionDesired = true, int EdnsUdpPayloadSize = 1232, bool DnssecOk = false, bool CheckingDisabled = false)
{
    /// <summary>No OPT record when <see cref="EdnsUdpPayloadSize"/> is 0.</summary>
    public bool UseEdns => EdnsUdpPayloadSize > 0;
}

/// <summary>Builds query messages (RFC 1035 §4.1, EDNS OPT per RFC 6891 §6.1.2) into a caller's buffer.</summary>
public static class DnsWriter
{
    private const int OptLength = 11; // root name, type, class, TTL, RDLENGTH

    /// <summary>Bytes a query for <paramref name="name"/> needs at most.</summary>
    public const int MaxQueryLength = DnsHeader.Length + DnsReader.MaxNameLength + 4 + OptLength;

    public static DnsStatus WriteQuery(Span<byte> dest, ushort id, string name, DnsType type, DnsQueryOptions options, out int written, ushort cls = (ushort)DnsClass.IN)
    {
        written = 0;
        if (dest.Length < DnsHeader.Length) return DnsStatus.BufferTooSmall;
        var st = DnsName.Encode(name, dest[DnsHeader.Length..], out int nameLen);
        if (st != DnsStatus.Ok) return st;
        int p = DnsHeader.Length + nameLen;
        int need = p + 4 + (options.UseEdns ? OptLength : 0);
        if (dest.Length < need) return DnsStatus.BufferTooSmall;
        ushort flags = (ushort)((options.RecursionDesired ? DnsHeader.RdBit : 0) | (options.CheckingDisabled ? DnsHeader.CdBit : 0));
        new DnsHeader(id, flags, 1, 0, 0, (ushort)(options.UseEdns ? 1 : 0)).Write(dest);
        BinaryPrimitives.WriteUInt16BigEndian(dest[p..], (ushort)type);
        BinaryPrimitives.WriteUInt16BigEndian(dest[(p + 2)..], cls);
        p += 4;
        if (options.UseEdns)
        {
            dest[p] = 0;
            BinaryPrimitives.WriteUInt16BigEndian(dest[(p + 1)..], (ushort)DnsType.OPT);
            BinaryPrimitives.WriteUInt16BigEndian(dest[(p + 3)..], (ushort)Math.Clamp(options.EdnsUdpPayloadSize, 512, 65535));
            BinaryPrimitives.WriteUInt32BigEndian(dest[(p + 5)..], options.DnssecOk ? 0x8000u : 0u);
            BinaryPrimitives.WriteUInt16BigEndian(dest[(p + 9)..], 0);
            p += OptLength;
        }
        written = p;
        return DnsStatus.Ok;
    }
}
