using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;

namespace PathProbe.Probe;

/// <summary>
/// ICMP echo probes (RFC 792, RFC 4443 4.1) on a raw socket: an echo reply of the same length proves that the request
/// reached the host. ICMP errors quoting a probe (fragmentation needed, Packet Too Big, unreachable) are matched by
/// the quoted identifier and sequence number.
/// </summary>
internal sealed class IcmpEchoChannel : IProbeChannel
{
    private const int Ipv4Header = 20, Ipv6Header = 40, EchoHeader = 8, NonceLength = 8;
    private readonly Socket _socket;
    private readonly IPAddress _target;
    private readonly bool _v4;
    private readonly ushort _id = (ushort)RandomNumberGenerator.GetInt32(1, 65536);
    private readonly ulong _nonce = BinaryPrimitives.ReadUInt64BigEndian(RandomNumberGenerator.GetBytes(8));
    private ushort _seq = (ushort)RandomNumberGenerator.GetInt32(0, 30000);
    private readonly byte[] _send = new byte[65536], _recv = new byte[65536];

    public IcmpEchoChannel(IPAddress source, IPAddress target)
    {
        _target = target;
        _v4 = target.AddressFamily == AddressFamily.InterNetwork;
        _socket = RawSockets.Open(source, _v4 ? ProtocolType.Icmp : ProtocolType.IcmpV6);
        // Echo reply and the errors that quote a probe; nothing else of the host's ICMP traffic.
        if (_v4) RawSockets.PassIcmpTypes(_socket, 0, 3);
        else RawSockets.PassIcmpTypes(_socket, 1, 2, 129);
    }

    public ProbeMethod Method => ProbeMethod.IcmpEcho;
    /// <summary>Like ping's default: 56 bytes of data.</summary>
    public int BaselineSize => (_v4 ? Ipv4Header : Ipv6Header) + EchoHeader + 56;

    public ProbeAttempt Send(int size, TimeSpan timeout, CancellationToken cancel)
    {
        int icmpLength = size - (_v4 ? Ipv4Header : Ipv6Header);
        if (icmpLength < EchoHeader + NonceLength) throw new ArgumentOutOfRangeException(nameof(size));
        ushort seq = ++_seq;
        var packet = _send.AsSpan(0, icmpLength);
        packet.Clear();
        packet[0] = _v4 ? (byte)8 : (byte)128;
        BinaryPrimitives.WriteUInt16BigEndian(packet.Slice(4), _id);
        BinaryPrimitives.WriteUInt16BigEndian(packet.Slice(6), seq);
        BinaryPrimitives.WriteUInt64BigEndian(packet.Slice(8), _nonce);
        for (int i = EchoHeader + NonceLength; i < icmpLength; i++) packet[i] = (byte)i;
        if (_v4) BinaryPrimitives.WriteUInt16BigEndian(packet.Slice(2), RawSockets.Checksum(packet)); // the kernel sums ICMPv6

        long start = Stopwatch.GetTimestamp();
        switch (RawSockets.SendTo(_socket, packet, _target, cancel))
        {
            case RawSockets.Sent.TooBigLocally: return new ProbeAttempt(size, Method, ProbeStatus.LocalTooBig, null, null, false);
            case RawSockets.Sent.DroppedLocally: return new ProbeAttempt(size, Method, ProbeStatus.NoAnswer, null, null, false);
        }
        var sockets = new[] { _socket };
        while (true)
        {
            var left = timeout - Stopwatch.GetElapsedTime(start);
            if (RawSockets.WaitReadable(sockets, left, cancel) is null)
                return new ProbeAttempt(size, Method, ProbeStatus.NoAnswer, null, null, false);
            EndPoint from = new IPEndPoint(_v4 ? IPAddress.Any : IPAddress.IPv6Any, 0);
            int n;
            try { n = _socket.ReceiveFrom(_recv, ref from); }
            catch (SocketException) { continue; }
            double rtt = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            var answer = Match(_recv.AsSpan(0, n), ((IPEndPoint)from).Address, seq, icmpLength);
            if (answer is null) continue;
            var (status, note) = answer.Value;
            return new ProbeAttempt(size, Method, status, note, status == ProbeStatus.Arrived ? rtt : null, false);
        }
    }

