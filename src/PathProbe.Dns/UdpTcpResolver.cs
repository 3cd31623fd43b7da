using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using PathProbe.Primitives;
using PathProbe.Protocols.Dns;

namespace PathProbe.Dns;

public sealed class ResolverOptions
{
    /// <summary>Servers asked in order; empty means those of /etc/resolv.conf.</summary>
    public IReadOnlyList<IPEndPoint> Servers { get; init; } = Array.Empty<IPEndPoint>();
    /// <summary>EDNS UDP payload size announced (RFC 6891); 1232 avoids fragmentation on almost every path (DNS flag day 2020).</summary>
    public int UdpPayloadSize { get; init; } = 1232;
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(2);
    /// <summary>Rounds over the server list.</summary>
    public int Attempts { get; init; } = 2;
    public bool RecursionDesired { get; init; } = true;
    /// <summary>CNAMEs followed at most (chains and loops).</summary>
    public int MaxCnameHops { get; init; } = 8;
}

/// <summary>
/// A stub resolver: UDP with EDNS0, TCP (RFC 1035 §4.2.2 length prefix, RFC 7766) when the answer has TC=1. A UDP answer
/// is taken only from the server's address and port, with our random ID and our question (RFC 5452 §9.1);
/// anything else is ignored and the wait goes on until the timeout. Results are cached per name and type for the
/// resolver's lifetime (one run). Thread-safe.
/// </summary>
public sealed class UdpTcpResolver : IDnsResolver
{
    private readonly ResolverOptions _options;
    private readonly IReadOnlyList<IPEndPoint> _servers;
    private readonly ConcurrentDictionary<(string, DnsType), Task<DnsResult>> _cache = new();

    public UdpTcpResolver(ResolverOptions? options = null)
    {
        _options = options ?? new ResolverOptions();
        _servers = _options.Servers.Count > 0 ? _options.Servers : DnsServerAddress.ReadResolvConf();
    }

    public IReadOnlyList<IPEndPoint> Servers => _servers;
    public int CachedLookups => _cache.Count;

    public Task<DnsResult> QueryAsync(string name, DnsType type, CancellationToken cancel = default) =>
        _cache.GetOrAdd((DnsName.Normalize(name), type), _ => ResolveAsync(name, type, cancel));

    private async Task<DnsResult> ResolveAsync(string name, DnsType type, CancellationToken cancel)
    {
        var chain = new List<string>();
        string current = name;
        for (int hop = 0; ; hop++)
        {
            var r = await QueryOnceAsync(current, type, cancel).ConfigureAwait(false);
            if (r.Status != DnsResultStatus.NoError || r.Message is null) return With(r, name, chain);
            // Follow the CNAME chain inside the answer (RFC 1034 §3.6.2), then ask again for a target left unresolved.
            var answers = r.Message.Answers;
            var seen = new HashSet<string>(DnsName.Comparer) { current };
            while (true)
            {
                var cname = answers.FirstOrDefault(a => a.Type == DnsType.CNAME && DnsName.Equal(a.Name, current));
                if (cname is null || type == DnsType.CNAME) break;
                current = ((NameRdata)cname.Data).Name;
                chain.Add(current);
                if (!seen.Add(current) || chain.Count > _options.MaxCnameHops)
                    return Fail(name, type, DnsResultStatus.ServFail, $"CNAME loop or chain longer than {_options.MaxCnameHops} at {SafeText.Clean(current)}", r.Server);
            }
            var records = answers.Where(a => a.Type == type && DnsName.Equal(a.Name, current)).ToList();
            if (records.Count > 0 || chain.Count == 0 || hop >= _options.MaxCnameHops || answers.Any(a => DnsName.Equal(a.Name, current)))
                return With(r, name, chain, records);
            if (hop >= _options.MaxCnameHops) return Fail(name, type, DnsResultStatus.ServFail, "CNAME chain too long", r.Server);
        }
    }

    private static DnsResult Fail(string name, DnsType type, DnsResultStatus s, string error, string? server) => DnsResult.Failure(name, type, s, error, server);

    private static DnsResult With(DnsResult r, string name, List<string> chain, List<DnsRecord>? records = null) => new()
    {
        Name = name, Type = r.Type, Status = r.Status, Records = records ?? (IReadOnlyList<DnsRecord>)r.Records, CnameChain = chain.ToArray(),
        Rcode = r.Rcode, RetriedOverTcp = r.RetriedOverTcp, MessageSize = r.MessageSize, TruncatedUdpSize = r.TruncatedUdpSize,
        Server = r.Server, Error = r.Error, Message = r.Message,
    };

