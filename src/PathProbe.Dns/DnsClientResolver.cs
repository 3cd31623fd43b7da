using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;
using DnsClient;
using DnsClient.Protocol;
using PathProbe.Primitives;
using PathProbe.Protocols.Dns;
using DnsQuestion = DnsClient.DnsQuestion;
using DnsQueryOptions = DnsClient.DnsQueryOptions;

namespace PathProbe.Dns;

public sealed class ResolverOptions
{
    /// <summary>Servers asked in order; empty means those of /etc/resolv.conf.</summary>
    public IReadOnlyList<IPEndPoint> Servers { get; init; } = Array.Empty<IPEndPoint>();
    /// <summary>EDNS UDP payload size announced (RFC 6891); 1232 avoids fragmentation on almost every path (DNS flag
    /// day 2020), so larger answers come truncated and are asked again over TCP.</summary>
    public int UdpPayloadSize { get; init; } = 1232;
    /// <summary>How long to wait for each answer.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(2);
    /// <summary>Queries repeated per server after a timeout (DnsClient's Retries: 2 means three tries).</summary>
    public int Retries { get; init; } = 2;
    public bool RecursionDesired { get; init; } = true;
    /// <summary>CNAMEs followed at most (chains and loops).</summary>
    public int MaxCnameHops { get; init; } = 8;
}

/// <summary>
/// The resolver of every query PathProbe sends, on DnsClient's <see cref="LookupClient"/>: UDP with EDNS0, TCP when
/// the answer is truncated (RFC 7766), each server in turn until one gives a definite answer (NOERROR or NXDOMAIN);
/// a server that timed out is asked last from then on.
/// Every other outcome is a status with the reason in the resolver's words ("REFUSED by 127.0.0.1:5300", "timeout
/// after 2 s from 127.0.0.1:5300 (3 tries)", "answer truncated and TCP failed ...", "malformed answer from ..."), so a
/// failure is never mistaken for a missing record. Results are cached per name and type for the resolver's lifetime
/// (one run). Thread-safe.
/// </summary>
/// <remarks>
/// DnsClient 1.8.0 details this relies on: it retries a timeout on the same server <c>Retries</c> times; it
/// rejects an answer with another ID (<see cref="DnsXidMismatchException"/>) instead of waiting on for the right one;
/// it does not compare the answer's question with ours (done here, RFC 5452 §9.1); and it treats an unreadable UDP
/// answer of up to 512 bytes as truncated. Its own TCP fallback is off: we ask over TCP ourselves, so we know which
/// transport failed, and tell "TC=1" from "unreadable" by its audit trail.
/// </remarks>
public sealed class DnsClientResolver : IDnsResolver
{
    private readonly ResolverOptions _options;
    private readonly IReadOnlyList<IPEndPoint> _servers;
    private readonly LookupClient? _client;
    private readonly DnsQueryOptions _udp, _tcp;
    private readonly ConcurrentDictionary<(string, DnsType), Task<DnsResult>> _cache = new();
    private readonly ConcurrentDictionary<IPEndPoint, bool> _unreachable = new();

    /// <summary>DnsClient's audit-trail line for an answer that really had TC=1 (LookupClientAudit.AuditTruncatedRetryTcp).</summary>
    private const string TruncatedAuditLine = ";; Truncated, retrying in TCP mode.";

    public DnsClientResolver(ResolverOptions? options = null)
    {
        _options = options ?? new ResolverOptions();
        _servers = _options.Servers.Count > 0 ? _options.Servers : DnsServerAddress.ReadResolvConf();
        _udp = Settings(tcpOnly: false);
        _tcp = Settings(tcpOnly: true);
        if (_servers.Count > 0)
            _client = new LookupClient(new LookupClientOptions(_servers.ToArray())
            {
                AutoResolveNameServers = false, UseCache = false, Retries = _options.Retries, Timeout = _options.Timeout, UseTcpFallback = false,
                ThrowDnsErrors = false, ContinueOnDnsError = false, ContinueOnEmptyResponse = false, UseRandomNameServer = false,
                Recursion = _options.RecursionDesired, ExtendedDnsBufferSize = _options.UdpPayloadSize, EnableAuditTrail = true,
            });
    }