    /// <summary>Is this ICMP message the answer to probe <paramref name="seq"/>?</summary>
    private (ProbeStatus, IcmpNote?)? Match(ReadOnlySpan<byte> data, IPAddress from, ushort seq, int icmpLength)
    {
        ReadOnlySpan<byte> icmp;
        if (_v4)
        {
            // IPv4 raw sockets deliver the IP header (of the reassembled datagram).
            if (data.Length < Ipv4Header || data[0] >> 4 != 4 || data[9] != 1) return null;
            int ihl = (data[0] & 15) * 4;
            if (data.Length < ihl + EchoHeader) return null;
            icmp = data.Slice(ihl);
        }
        else icmp = data;
        if (icmp.Length < EchoHeader) return null;
        byte type = icmp[0], code = icmp[1];
        bool echoReply = _v4 ? type == 0 : type == 129;
        if (echoReply)
        {
            if (!from.Equals(_target) || BinaryPrimitives.ReadUInt16BigEndian(icmp.Slice(4)) != _id ||
                BinaryPrimitives.ReadUInt16BigEndian(icmp.Slice(6)) != seq) return null;
            // The whole request came back: same length, our nonce.
            if (icmp.Length != icmpLength || BinaryPrimitives.ReadUInt64BigEndian(icmp.Slice(8)) != _nonce) return null;
            return (ProbeStatus.Arrived, null);
        }
        bool error = _v4 ? type == 3 : type is 1 or 2;
        if (!error) return null;
        var quoted = icmp.Slice(8);
        ReadOnlySpan<byte> quotedEcho;
        if (_v4)
        {
            if (quoted.Length < Ipv4Header || quoted[0] >> 4 != 4 || quoted[9] != 1) return null;
            int qihl = (quoted[0] & 15) * 4;
            if (quoted.Length < qihl + EchoHeader) return null;
            quotedEcho = quoted.Slice(qihl);
            if (quotedEcho[0] != 8) return null;
        }
        else
        {
            if (quoted.Length < Ipv6Header + EchoHeader || quoted[0] >> 4 != 6 || quoted[6] != 58) return null;
            quotedEcho = quoted.Slice(Ipv6Header);
            if (quotedEcho[0] != 128) return null;
        }
        if (BinaryPrimitives.ReadUInt16BigEndian(quotedEcho.Slice(4)) != _id || BinaryPrimitives.ReadUInt16BigEndian(quotedEcho.Slice(6)) != seq)
            return null;
        return IcmpErrors.Classify(_v4, type, code, icmp, from);
    }

    public void Dispose() => _socket.Dispose();
}

/// <summary>
/// TCP SYN probes to the port (the mail server's): a SYN whose data pads it to the probe size, don't-fragment, from a
/// fresh source port reserved with a bound socket. A SYN-ACK (port open) or RST (port closed) acknowledging that SYN
/// proves the whole packet arrived; Linux answers a SYN carrying data like any SYN and drops the data (no TCP Fast Open
/// cookie), so the mail server's application never sees the probe. This host's kernel answers the SYN-ACK with a RST,
/// because no socket of its own expects it, which closes the half-open connection on the server.
/// </summary>
internal sealed class TcpSynChannel : IProbeChannel
{
    private const int TcpHeader = 24; // 20 + MSS option
    private readonly Socket _tcp, _icmp;
    private readonly IPAddress _source, _target;
    private readonly int _port, _mss;
    private readonly bool _v4;
    private readonly List<Socket> _reserved = new();
    private readonly byte[] _send = new byte[65536], _recv = new byte[65536];

