namespace PathProbe.Protocols.Dns;

/// <summary>Record types PathProbe decodes (RFC 1035 §3.2.2, RFC 3596, RFC 2782, RFC 6891); others keep their number.</summary>
public enum DnsType : ushort
{
    A = 1, NS = 2, CNAME = 5, SOA = 6, PTR = 12, MX = 15, TXT = 16, AAAA = 28, SRV = 33, OPT = 41,
    /// <summary>Type 99, retired by RFC 7208 §3.1; still seen.</summary>
    SPF = 99,
    ANY = 255,
}

public enum DnsClass : ushort { IN = 1, CH = 3, ANY = 255 }

/// <summary>Response codes (RFC 1035 §4.1.1; RFC 6891 extends them to 12 bits with the OPT record).</summary>
public enum DnsRcode : ushort
{
    NoError = 0, FormErr = 1, ServFail = 2, NxDomain = 3, NotImp = 4, Refused = 5,
    YxDomain = 6, YxRrSet = 7, NxRrSet = 8, NotAuth = 9, NotZone = 10, BadVers = 16,
}

public enum DnsSection : byte { Question, Answer, Authority, Additional }

/// <summary>
/// How reading a DNS message went. Every malformed case has its own value (stable names, usable as counter keys);
/// the reader never throws on message content.
/// </summary>
public enum DnsStatus : byte
{
    Ok,
    /// <summary>Fewer than 12 bytes: no complete header.</summary>
    TruncatedHeader,
    /// <summary>A name runs past the end of the message.</summary>
    TruncatedName,
    /// <summary>A question's type/class run past the end.</summary>
    TruncatedQuestion,
    /// <summary>A record's fixed part (type, class, TTL, RDLENGTH) or its RDATA runs past the end.</summary>
    TruncatedRecord,
    /// <summary>The header counts more questions/records than the message holds (it ends on a record boundary).</summary>
    CountExceedsData,
    /// <summary>A length byte of 64..191: labels are at most 63 bytes; 0x40/0x80 are the retired label types (RFC 6891 §5).</summary>
    LabelTooLong,
    /// <summary>The name is longer than 255 bytes in wire form (RFC 1035 §2.3.4).</summary>
    NameTooLong,
    /// <summary>A compression pointer points at or after itself.</summary>
    ForwardPointer,
    /// <summary>A compression pointer points beyond the end of the message.</summary>
    PointerPastEnd,
    /// <summary>A compression pointer points back into the name being read, or too many jumps: a loop.</summary>
    PointerLoop,
    /// <summary>RDATA does not match its type's layout (wrong length for A/AAAA, a name not ending at RDLENGTH, ...).</summary>
    BadRdata,
    /// <summary>More than one OPT record, or OPT with a non-root owner (RFC 6891 §6.1.1).</summary>
    BadOpt,
    /// <summary>Writer: the destination buffer is too small.</summary>
    BufferTooSmall,
    /// <summary>Writer/parser: a name in presentation form has an empty label or a bad escape.</summary>
    BadNameText,
    /// <summary>All records were read; nothing more.</summary>
    End,
}
