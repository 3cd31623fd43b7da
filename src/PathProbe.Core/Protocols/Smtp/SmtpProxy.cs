using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using PathProbe.Primitives;

namespace PathProbe.Protocols.Smtp;

/// <summary>The proxy exchange that came before the SMTP dialogue on a connection.</summary>
public enum SmtpProxyKind : byte
{
    /// <summary>HTTP CONNECT (RFC 9110 9.3.6): "CONNECT host:port HTTP/1.1", then "HTTP/1.1 200 ...".</summary>
    HttpConnect,
    /// <summary>HAProxy PROXY protocol version 1: one text line "PROXY TCP4 src dst sport dport".</summary>
    ProxyV1,
    /// <summary>HAProxy PROXY protocol version 2: a 16-byte binary header and the addresses.</summary>
    ProxyV2,
    /// <summary>SOCKS 4 or 4a CONNECT.</summary>
    Socks4,
    /// <summary>SOCKS 5 (RFC 1928), optionally with username/password authentication (RFC 1929, never decoded).</summary>
    Socks5,
}

/// <summary>How far the proxy exchange got.</summary>
public enum SmtpProxyState : byte
{
    /// <summary>Started, not finished.</summary>
    Negotiating,
    /// <summary>The tunnel is up (PROXY header read, CONNECT answered 2xx, SOCKS granted): SMTP follows.</summary>
    Established,
    /// <summary>The proxy refused (HTTP non-2xx, SOCKS rejection) or the exchange did not parse.</summary>
    Failed,
}

/// <summary>A proxy exchange before SMTP. Texts are cleaned for display; SOCKS credentials are skipped, never kept.</summary>
public sealed class SmtpProxy
{
    internal SmtpProxy(SmtpProxyKind kind, Timestamp start)
    {
        Kind = kind;
        Start = start;
    }

    public SmtpProxyKind Kind { get; }
    public SmtpProxyState State { get; internal set; }
    public Timestamp Start { get; }
    /// <summary>When the tunnel was up (the SMTP greeting delay is measured from here).</summary>
    public Timestamp? EstablishedTime { get; internal set; }
    /// <summary>Where the client asked to be connected ("mailin.example:25"): CONNECT target, SOCKS destination.</summary>
    public string? Target { get; internal set; }
    /// <summary>PROXY protocol: the original client ("192.0.2.7:40512") and the address it connected to.</summary>
    public string? Source { get; internal set; }
    public string? Destination { get; internal set; }
    /// <summary>The proxy's answer: HTTP status code, SOCKS reply code (SOCKS 4: 90 granted; SOCKS 5: 0 succeeded), or -1.</summary>
    public int Status { get; internal set; } = -1;
    /// <summary>SOCKS 5 used username/password authentication (the credentials are skipped, never decoded).</summary>
    public bool Authenticated { get; internal set; }
    /// <summary>Why it failed, when it did ("HTTP 407", "SOCKS 5 reply 5", "malformed PROXY v1 header").</summary>
    public string? FailureReason { get; internal set; }

    /// <summary>Stable kebab-case name (JSON).</summary>
    public static string KindName(SmtpProxyKind k) => k switch
    {
        SmtpProxyKind.HttpConnect => "http-connect",
        SmtpProxyKind.ProxyV1 => "proxy-v1",
        SmtpProxyKind.ProxyV2 => "proxy-v2",
        SmtpProxyKind.Socks4 => "socks4",
        _ => "socks5",
    };

    /// <summary>Words for reports: "HTTP CONNECT", "PROXY protocol v2", "SOCKS 5".</summary>
    public static string KindWords(SmtpProxyKind k) => k switch
    {
        SmtpProxyKind.HttpConnect => "HTTP CONNECT",
        SmtpProxyKind.ProxyV1 => "PROXY protocol v1",
        SmtpProxyKind.ProxyV2 => "PROXY protocol v2",
        SmtpProxyKind.Socks4 => "SOCKS 4",
        _ => "SOCKS 5",
    };

    public static string StateName(SmtpProxyState s) => s switch
    {
        SmtpProxyState.Established => "established",
        SmtpProxyState.Failed => "failed",
        _ => "negotiating",
    };
}