    public TcpSynChannel(IPAddress source, IPAddress target, int port, int localMtu)
    {
        _source = source;
        _target = target;
        _port = port;
        _v4 = target.AddressFamily == AddressFamily.InterNetwork;
        _mss = Math.Clamp(localMtu - (_v4 ? 40 : 60), 536, 65495);
        _tcp = RawSockets.Open(source, ProtocolType.Tcp);
        try
        {
            RawSockets.OnlyFromPort(_tcp, target, port);
            _icmp = RawSockets.Open(source, _v4 ? ProtocolType.Icmp : ProtocolType.IcmpV6);
            if (_v4) RawSockets.PassIcmpTypes(_icmp, 3);
            else RawSockets.PassIcmpTypes(_icmp, 1, 2);
        }
        catch
        {
            _tcp.Dispose();
            throw;
        }
    }

    public ProbeMethod Method => ProbeMethod.TcpSyn;
    private int IpHeader => _v4 ? 20 : 40;
    /// <summary>A SYN without data.</summary>
    public int BaselineSize => IpHeader + TcpHeader;

    public ProbeAttempt Send(int size, TimeSpan timeout, CancellationToken cancel)
    {
        int tcpLength = size - IpHeader;
        if (tcpLength < TcpHeader) throw new ArgumentOutOfRangeException(nameof(size));
        // A source port of our own for this probe: nothing else on this host uses it meanwhile, and each probe is its
        // own connection attempt on the server.
        var reserve = new Socket(_source.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        reserve.Bind(new IPEndPoint(_source, 0));
        _reserved.Add(reserve);
        int sport = ((IPEndPoint)reserve.LocalEndPoint!).Port;
        uint isn = (uint)RandomNumberGenerator.GetInt32(int.MinValue, int.MaxValue);
        int dataLength = tcpLength - TcpHeader;

        var packet = _send.AsSpan(0, tcpLength);
        packet.Clear();
        BinaryPrimitives.WriteUInt16BigEndian(packet, (ushort)sport);
        BinaryPrimitives.WriteUInt16BigEndian(packet.Slice(2), (ushort)_port);
        BinaryPrimitives.WriteUInt32BigEndian(packet.Slice(4), isn);
        packet[12] = (TcpHeader / 4) << 4;
        packet[13] = 0x02; // SYN
        BinaryPrimitives.WriteUInt16BigEndian(packet.Slice(14), 64240);
        packet[20] = 2; packet[21] = 4; // MSS
        BinaryPrimitives.WriteUInt16BigEndian(packet.Slice(22), (ushort)_mss);
        uint pseudo = RawSockets.PseudoHeaderSum(_source, _target, 6, tcpLength);
        BinaryPrimitives.WriteUInt16BigEndian(packet.Slice(16), RawSockets.Checksum(packet, pseudo));

        long start = Stopwatch.GetTimestamp();
        switch (RawSockets.SendTo(_tcp, packet, _target, cancel))
        {
            case RawSockets.Sent.TooBigLocally: return new ProbeAttempt(size, Method, ProbeStatus.LocalTooBig, null, null, false);
            case RawSockets.Sent.DroppedLocally: return new ProbeAttempt(size, Method, ProbeStatus.NoAnswer, null, null, false);
        }
        var sockets = new[] { _tcp, _icmp };
        while (true)
        {
            var left = timeout - Stopwatch.GetElapsedTime(start);
            var ready = RawSockets.WaitReadable(sockets, left, cancel);
            if (ready is null) return new ProbeAttempt(size, Method, ProbeStatus.NoAnswer, null, null, false);
            EndPoint from = new IPEndPoint(_v4 ? IPAddress.Any : IPAddress.IPv6Any, 0);
            int n;
            try { n = ready.ReceiveFrom(_recv, ref from); }
            catch (SocketException) { continue; }
            double rtt = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            var address = ((IPEndPoint)from).Address;
            var data = _recv.AsSpan(0, n);
            if (ready == _tcp)
            {
                if (MatchTcp(data, address, sport, isn, dataLength) is bool closed)
                    return new ProbeAttempt(size, Method, ProbeStatus.Arrived, null, rtt, closed);
            }
            else if (MatchIcmp(data, address, sport, isn) is var (status, note))
                return new ProbeAttempt(size, Method, status, note, null, false);
        }
    }

    /// <summary>A SYN-ACK (false) or RST (true: port closed) for our SYN; null when the segment is not the answer.</summary>
    private bool? MatchTcp(ReadOnlySpan<byte> data, IPAddress from, int sport, uint isn, int dataLength)
    {
        ReadOnlySpan<byte> tcp;
        if (_v4)
        {
            if (data.Length < 20 || data[0] >> 4 != 4 || data[9] != 6) return null;
            int ihl = (data[0] & 15) * 4;
            tcp = data.Slice(Math.Min(ihl, data.Length));
        }
        else tcp = data;
        if (tcp.Length < 20 || !from.Equals(_target)) return null;
        if (BinaryPrimitives.ReadUInt16BigEndian(tcp) != _port || BinaryPrimitives.ReadUInt16BigEndian(tcp.Slice(2)) != sport) return null;
        uint ack = BinaryPrimitives.ReadUInt32BigEndian(tcp.Slice(8));
        byte flags = tcp[13];
        if ((flags & 0x12) == 0x12 && ack == isn + 1) return false;
        // A RST for a SYN with data acknowledges the data too (Linux tcp_v4_send_reset).
        if ((flags & 0x04) != 0 && (ack == isn + 1 || ack == unchecked(isn + 1 + (uint)dataLength))) return true;
        return null;
    }

    private (ProbeStatus, IcmpNote?)? MatchIcmp(ReadOnlySpan<byte> data, IPAddress from, int sport, uint isn)
    {
        ReadOnlySpan<byte> icmp;
        if (_v4)
        {
            if (data.Length < 28 || data[0] >> 4 != 4 || data[9] != 1) return null;
            icmp = data.Slice((data[0] & 15) * 4);
        }
        else icmp = data;
        if (icmp.Length < 8) return null;
        byte type = icmp[0], code = icmp[1];
        if (_v4 ? type != 3 : type is not (1 or 2)) return null;
        var quoted = icmp.Slice(8);
        ReadOnlySpan<byte> tcp;
        if (_v4)
        {
            if (quoted.Length < 20 || quoted[0] >> 4 != 4 || quoted[9] != 6) return null;
            int qihl = (quoted[0] & 15) * 4;
            if (quoted.Length < qihl + 8) return null;
            tcp = quoted.Slice(qihl);
        }
        else
        {
            if (quoted.Length < 48 || quoted[0] >> 4 != 6 || quoted[6] != 6) return null;
            tcp = quoted.Slice(40);
        }
        if (BinaryPrimitives.ReadUInt16BigEndian(tcp) != sport || BinaryPrimitives.ReadUInt16BigEndian(tcp.Slice(2)) != _port ||
            BinaryPrimitives.ReadUInt32BigEndian(tcp.Slice(4)) != isn) return null;
        return IcmpErrors.Classify(_v4, type, code, icmp, from);
    }

    public void Dispose()
    {
        _tcp.Dispose();
        _icmp.Dispose();
        foreach (var s in _reserved) s.Dispose();
    }
}

internal static class IcmpErrors
{
    /// <summary>ICMPv4 type 3 code 4 and ICMPv6 type 2 are too-big with their MTU (RFC 1191, RFC 8201); the rest of
    /// type 3 / type 1 are unreachable.</summary>
    public static (ProbeStatus, IcmpNote) Classify(bool v4, byte type, byte code, ReadOnlySpan<byte> icmp, IPAddress from)
    {
        if (v4 && type == 3 && code == 4)
            return (ProbeStatus.TooBig, new IcmpNote(type, code, BinaryPrimitives.ReadUInt16BigEndian(icmp.Slice(6)), from));
        if (!v4 && type == 2)
            return (ProbeStatus.TooBig, new IcmpNote(type, code, (int)Math.Min(BinaryPrimitives.ReadUInt32BigEndian(icmp.Slice(4)), int.MaxValue), from));
        return (ProbeStatus.Unreachable, new IcmpNote(type, code, null, from));
    }
}
