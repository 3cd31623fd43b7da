using System.Net;
using PathProbe.Primitives;
using PathProbe.Protocols.Dns;

namespace PathProbe.Dns;

public enum DnsResultStatus : byte
{
    NoError,
    NxDomain,
    ServFail,
    Refused,
    /// <summary>Another response code (FORMERR, NOTIMP, ...); see <see cref="DnsResult.Rcode"/>.</summary>
    OtherRcode,
    /// <summary>No answer from any server within the timeout, after the retries.</summary>
    Timeout,
    /// <summary>An answer came but could not be used: unreadable, another ID, another question (see <see cref="DnsResult.Error"/>).</summary>
    Malformed,
    /// <summary>The UDP answer was truncated (TC=1) and the query over TCP failed.</summary>
    TruncatedTcpFailed,
    /// <summary>Sending failed, or the connection was refused or reset.</summary>
    NetworkError,
    /// <summary>The name cannot be asked about (spaces, escapes, empty label, label over 63 bytes, ...).</summary>
    BadName,
}

/// <summary>One lookup's outcome. Records are the answers of the asked type, owned by the name at the end of any CNAME chain.</summary>
public sealed class DnsResult
{
    public required string Name { get; init; }
    public required DnsType Type { get; init; }
    public required DnsResultStatus Status { get; init; }
    public IReadOnlyList<DnsRecord> Records { get; init; } = Array.Empty<DnsRecord>();
    /// <summary>CNAMEs followed from <see cref="Name"/>, in order (empty when the name is not an alias).</summary>
    public IReadOnlyList<string> CnameChain { get; init; } = Array.Empty<string>();
    public DnsRcode Rcode { get; init; }
    /// <summary>The UDP answer had TC=1 and the query was repeated over TCP (RFC 7766).</summary>
    public bool RetriedOverTcp { get; init; }
    /// <summary>Size of the DNS message that gave the result (over TCP after a truncation), bytes; 0 when none.</summary>
    public int MessageSize { get; init; }
    /// <summary>The server that answered, or the one that failed last ("127.0.0.1:5300").</summary>
    public string? Server { get; init; }
    /// <summary>Why there is no definite answer, in the resolver's words ("REFUSED by 127.0.0.1:5300", "timeout after
    /// 2 s from 127.0.0.1:5300 (3 tries)"); null for NOERROR and NXDOMAIN.</summary>
    public string? Error { get; init; }

    /// <summary>The name exists but has no record of the type ("NODATA").</summary>
    public bool IsNoData => Status == DnsResultStatus.NoError && Records.Count == 0;
    /// <summary>The lookup gave a definite answer (records, NODATA or NXDOMAIN). Anything else means "could not
    /// find out", never "there is no such record".</summary>
    public bool IsDefinite => Status is DnsResultStatus.NoError or DnsResultStatus.NxDomain;
    public string CanonicalName => CnameChain.Count > 0 ? CnameChain[^1] : Name;

    public IEnumerable<IpAddress> Addresses => Records.Select(r => r.Data).OfType<AddressRdata>().Select(a => a.Address);
    public IEnumerable<string> Names => Records.Select(r => r.Data).OfType<NameRdata>().Select(n => n.Name);
    public IEnumerable<MxRdata> Mx => Records.Select(r => r.Data).OfType<MxRdata>();
    public IEnumerable<TxtRdata> Txt => Records.Select(r => r.Data).OfType<TxtRdata>();

    /// <summary>A short description for reports: "NXDOMAIN", "no records (NODATA)", or the failure's reason.</summary>
    public string Describe() => Status switch
    {
        DnsResultStatus.NoError => Records.Count == 0 ? "no records (NODATA)" : $"{Records.Count} record(s)",
        DnsResultStatus.NxDomain => "NXDOMAIN (the name does not exist)",
        _ => Error ?? Status.ToString(),
    };

    public static DnsResult Failure(string name, DnsType type, DnsResultStatus status, string error, string? server = null) =>
        new() { Name = name, Type = type, Status = status, Error = error, Server = server };
}

/// <summary>Resolves names. Implementations never throw for DNS trouble: every failure is a <see cref="DnsResult"/>
/// status with a reason. Names are ASCII (see <see cref="HostNames"/>).</summary>
public interface IDnsResolver
{
    Task<DnsResult> QueryAsync(string name, DnsType type, CancellationToken cancel = default);
}

/// <summary>A server to ask: <c>IP</c>, <c>IP:port</c>, <c>[IPv6]:port</c> or a bare IPv6 address.</summary>
public static class DnsServerAddress
{
    public static bool TryParse(string text, out IPEndPoint endpoint, out string? error)
    {
        endpoint = null!;
        error = null;
        text = text.Trim();
        string host = text; int port = 53;
        if (text.StartsWith('['))
        {
            int close = text.IndexOf(']');
            if (close < 0) { error = $"'{SafeText.Clean(text)}': missing ']'"; return false; }
            host = text[1..close];
            string rest = text[(close + 1)..];
            if (rest.Length > 0 && (!rest.StartsWith(':') || !int.TryParse(rest[1..], out port))) { error = $"'{SafeText.Clean(text)}': expected [IPv6]:port"; return false; }
        }
        else if (text.Count(c => c == ':') == 1)
        {
            int colon = text.IndexOf(':');
            host = text[..colon];
            if (!int.TryParse(text[(colon + 1)..], out port)) { error = $"'{SafeText.Clean(text)}': the port is not a number"; return false; }
        }
        if (port is < 1 or > 65535) { error = $"'{SafeText.Clean(text)}': port {port} is out of range"; return false; }
        if (!IPAddress.TryParse(host, out var ip)) { error = $"'{SafeText.Clean(text)}' is not an IP address (write IP, IP:port or [IPv6]:port)"; return false; }
        endpoint = new IPEndPoint(ip, port);
        return true;
    }

    public static string Format(IPEndPoint ep) => ep.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{ep.Address}]:{ep.Port}" : $"{ep.Address}:{ep.Port}";

    /// <summary>The <c>nameserver</c> lines of a resolv.conf (IPv4 and IPv6; a zone index like <c>fe80::1%eth0</c> is kept).</summary>
    public static List<IPEndPoint> ReadResolvConf(string path = "/etc/resolv.conf")
    {
        var list = new List<IPEndPoint>();
        string[] lines;
        try { lines = File.ReadAllLines(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return list; }
        foreach (var raw in lines)
        {
            var line = raw.Split('#', ';')[0].Trim();
            var parts = line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length >= 2 && parts[0] == "nameserver" && IPAddress.TryParse(parts[1], out var ip)) list.Add(new IPEndPoint(ip, 53));
        }
        return list;
    }
}