    private DnsQueryOptions Settings(bool tcpOnly) => new()
    {
        UseCache = false, Retries = _options.Retries, Timeout = _options.Timeout, UseTcpFallback = false, UseTcpOnly = tcpOnly,
        ThrowDnsErrors = false, ContinueOnDnsError = false, ContinueOnEmptyResponse = false,
        Recursion = _options.RecursionDesired, ExtendedDnsBufferSize = _options.UdpPayloadSize, EnableAuditTrail = true,
    };

    public IReadOnlyList<IPEndPoint> Servers => _servers;
    public ResolverOptions Options => _options;
    public int CachedLookups => _cache.Count;

    public Task<DnsResult> QueryAsync(string name, DnsType type, CancellationToken cancel = default) =>
        _cache.GetOrAdd((DnsName.Normalize(name), type), _ => ResolveAsync(name, type, cancel));

    private async Task<DnsResult> ResolveAsync(string name, DnsType type, CancellationToken cancel)
    {
        var chain = new List<string>();
        var seen = new HashSet<string>(DnsName.Comparer) { name };
        string current = name;
        for (int hop = 0; ; hop++)
        {
            var (r, answers) = await QueryOnceAsync(current, type, cancel).ConfigureAwait(false);
            if (r.Status != DnsResultStatus.NoError) return With(r, name, chain);
            // Follow the CNAME chain inside the answer (RFC 1034 §3.6.2), then ask again for a target left unresolved
            // (an authoritative server answers only from its own zones).
            while (type != DnsType.CNAME)
            {
                var cname = answers.FirstOrDefault(a => a.Type == DnsType.CNAME && DnsName.Equal(a.Name, current));
                if (cname is null) break;
                current = ((NameRdata)cname.Data).Name;
                chain.Add(current);
                if (!seen.Add(current) || chain.Count > _options.MaxCnameHops)
                    return DnsResult.Failure(name, type, DnsResultStatus.Malformed,
                        $"CNAME loop or chain longer than {_options.MaxCnameHops} at {SafeText.Clean(current)} (from {r.Server})", r.Server);
            }
            var records = answers.Where(a => a.Type == type && DnsName.Equal(a.Name, current)).ToList();
            if (records.Count > 0 || chain.Count == 0 || answers.Any(a => DnsName.Equal(a.Name, current)))
                return With(r, name, chain, records);
            if (hop >= _options.MaxCnameHops)
                return DnsResult.Failure(name, type, DnsResultStatus.Malformed, $"CNAME chain longer than {_options.MaxCnameHops} (from {r.Server})", r.Server);
        }
    }

    private static DnsResult With(DnsResult r, string name, List<string> chain, List<DnsRecord>? records = null) => new()
    {
        Name = name, Type = r.Type, Status = r.Status, Records = records ?? (IReadOnlyList<DnsRecord>)r.Records, CnameChain = chain.ToArray(),
        Rcode = r.Rcode, RetriedOverTcp = r.RetriedOverTcp, MessageSize = r.MessageSize, Server = r.Server, Error = r.Error,
    };