/// <summary>
/// Reads a proxy preamble at the start of a connection, byte by byte in both directions (it is a few dozen bytes,
/// once per connection): HTTP CONNECT and its response, a PROXY v1/v2 header (HAProxy's PROXY protocol
/// specification, haproxy.org/download/2.9/doc/proxy-protocol.txt), a SOCKS 4/4a or SOCKS 5 (RFC 1928, RFC 1929)
/// exchange. Every field is bounds-checked; a preamble that does not parse ends as <see cref="SmtpProxyState.Failed"/>.
/// </summary>
internal sealed class SmtpPreamble
{
    /// <summary>PROXY v2 signature (proxy-protocol.txt 2.2).</summary>
    private static ReadOnlySpan<byte> V2Signature => [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A];
    private const int MaxLine = 1024;       // HTTP request/status line, PROXY v1 line (107 bytes by the spec)
    private const int MaxHeaderBytes = 16 * 1024; // HTTP header lines after the first (skipped)
    private const int MaxField = 255;       // SOCKS user id and host name

    public enum Detect : byte { No, NeedMore, Yes }

    /// <summary>Whether <paramref name="start"/> (the client's first bytes) begins a proxy preamble; <c>NeedMore</c>
    /// while it is a prefix of a signature.</summary>
    public static Detect Check(ReadOnlySpan<byte> start, out SmtpProxyKind kind)
    {
        kind = default;
        if (start.IsEmpty) return Detect.NeedMore;
        switch (start[0])
        {
            case (byte)'C': kind = SmtpProxyKind.HttpConnect; return Prefix(start, "CONNECT "u8);
            case (byte)'P': kind = SmtpProxyKind.ProxyV1; return Prefix(start, "PROXY "u8);
            case 0x0D: kind = SmtpProxyKind.ProxyV2; return Prefix(start, V2Signature);
            case 0x04:
                // SOCKS 4: VN=4, CD=1 (CONNECT), then port and IPv4 address.
                kind = SmtpProxyKind.Socks4;
                if (start.Length < 2) return Detect.NeedMore;
                return start[1] == 1 ? Detect.Yes : Detect.No;
            case 0x05:
            {
                // SOCKS 5 greeting: VER=5, NMETHODS 1..9, each method 0-9 (IANA) or 0x80-0xFE (private).
                kind = SmtpProxyKind.Socks5;
                if (start.Length < 2) return Detect.NeedMore;
                int n = start[1];
                if (n is < 1 or > 9) return Detect.No;
                for (int i = 2; i < Math.Min(start.Length, 2 + n); i++)
                    if (start[i] is > 9 and < 0x80 or 0xFF) return Detect.No;
                if (start.Length < 2 + n) return Detect.NeedMore;
                // The client waits for the method choice, so nothing else follows the greeting (a request may be
                // pipelined when method 0 is offered: it starts with 5 again).
                return start.Length == 2 + n || start[2 + n] == 5 ? Detect.Yes : Detect.No;
            }
            default: return Detect.No;
        }
    }

    private static Detect Prefix(ReadOnlySpan<byte> s, ReadOnlySpan<byte> sig) =>
        s.Length < sig.Length ? (sig.StartsWith(s) ? Detect.NeedMore : Detect.No) : s.StartsWith(sig) ? Detect.Yes : Detect.No;

    // ---- parser state ----------------------------------------------------------------------------------

    private enum C : byte
    {
        HttpRequestLine, HttpHeaders,
        V1Line,
        V2Header, V2Body,
        S4Fixed, S4User, S4Host,
        S5Greeting, S5Next, S5Auth, S5Request, S5Addr,
        Done,
    }

    private enum S : byte { HttpStatusLine, HttpHeaders, S4Reply, S5Method, S5AuthReply, S5Reply, S5Addr, Done }

    private readonly byte[] _cbuf = new byte[MaxLine];
    private readonly byte[] _sbuf = new byte[MaxLine];
    private int _clen, _slen;
    private C _c;
    private S _s;
    private int _need, _sneed;   // bytes still expected for the current field, per direction
    private int _step;           // position inside a multi-part field (SOCKS 5 authentication, greeting)
    private int _headerBytes, _sheaderBytes;
    private bool _lineStart = true, _slineStart = true;
    private int _v2Len;
    private byte _v2Family;
    private ushort _s4Port;
    private bool _s4a;