    /// <summary>One question to the servers in turn, without CNAME following or cache.</summary>
    public async Task<DnsResult> QueryOnceAsync(string name, DnsType type, CancellationToken cancel = default)
    {
        var query = new byte[DnsWriter.MaxQueryLength];
        ushort id = (ushort)RandomNumberGenerator.GetInt32(0, 65536);
        var st = DnsWriter.WriteQuery(query, id, name, type,
            new DnsQueryOptions(_options.RecursionDesired, _options.UdpPayloadSize), out int qlen);
        if (st != DnsStatus.Ok) return Fail(name, type, DnsResultStatus.BadName, $"'{SafeText.Clean(name)}' is not a valid DNS name ({st})", null);
        if (_servers.Count == 0) return Fail(name, type, DnsResultStatus.NetworkError, "no DNS server: /etc/resolv.conf has no nameserver line; use --server IP", null);

        DnsResult? last = null;
        for (int attempt = 0; attempt < Math.Max(1, _options.Attempts); attempt++)
            foreach (var server in _servers)
            {
                cancel.ThrowIfCancellationRequested();
                last = await AskAsync(server, query.AsMemory(0, qlen), id, name, type, cancel).ConfigureAwait(false);
                // A definite answer ends the search; a malformed or failing server lets the next one try.
                if (last.IsDefinite || last.Status is DnsResultStatus.OtherRcode or DnsResultStatus.BadName) return last;
            }
        return last!;
    }