    /// <summary>One question to the servers in turn, without CNAME following or cache: the result and every answer
    /// record of the message (for the CNAME walk).</summary>
    private async Task<(DnsResult, List<DnsRecord>)> QueryOnceAsync(string name, DnsType type, CancellationToken cancel)
    {
        var none = new List<DnsRecord>();
        if (!HostNames.IsQueryable(name))
            return (DnsResult.Failure(name, type, DnsResultStatus.BadName, $"'{SafeText.Clean(name)}' cannot be asked about: not a DNS name in ASCII"), none);
        if (_client is null)
            return (DnsResult.Failure(name, type, DnsResultStatus.NetworkError, "no DNS server: /etc/resolv.conf has no nameserver line; use --server IP"), none);
        DnsQuestion question;
        try { question = new DnsQuestion(name, (QueryType)(ushort)type); }
        catch (ArgumentException e)
        {
            return (DnsResult.Failure(name, type, DnsResultStatus.BadName, $"'{SafeText.Clean(name)}' cannot be asked about: {e.Message}"), none);
        }

        var failures = new List<DnsResult>();
        // A server that timed out or could not be reached is asked after the others from then on, so one dead
        // server in the list does not cost every later question its timeout.
        foreach (var server in _servers.OrderBy(s => _unreachable.ContainsKey(s)))
        {
            cancel.ThrowIfCancellationRequested();
            var (r, answers) = await AskAsync(server, question, name, type, cancel).ConfigureAwait(false);
            if (r.Status is DnsResultStatus.Timeout or DnsResultStatus.NetworkError) _unreachable[server] = true;
            else _unreachable.TryRemove(server, out _);
            if (r.IsDefinite) return (r, answers);
            failures.Add(r);
        }
        if (failures.Count == 1) return (failures[0], none);
        // Every server failed: the reasons of all, the status of the first.
        return (new DnsResult
        {
            Name = name, Type = type, Status = failures[0].Status, Rcode = failures[0].Rcode, Server = failures[0].Server,
            Error = string.Join("; ", failures.Select(f => f.Error)),
        }, none);
    }

    private async Task<(DnsResult, List<DnsRecord>)> AskAsync(IPEndPoint server, DnsQuestion question, string name, DnsType type, CancellationToken cancel)
    {
        string srv = DnsServerAddress.Format(server);
        var none = new List<DnsRecord>();
        var servers = new[] { new NameServer(server) };
        var (response, failure, truncated) = await TryQueryAsync(servers, question, _udp, srv, name, type, "", cancel).ConfigureAwait(false);
        bool retriedOverTcp = false;
        if (truncated is not null)
        {
            // TC=1 (or an unreadable UDP answer, which DnsClient treats the same): ask again over TCP.
            bool reallyTruncated = truncated.Contains(TruncatedAuditLine, StringComparison.Ordinal);
            retriedOverTcp = true;
            (response, failure, var tcpTruncated) = await TryQueryAsync(servers, question, _tcp, srv, name, type, " over TCP", cancel).ConfigureAwait(false);
            if (tcpTruncated is not null)
                failure = DnsResult.Failure(name, type, DnsResultStatus.Malformed, $"malformed answer from {srv}: truncated over TCP too", srv);
            if (failure is not null && failure.Status != DnsResultStatus.Malformed)
            {
                string why = failure.Error ?? failure.Status.ToString();
                failure = reallyTruncated
                    ? DnsResult.Failure(name, type, DnsResultStatus.TruncatedTcpFailed, $"answer truncated and TCP failed ({why})", srv)
                    : DnsResult.Failure(name, type, DnsResultStatus.Malformed, $"malformed answer from {srv} over UDP, and TCP failed ({why})", srv);
            }
        }
        if (failure is not null) return (failure, none);
        return Interpret(response!, srv, name, type, retriedOverTcp);
    }