    public SmtpProxy Proxy { get; }

    public SmtpPreamble(SmtpProxyKind kind, Timestamp start)
    {
        Proxy = new SmtpProxy(kind, start);
        (_c, _s, _need, _sneed) = kind switch
        {
            SmtpProxyKind.HttpConnect => (C.HttpRequestLine, S.HttpStatusLine, 0, 0),
            SmtpProxyKind.ProxyV1 => (C.V1Line, S.Done, 0, 0),
            SmtpProxyKind.ProxyV2 => (C.V2Header, S.Done, 16, 0),
            SmtpProxyKind.Socks4 => (C.S4Fixed, S.S4Reply, 8, 8),
            _ => (C.S5Greeting, S.S5Method, 0, 2),
        };
    }

    public bool ClientDone => _c == C.Done || Proxy.State == SmtpProxyState.Failed;
    public bool ServerDone => _s == S.Done || Proxy.State == SmtpProxyState.Failed;

    /// <summary>Consumes client bytes of the preamble; returns how many (the rest is SMTP).</summary>
    public int Client(ReadOnlySpan<byte> data, Timestamp time)
    {
        int i = 0;
        while (i < data.Length && !ClientDone)
        {
            byte b = data[i++];
            switch (_c)
            {
                case C.HttpRequestLine:
                {
                    if (!AddLine(_cbuf, ref _clen, b, out bool end)) { Fail("HTTP request line too long"); break; }
                    if (!end) break;
                    // "CONNECT host:port HTTP/1.1" (RFC 9110 9.3.6: the target is authority-form).
                    var rest = Trim(_cbuf.AsSpan(0, _clen))["CONNECT "u8.Length..];
                    int sp = rest.IndexOf((byte)' ');
                    Proxy.Target = SmtpText.ToDisplay(sp < 0 ? rest : rest[..sp], 300);
                    _clen = 0;
                    _c = C.HttpHeaders;
                    break;
                }
                case C.HttpHeaders:
                    if (++_headerBytes > MaxHeaderBytes) { Fail("HTTP CONNECT headers too long"); break; }
                    if (HeadersEnd(ref _lineStart, b)) _c = C.Done;
                    break;
                case C.V1Line:
                {
                    // proxy-protocol.txt 2.1: at most 107 bytes with the CRLF.
                    if (!AddLine(_cbuf, ref _clen, b, out bool end) || _clen > 106) { Fail("PROXY v1 header over 107 bytes"); break; }
                    if (!end) break;
                    ParseV1(Trim(_cbuf.AsSpan(0, _clen)));
                    _c = C.Done;
                    break;
                }
                case C.V2Header:
                    _cbuf[_clen++] = b;
                    if (--_need > 0) break;
                    // proxy-protocol.txt 2.2: signature, ver_cmd (version 2; command 0 LOCAL or 1 PROXY), family, length.
                    if (!_cbuf.AsSpan(0, 12).SequenceEqual(V2Signature) || _cbuf[12] >> 4 != 2 || (_cbuf[12] & 0xF) > 1)
                    {
                        Fail("PROXY v2 header with a bad version or command");
                        break;
                    }
                    _v2Family = (_cbuf[12] & 0xF) == 1 ? _cbuf[13] : (byte)0;
                    _v2Len = BinaryPrimitives.ReadUInt16BigEndian(_cbuf.AsSpan(14));
                    _clen = 0;
                    _need = _v2Len;
                    if (_need == 0) { ParseV2(); _c = C.Done; }
                    else _c = C.V2Body;
                    break;
                case C.V2Body:
                    // Addresses, then TLVs (skipped): only the first 36 bytes are kept.
                    if (_clen < 36) _cbuf[_clen++] = b;
                    if (--_need == 0) { ParseV2(); _c = C.Done; }
                    break;
                case C.S4Fixed:
                    // VN CD DSTPORT(2) DSTIP(4)
                    _cbuf[_clen++] = b;
                    if (--_need > 0) break;
                    _s4Port = BinaryPrimitives.ReadUInt16BigEndian(_cbuf.AsSpan(2));
                    // SOCKS 4a: DSTIP 0.0.0.x with x != 0 means a host name follows the user id.
                    _s4a = _cbuf[4] == 0 && _cbuf[5] == 0 && _cbuf[6] == 0 && _cbuf[7] != 0;
                    if (!_s4a) Proxy.Target = new IPAddress(_cbuf.AsSpan(4, 4)) + ":" + _s4Port.ToString(CultureInfo.InvariantCulture);
                    _clen = 0;
                    _need = MaxField;
                    _c = C.S4User;
                    break;
                case C.S4User:
                    // The user id may name a person: skipped, never kept. NUL ends it.
                    if (b == 0) _c = _s4a ? C.S4Host : C.Done;
                    else if (--_need == 0) Fail("SOCKS 4 user id too long");
                    break;
                case C.S4Host:
                    if (b == 0)
                    {
                        Proxy.Target = SmtpText.ToDisplay(_cbuf.AsSpan(0, _clen), MaxField) + ":" + _s4Port.ToString(CultureInfo.InvariantCulture);
                        _c = C.Done;
                    }
                    else if (_clen >= MaxField) Fail("SOCKS 4a host name too long");
                    else _cbuf[_clen++] = b;
                    break;
                case C.S5Greeting:
                    // VER NMETHODS METHODS (RFC 1928 3)
                    if (_step == 0) { if (b != 5) Fail("SOCKS 5 greeting version"); _step = 1; }
                    else if (_step == 1) { _need = b; _step = 2; if (_need == 0) Fail("SOCKS 5 greeting without methods"); }
                    else if (--_need == 0) _c = C.S5Next;
                    break;
                case C.S5Next:
                    // After the greeting: 1 starts the RFC 1929 username/password exchange, 5 the request.
                    if (b == 1) { _c = C.S5Auth; _step = 0; Proxy.Authenticated = true; }
                    else if (b == 5) { _c = C.S5Request; _cbuf[0] = b; _clen = 1; }
                    else Fail("SOCKS 5: neither authentication nor a request after the greeting");
                    break;
                case C.S5Auth:
                    // ULEN UNAME PLEN PASSWD (RFC 1929 2): credentials, skipped by their lengths, never kept.
                    switch (_step)
                    {
                        case 0: _need = b; _step = _need == 0 ? 2 : 1; break;
                        case 1: if (--_need == 0) _step = 2; break;
                        case 2: _need = b; if (_need == 0) _c = C.S5Next; else _step = 3; break;
                        default: if (--_need == 0) _c = C.S5Next; break;
                    }
                    break;
                case C.S5Request:
                    // VER CMD RSV ATYP (RFC 1928 4)
                    _cbuf[_clen++] = b;
                    if (_clen < 4) break;
                    if (_cbuf[1] != 1) { Fail($"SOCKS 5 command {_cbuf[1].ToString(CultureInfo.InvariantCulture)} (not CONNECT)"); break; }
                    _need = AddressLength(_cbuf[3]);
                    if (_need < 0) { Fail("SOCKS 5 address type"); break; }
                    _c = C.S5Addr;
                    break;
                case C.S5Addr:
                    _cbuf[_clen++] = b;
                    if (_cbuf[3] == 3 && _clen == 5) { _need = b + 2; break; } // the domain name's length byte
                    if (--_need > 0) break;
                    Proxy.Target = Socks5Address(_cbuf.AsSpan(3, _clen - 3));
                    _c = C.Done;
                    break;
            }
        }
        // The PROXY protocol has no answer: the tunnel is up once the header is read.
        if (Proxy.Kind is SmtpProxyKind.ProxyV1 or SmtpProxyKind.ProxyV2 && _c == C.Done && Proxy.State == SmtpProxyState.Negotiating)
            Establish(time);
        return i;
    }