    private async Task<DnsResult> AskAsync(IPEndPoint server, ReadOnlyMemory<byte> query, ushort id, string name, DnsType type, CancellationToken cancel)
    {
        string srv = DnsServerAddress.Format(server);
        using var socket = new Socket(server.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        var buffer = new byte[65535];
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        timeout.CancelAfter(_options.Timeout);
        try
        {
            await socket.SendToAsync(query, SocketFlags.None, server, timeout.Token).ConfigureAwait(false);
            while (true)
            {
                EndPoint any = new IPEndPoint(server.AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any, 0);
                var rcv = await socket.ReceiveFromAsync(buffer, SocketFlags.None, any, timeout.Token).ConfigureAwait(false);
                // Only the server's own address and port (RFC 5452 §9.1); anything else may be spoofed.
                if (rcv.RemoteEndPoint is not IPEndPoint from || !from.Address.Equals(server.Address) || from.Port != server.Port) continue;
                var msg = buffer.AsSpan(0, rcv.ReceivedBytes);
                var check = Match(msg, id, name, type);
                if (check == Verdict.Ignore) continue;
                var result = Interpret(msg, name, type, srv, tcp: false, check);
                if (result.Status == DnsResultStatus.NoError && result.Message!.Header.Truncated)
                {
                    var viaTcp = await AskTcpAsync(server, query, id, name, type, cancel).ConfigureAwait(false);
                    return new DnsResult
                    {
                        Name = viaTcp.Name, Type = type, Status = viaTcp.Status, Records = viaTcp.Records, Rcode = viaTcp.Rcode,
                        RetriedOverTcp = true, MessageSize = viaTcp.MessageSize, TruncatedUdpSize = rcv.ReceivedBytes,
                        Server = srv, Error = viaTcp.Error, Message = viaTcp.Message,
                    };
                }
                return result;
            }
        }
        catch (OperationCanceledException) when (!cancel.IsCancellationRequested)
        {
            return Fail(name, type, DnsResultStatus.Timeout, $"no answer from {srv} within {_options.Timeout.TotalSeconds:0.#} s", srv);
        }
        catch (SocketException e)
        {
            return Fail(name, type, DnsResultStatus.NetworkError, $"cannot ask {srv}: {e.Message}", srv);
        }
    }

    private async Task<DnsResult> AskTcpAsync(IPEndPoint server, ReadOnlyMemory<byte> query, ushort id, string name, DnsType type, CancellationToken cancel)
    {
        string srv = DnsServerAddress.Format(server);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        timeout.CancelAfter(_options.Timeout);
        try
        {
            using var socket = new Socket(server.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            await socket.ConnectAsync(server, timeout.Token).ConfigureAwait(false);
            var framed = new byte[query.Length + 2];
            BinaryPrimitives.WriteUInt16BigEndian(framed, (ushort)query.Length);
            query.CopyTo(framed.AsMemory(2));
            await socket.SendAsync(framed, SocketFlags.None, timeout.Token).ConfigureAwait(false);
            var len = new byte[2];
            if (!await ReadExactlyAsync(socket, len, timeout.Token).ConfigureAwait(false))
                return Fail(name, type, DnsResultStatus.NetworkError, $"{srv} closed the TCP connection without an answer", srv);
            var msg = new byte[BinaryPrimitives.ReadUInt16BigEndian(len)];
            if (!await ReadExactlyAsync(socket, msg, timeout.Token).ConfigureAwait(false))
                return Fail(name, type, DnsResultStatus.Malformed, $"{srv} closed the TCP connection in the middle of a {msg.Length}-byte answer", srv);
            var check = Match(msg, id, name, type);
            if (check == Verdict.Ignore) return Fail(name, type, DnsResultStatus.Malformed, $"{srv} answered over TCP with another ID or question", srv);
            return Interpret(msg, name, type, srv, tcp: true, check);
        }
        catch (OperationCanceledException) when (!cancel.IsCancellationRequested)
        {
            return Fail(name, type, DnsResultStatus.Timeout, $"no TCP answer from {srv} within {_options.Timeout.TotalSeconds:0.#} s", srv);
        }
        catch (SocketException e)
        {
            return Fail(name, type, DnsResultStatus.NetworkError, $"TCP to {srv} failed after a truncated UDP answer: {e.Message}", srv);
        }
    }

    private static async Task<bool> ReadExactlyAsync(Socket s, Memory<byte> dest, CancellationToken cancel)
    {
        int got = 0;
        while (got < dest.Length)
        {
            int n = await s.ReceiveAsync(dest[got..], SocketFlags.None, cancel).ConfigureAwait(false);
            if (n == 0) return false;
            got += n;
        }
        return true;
    }

    private enum Verdict { Ignore, Ours, OursMalformed }

    /// <summary>Is this the answer to our question? A message that is not ours is ignored; one with our ID whose
    /// question cannot even be read is ours but malformed.</summary>
    private static Verdict Match(ReadOnlySpan<byte> msg, ushort id, string name, DnsType type)
    {
        var r = new DnsReader(msg);
        if (r.ReadHeader(out var h) != DnsStatus.Ok || h.Id != id || !h.IsResponse) return Verdict.Ignore;
        if (h.QuestionCount == 0) return h.Rcode != 0 ? Verdict.Ours : Verdict.Ignore; // some servers drop the question with FORMERR
        if (h.QuestionCount != 1) return Verdict.Ignore;
        if (r.ReadQuestion(out var q) != DnsStatus.Ok) return Verdict.OursMalformed;
        if (q.Type != type || q.Class != (ushort)DnsClass.IN) return Verdict.Ignore;
        var text = DnsReader.ReadNameText(msg, q.NameOffset);
        return DnsName.Equal(text, name) ? Verdict.Ours : Verdict.Ignore;
    }

    private static DnsResult Interpret(ReadOnlySpan<byte> msg, string name, DnsType type, string srv, bool tcp, Verdict verdict)
    {
        var m = DnsMessage.Decode(msg, out var st, out int at);
        if (m is null || verdict == Verdict.OursMalformed)
        {
            if (st == DnsStatus.Ok) st = DnsStatus.TruncatedName;
            return new DnsResult
            {
                Name = name, Type = type, Status = DnsResultStatus.Malformed, Server = srv, MessageSize = msg.Length,
                Error = $"malformed answer from {srv}{(tcp ? " (TCP)" : "")}: {st} at byte {at} of {msg.Length}",
            };
        }
        var rcode = m.Rcode;
        var status = rcode switch
        {
            DnsRcode.NoError => DnsResultStatus.NoError,
            DnsRcode.NxDomain => DnsResultStatus.NxDomain,
            DnsRcode.ServFail => DnsResultStatus.ServFail,
            DnsRcode.Refused => DnsResultStatus.Refused,
            _ => DnsResultStatus.OtherRcode,
        };
        return new DnsResult
        {
            Name = name, Type = type, Status = status, Rcode = rcode, Server = srv, MessageSize = msg.Length, Message = m,
            Records = m.Answers.Where(a => a.Type == type && DnsName.Equal(a.Name, name)).ToList(),
            Error = status is DnsResultStatus.NoError or DnsResultStatus.NxDomain ? null : $"{srv} answered {rcode} for {SafeText.Clean(name)} {type}",
        };
    }
}