    /// <summary>One query through DnsClient: the response, or a failure with its reason, or (third) the audit trail
    /// when DnsClient says the answer was truncated.</summary>
    private async Task<(IDnsQueryResponse?, DnsResult?, string?)> TryQueryAsync(NameServer[] servers, DnsQuestion question, DnsQueryOptions options,
        string srv, string name, DnsType type, string via, CancellationToken cancel)
    {
        try
        {
            var response = await _client!.QueryServerAsync(servers, question, options, cancel).ConfigureAwait(false);
            return (response, null, null);
        }
        catch (DnsResponseException e) when (e.Code == DnsResponseCode.Unassigned && e.InnerException is null
                                              && e.Message.StartsWith("Response was truncated", StringComparison.Ordinal))
        {
            return (null, null, e.AuditTrail ?? "");
        }
        catch (DnsResponseException e) when (e.Code == DnsResponseCode.ConnectionTimeout && !cancel.IsCancellationRequested)
        {
            if (FindSocketError(e) is { } se)
                return (null, DnsResult.Failure(name, type, DnsResultStatus.NetworkError, $"cannot reach {srv}{via}: {SocketText(se)}", srv), null);
            int tries = _options.Retries + 1;
            return (null, DnsResult.Failure(name, type, DnsResultStatus.Timeout,
                $"timeout after {_options.Timeout.TotalSeconds:0.###} s from {srv}{via} ({tries} {(tries == 1 ? "try" : "tries")})", srv), null);
        }
        catch (DnsResponseException e) when (!cancel.IsCancellationRequested)
        {
            if (FindSocketError(e) is { } se)
                return (null, DnsResult.Failure(name, type, DnsResultStatus.NetworkError, $"cannot reach {srv}{via}: {SocketText(se)}", srv), null);
            if (e.InnerException is DnsResponseParseException or ArgumentException or IndexOutOfRangeException or FormatException)
                return (null, Malformed(name, type, srv, via, e.InnerException.Message), null);
            return (null, DnsResult.Failure(name, type, DnsResultStatus.NetworkError, $"{srv}{via}: {SafeText.Clean(e.InnerException?.Message ?? e.Message)}", srv), null);
        }
        catch (DnsResponseException) when (cancel.IsCancellationRequested)
        {
            cancel.ThrowIfCancellationRequested();
            throw;
        }
        catch (DnsResponseParseException e)
        {
            return (null, Malformed(name, type, srv, via, e.Message), null);
        }
        catch (DnsXidMismatchException e)
        {
            return (null, Malformed(name, type, srv, via, $"its ID {e.ResponseXid} is not the query's {e.RequestXid}"), null);
        }
        catch (Exception e) when (e is ArgumentException or IndexOutOfRangeException or FormatException or OverflowException)
        {
            // DnsClient's record parsers throw these on RDATA that does not fit its type.
            return (null, Malformed(name, type, srv, via, e.Message), null);
        }
        catch (Exception e) when (e is SocketException or IOException && !cancel.IsCancellationRequested)
        {
            return (null, DnsResult.Failure(name, type, DnsResultStatus.NetworkError, $"cannot reach {srv}{via}: {SafeText.Clean(e.Message)}", srv), null);
        }
    }

    /// <summary>DnsClient's parser messages run over several lines and end with the message in base64: the first line.</summary>
    private static DnsResult Malformed(string name, DnsType type, string srv, string via, string detail) =>
        DnsResult.Failure(name, type, DnsResultStatus.Malformed,
            $"malformed answer from {srv}{via} ({SafeText.Clean(detail.Split('\n', 2)[0].TrimEnd('\r', '.'), 200)})", srv);

    private static SocketException? FindSocketError(Exception? e)
    {
        for (; e is not null; e = e.InnerException)
            if (e is SocketException se) return se;
        return null;
    }

    private static string SocketText(SocketException e) => e.SocketErrorCode switch
    {
        SocketError.ConnectionRefused => "connection refused",
        SocketError.ConnectionReset => "connection reset",
        SocketError.HostUnreachable => "host unreachable",
        SocketError.NetworkUnreachable => "network unreachable",
        _ => SafeText.Clean(e.Message),
    };