    /// <summary>Consumes server bytes of the preamble; returns how many (the rest is SMTP).</summary>
    public int Server(ReadOnlySpan<byte> data, Timestamp time)
    {
        int i = 0;
        while (i < data.Length && !ServerDone)
        {
            byte b = data[i++];
            switch (_s)
            {
                case S.HttpStatusLine:
                {
                    if (!AddLine(_sbuf, ref _slen, b, out bool end)) { Fail("HTTP status line too long"); break; }
                    if (!end) break;
                    // "HTTP/1.1 200 Connection established"
                    var line = Trim(_sbuf.AsSpan(0, _slen));
                    int sp = line.IndexOf((byte)' ');
                    if (!line.StartsWith("HTTP/"u8) || sp < 0 || line.Length < sp + 4 ||
                        !SmtpText.TryParseDecimal(line.Slice(sp + 1, 3), out long status))
                    {
                        Fail("malformed HTTP status line");
                        break;
                    }
                    Proxy.Status = (int)status;
                    _slen = 0;
                    _slineStart = true;
                    _s = S.HttpHeaders;
                    break;
                }
                case S.HttpHeaders:
                    if (++_sheaderBytes > MaxHeaderBytes) { Fail("HTTP response headers too long"); break; }
                    if (!HeadersEnd(ref _slineStart, b)) break;
                    // RFC 9110 9.3.6: any 2xx means the tunnel is up; a 1xx interim response precedes the final one.
                    if (Proxy.Status is >= 100 and < 200) { _s = S.HttpStatusLine; break; }
                    if (Proxy.Status is >= 200 and < 300) Establish(time);
                    else Fail("HTTP " + Proxy.Status.ToString(CultureInfo.InvariantCulture));
                    _s = S.Done;
                    break;
                case S.S4Reply:
                    // VN=0, CD=90 granted (91-93 refused), DSTPORT, DSTIP.
                    _sbuf[_slen++] = b;
                    if (--_sneed > 0) break;
                    Proxy.Status = _sbuf[1];
                    if (_sbuf[0] == 0 && _sbuf[1] == 90) Establish(time);
                    else Fail("SOCKS 4 reply " + _sbuf[1].ToString(CultureInfo.InvariantCulture));
                    _s = S.Done;
                    break;
                case S.S5Method:
                    // VER METHOD; 0xFF: no acceptable method.
                    _sbuf[_slen++] = b;
                    if (--_sneed > 0) break;
                    if (_sbuf[0] != 5 || _sbuf[1] == 0xFF) { Fail("SOCKS 5: no acceptable authentication method"); break; }
                    _slen = 0;
                    _sneed = 2;
                    _s = _sbuf[1] == 2 ? S.S5AuthReply : S.S5Reply;
                    break;
                case S.S5AuthReply:
                    // VER STATUS (RFC 1929 2): 0 success.
                    _sbuf[_slen++] = b;
                    if (--_sneed > 0) break;
                    if (_sbuf[1] != 0) { Fail("SOCKS 5 authentication failed"); break; }
                    _slen = 0;
                    _s = S.S5Reply;
                    break;
                case S.S5Reply:
                    // VER REP RSV ATYP BND.ADDR BND.PORT (RFC 1928 6): REP 0 succeeded.
                    _sbuf[_slen++] = b;
                    if (_slen < 4) break;
                    Proxy.Status = _sbuf[1];
                    if (_sbuf[0] != 5 || _sbuf[1] != 0) { Fail("SOCKS 5 reply " + _sbuf[1].ToString(CultureInfo.InvariantCulture)); break; }
                    _sneed = AddressLength(_sbuf[3]);
                    if (_sneed < 0) { Fail("SOCKS 5 address type in the reply"); break; }
                    _s = S.S5Addr;
                    break;
                case S.S5Addr:
                    _sbuf[_slen++] = b;
                    if (_sbuf[3] == 3 && _slen == 5) { _sneed = b + 2; break; }
                    if (--_sneed > 0) break;
                    Establish(time);
                    _s = S.Done;
                    break;
            }
        }
        return i;
    }

    /// <summary>SOCKS 5 address length by ATYP with the 2-byte port; for a domain name, 1 (its length byte, after which
    /// the parser learns the rest).</summary>
    private static int AddressLength(byte atyp) => atyp switch
    {
        1 => 4 + 2,
        4 => 16 + 2,
        3 => 1,
        _ => -1,
    };

    /// <summary>"host:port" from ATYP, the address and the port.</summary>
    private static string Socks5Address(ReadOnlySpan<byte> a)
    {
        int port = BinaryPrimitives.ReadUInt16BigEndian(a[^2..]);
        string host = a[0] switch
        {
            1 => new IPAddress(a.Slice(1, 4)).ToString(),
            4 => "[" + new IPAddress(a.Slice(1, 16)) + "]",
            _ => SmtpText.ToDisplay(a.Slice(2, a[1]), MaxField),
        };
        return host + ":" + port.ToString(CultureInfo.InvariantCulture);
    }

    private void ParseV1(ReadOnlySpan<byte> line)
    {
        // "PROXY TCP4 192.0.2.7 198.51.100.25 40512 25", "PROXY TCP6 ...", or "PROXY UNKNOWN[ ...]".
        var rest = line["PROXY "u8.Length..];
        var proto = SmtpText.Token(rest, out rest);
        if (proto.SequenceEqual("UNKNOWN"u8)) return;
        if (!proto.SequenceEqual("TCP4"u8) && !proto.SequenceEqual("TCP6"u8))
        {
            Fail("PROXY v1 header with an unknown protocol");
            return;
        }
        var src = SmtpText.Token(rest, out rest);
        var dst = SmtpText.Token(rest, out rest);
        var sport = SmtpText.Token(rest, out rest);
        var dport = SmtpText.Token(rest, out _);
        if (!IPAddress.TryParse(System.Text.Encoding.ASCII.GetString(src), out var s) ||
            !IPAddress.TryParse(System.Text.Encoding.ASCII.GetString(dst), out var d) ||
            !SmtpText.TryParseDecimal(sport, out long sp) || sp > 65535 || !SmtpText.TryParseDecimal(dport, out long dp) || dp > 65535)
        {
            Fail("malformed PROXY v1 header");
            return;
        }
        Proxy.Source = Endpoint(s, sp);
        Proxy.Destination = Endpoint(d, dp);
    }