    private static (DnsResult, List<DnsRecord>) Interpret(IDnsQueryResponse response, string srv, string name, DnsType type, bool tcp)
    {
        var none = new List<DnsRecord>();
        var h = response.Header;
        var rcode = (DnsRcode)(ushort)h.ResponseCode;
        if (!h.HasQuery)
            return (DnsResult.Failure(name, type, DnsResultStatus.Malformed, $"malformed answer from {srv}: QR=0, not a response", srv), none);
        // Is it the answer to our question? (RFC 5452 §9.1; names compare case-insensitively, RFC 4343.) Some servers
        // drop the question in an error answer.
        if (response.Questions.Count > 0 || rcode == DnsRcode.NoError)
        {
            if (response.Questions.Count != 1)
                return (DnsResult.Failure(name, type, DnsResultStatus.Malformed, $"malformed answer from {srv}: {response.Questions.Count} questions", srv), none);
            var q = response.Questions[0];
            if ((ushort)q.QuestionType != (ushort)type || !DnsName.Equal(q.QueryName.Original, name))
                return (DnsResult.Failure(name, type, DnsResultStatus.Malformed,
                    $"malformed answer from {srv}: it answers another question ({SafeText.Clean(q.QueryName.Original, 100)} {q.QuestionType})", srv), none);
        }
        var answers = new List<DnsRecord>(response.Answers.Count);
        foreach (var rr in response.Answers)
            if (Convert(rr) is { } rec) answers.Add(rec);
        var status = rcode switch
        {
            DnsRcode.NoError => DnsResultStatus.NoError,
            DnsRcode.NxDomain => DnsResultStatus.NxDomain,
            DnsRcode.ServFail => DnsResultStatus.ServFail,
            DnsRcode.Refused => DnsResultStatus.Refused,
            _ => DnsResultStatus.OtherRcode,
        };
        string? error = status switch
        {
            DnsResultStatus.NoError or DnsResultStatus.NxDomain => null,
            DnsResultStatus.Refused => $"REFUSED by {srv}",
            DnsResultStatus.ServFail => $"SERVFAIL from {srv}",
            _ => $"{RcodeName(rcode)} from {srv}",
        };
        var result = new DnsResult
        {
            Name = name, Type = type, Status = status, Rcode = rcode, Server = srv, MessageSize = response.MessageSize,
            RetriedOverTcp = tcp, Error = error,
            Records = answers.Where(a => a.Type == type && DnsName.Equal(a.Name, name)).ToList(),
        };
        return (result, answers);
    }

    private static string RcodeName(DnsRcode r) => r switch
    {
        DnsRcode.FormErr => "FORMERR", DnsRcode.NotImp => "NOTIMP", DnsRcode.NotAuth => "NOTAUTH", DnsRcode.NotZone => "NOTZONE",
        _ => $"rcode {(int)r}",
    };

    /// <summary>A DnsClient record as the codec's record type (names in presentation form, no final dot; the root is ".").</summary>
    private static DnsRecord? Convert(DnsResourceRecord rr)
    {
        DnsRdata? data = rr switch
        {
            ARecord a => new AddressRdata(IpAddress.FromIPAddress(a.Address)),
            AaaaRecord a => new AddressRdata(IpAddress.FromIPAddress(a.Address)),
            CNameRecord c => new NameRdata(Name(c.CanonicalName)),
            PtrRecord p => new NameRdata(Name(p.PtrDomainName)),
            NsRecord n => new NameRdata(Name(n.NSDName)),
            MxRecord m => new MxRdata(m.Preference, Name(m.Exchange)),
            // Text is the strings decoded as UTF-8; SPF and DMARC records are ASCII, so these are their bytes.
            TxtRecord t => new TxtRdata(t.Text.Select(s => Encoding.UTF8.GetBytes(s)).ToList()),
            _ => null,
        };
        if (data is null) return null;
        return new DnsRecord(DnsSection.Answer, Owner(rr.DomainName), (DnsType)(ushort)rr.RecordType, (ushort)rr.RecordClass,
            (uint)Math.Max(0, rr.InitialTimeToLive), rr.RawDataLength, data);
    }

    /// <summary>An owner name (DnsClient reads owners like questions: Value has A-labels decoded to Unicode, Original
    /// is the wire text), as sent, without the final dot: only compared with the names we asked about.</summary>
    private static string Owner(DnsString s)
    {
        string v = s.Original;
        return v.Length > 1 && v[^1] == '.' ? v[..^1] : v;
    }

    /// <summary>A name in RDATA (MX, PTR, NS, CNAME targets): DnsClient's escaped presentation form (bytes outside
    /// printable ASCII as \DDD, A-labels kept) without the final dot.</summary>
    private static string Name(DnsString s)
    {
        string v = s.Value;
        return v.Length > 1 && v[^1] == '.' ? v[..^1] : v;
    }
}