    private void ParseV2()
    {
        // proxy-protocol.txt 2.2: family 0x1x is IPv4 (4+4+2+2 bytes), 0x2x IPv6 (16+16+2+2); LOCAL has none.
        int family = _v2Family >> 4;
        if (family == 1 && _v2Len >= 12)
        {
            var a = _cbuf.AsSpan(0, 12);
            Proxy.Source = Endpoint(new IPAddress(a[..4]), BinaryPrimitives.ReadUInt16BigEndian(a[8..]));
            Proxy.Destination = Endpoint(new IPAddress(a.Slice(4, 4)), BinaryPrimitives.ReadUInt16BigEndian(a[10..]));
        }
        else if (family == 2 && _v2Len >= 36)
        {
            var a = _cbuf.AsSpan(0, 36);
            Proxy.Source = Endpoint(new IPAddress(a[..16]), BinaryPrimitives.ReadUInt16BigEndian(a[32..]));
            Proxy.Destination = Endpoint(new IPAddress(a.Slice(16, 16)), BinaryPrimitives.ReadUInt16BigEndian(a[34..]));
        }
    }

    private static string Endpoint(IPAddress a, long port) =>
        (a.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? "[" + a + "]" : a.ToString()) + ":" +
        port.ToString(CultureInfo.InvariantCulture);

    /// <summary>Bytes of the preamble were lost (a capture gap): it cannot be followed further.</summary>
    public void Abandon(string why) => Fail(why);

    private void Establish(Timestamp time)
    {
        Proxy.State = SmtpProxyState.Established;
        Proxy.EstablishedTime = time;
    }

    private void Fail(string why)
    {
        if (Proxy.State == SmtpProxyState.Failed) return;
        Proxy.State = SmtpProxyState.Failed;
        Proxy.FailureReason = why;
    }

    /// <summary>Adds a byte to a line; false when the line is over the buffer. <paramref name="end"/> on LF.</summary>
    private static bool AddLine(byte[] buf, ref int len, byte b, out bool end)
    {
        end = b == (byte)'\n';
        if (end) return true;
        if (len >= buf.Length) return false;
        buf[len++] = b;
        return true;
    }

    /// <summary>Header lines after the first line: true at the empty line that ends them (CRLF CRLF, or LF LF).</summary>
    private static bool HeadersEnd(ref bool lineStart, byte b)
    {
        if (b == (byte)'\n')
        {
            bool empty = lineStart;
            lineStart = true;
            return empty;
        }
        if (b != (byte)'\r') lineStart = false;
        return false;
    }

    private static ReadOnlySpan<byte> Trim(ReadOnlySpan<byte> s) => s.Length > 0 && s[^1] == (byte)'\r' ? s[..^1] : s;
}
