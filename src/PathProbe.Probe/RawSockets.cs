using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace PathProbe.Probe;

/// <summary>A probe could not be sent for a reason the user must act on (a local firewall, a missing route).</summary>
public sealed class ProbeException(string message) : Exception(message);

/// <summary>Linux socket options for raw probes (values from linux/in.h, linux/in6.h, linux/icmp.h, linux/filter.h).</summary>
internal static class RawSockets
{
    private const int SolIp = 0, IpMtuDiscover = 10, IpPmtuDiscProbe = 3;
    private const int SolIpv6 = 41, Ipv6MtuDiscover = 23, Ipv6PmtuDiscProbe = 3, Ipv6DontFrag = 62;
    private const int SolRaw = 255, IcmpFilter = 1;
    private const int SolIcmpv6 = 58, Icmp6Filter = 1;
    private const int SolSocket = 1, SoAttachFilter = 26;

    /// <summary>Opens a raw socket bound to <paramref name="source"/> whose packets leave with don't-fragment at their
    /// exact size: IP_PMTUDISC_PROBE ignores the path MTU the kernel has cached for the destination (so an earlier ICMP
    /// too-big cannot turn a probe into a local EMSGSIZE), and IPv6 never fragments locally (IPV6_DONTFRAG).</summary>
    public static Socket Open(IPAddress source, ProtocolType protocol)
    {
        var family = source.AddressFamily;
        var s = new Socket(family, SocketType.Raw, protocol);
        try
        {
            s.Bind(new IPEndPoint(source, 0));
            if (family == AddressFamily.InterNetwork) SetInt(s, SolIp, IpMtuDiscover, IpPmtuDiscProbe);
            else
            {
                SetInt(s, SolIpv6, Ipv6MtuDiscover, Ipv6PmtuDiscProbe);
                SetInt(s, SolIpv6, Ipv6DontFrag, 1);
            }
            s.ReceiveBufferSize = 1 << 18;
            return s;
        }
        catch
        {
            s.Dispose();
            throw;
        }
    }

    /// <summary>Lets only the given ICMP (or ICMPv6) types reach the socket (ICMP_FILTER / ICMP6_FILTER: a set bit blocks).</summary>
    public static void PassIcmpTypes(Socket s, params int[] types)
    {
        if (s.AddressFamily == AddressFamily.InterNetwork)
        {
            uint blocked = ~0u;
            foreach (int t in types) blocked &= ~(1u << t);
            SetInt(s, SolRaw, IcmpFilter, unchecked((int)blocked));
            return;
        }
        Span<uint> filter = stackalloc uint[8];
        filter.Fill(~0u);
        foreach (int t in types) filter[t >> 5] &= ~(1u << (t & 31));
        s.SetRawSocketOption(SolIcmpv6, Icmp6Filter, MemoryMarshal.AsBytes(filter));
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct SockFilter
    {
        public ushort Code;
        public byte Jt, Jf;
        public uint K;
        public SockFilter(ushort code, byte jt, byte jf, uint k) { Code = code; Jt = jt; Jf = jf; K = k; }
    }

    /// <summary>A classic BPF program on a raw TCP socket so that it receives only segments from
    /// <paramref name="target"/>'s <paramref name="port"/>, not every TCP packet of a busy mail server.</summary>
    public static unsafe void OnlyFromPort(Socket s, IPAddress target, int port)
    {
        const ushort LdW = 0x20, LdxMsh = 0xb1, LdhInd = 0x48, LdhAbs = 0x28, JeqK = 0x15, Ret = 0x06;
        SockFilter[] program;
        if (s.AddressFamily == AddressFamily.InterNetwork)
        {
            // IPv4 raw sockets see the IP header: source address at 12, TCP source port after the header.
            Span<byte> a = stackalloc byte[4];
            target.TryWriteBytes(a, out _);
            program = new[]
            {
                new SockFilter(LdW, 0, 0, 12),
                new SockFilter(JeqK, 0, 4, BinaryPrimitives.ReadUInt32BigEndian(a)),
                new SockFilter(LdxMsh, 0, 0, 0),
                new SockFilter(LdhInd, 0, 0, 0),
                new SockFilter(JeqK, 0, 1, (uint)port),
                new SockFilter(Ret, 0, 0, 0xFFFF),
                new SockFilter(Ret, 0, 0, 0),
            };
        }
        else
        {
            // IPv6 raw sockets start at the TCP header.
            program = new[]
            {
                new SockFilter(LdhAbs, 0, 0, 0),
                new SockFilter(JeqK, 0, 1, (uint)port),
                new SockFilter(Ret, 0, 0, 0xFFFF),
                new SockFilter(Ret, 0, 0, 0),
            };
        }
        fixed (SockFilter* p = program)
        {
            // struct sock_fprog { unsigned short len; struct sock_filter *filter; }: the pointer is pointer-aligned.
            Span<byte> fprog = stackalloc byte[2 * IntPtr.Size];
            fprog.Clear();
            ushort len = (ushort)program.Length;
            MemoryMarshal.Write(fprog, in len);
            nint ptr = (nint)p;
            MemoryMarshal.Write(fprog.Slice(IntPtr.Size), in ptr);
            s.SetRawSocketOption(SolSocket, SoAttachFilter, fprog);
        }
    }

    private static void SetInt(Socket s, int level, int name, int value)
    {
        Span<byte> b = stackalloc byte[4];
        MemoryMarshal.Write(b, in value);
        s.SetRawSocketOption(level, name, b);
    }

    /// <summary>The Internet checksum (RFC 1071) of <paramref name="data"/> added to <paramref name="sum"/>.</summary>
    public static ushort Checksum(ReadOnlySpan<byte> data, uint sum = 0)
    {
        int i = 0;
        for (; i + 1 < data.Length; i += 2) sum += BinaryPrimitives.ReadUInt16BigEndian(data.Slice(i));
        if (i < data.Length) sum += (uint)data[i] << 8;
        while (sum >> 16 != 0) sum = (sum & 0xFFFF) + (sum >> 16);
        return (ushort)~sum;
    }

    /// <summary>The pseudo-header sum of TCP's checksum (RFC 793 3.1, RFC 8200 8.1).</summary>
    public static uint PseudoHeaderSum(IPAddress source, IPAddress destination, int protocol, int length)
    {
        Span<byte> buf = stackalloc byte[16];
        uint sum = 0;
        foreach (var a in new[] { source, destination })
        {
            a.TryWriteBytes(buf, out int n);
            for (int i = 0; i < n; i += 2) sum += BinaryPrimitives.ReadUInt16BigEndian(buf.Slice(i));
        }
        sum += (uint)protocol;
        sum += (uint)(length >> 16) + (uint)(length & 0xFFFF);
        return sum;
    }

    public enum Sent : byte { Yes, TooBigLocally, DroppedLocally }

    /// <summary>Sends one datagram. EMSGSIZE: this host's interface cannot send it. ENOBUFS: the packet was dropped on
    /// its way out (a full queue, or a directly attached peer whose MTU/MRU refused the frame, which veth reports
    /// synchronously over IPv6); tried three times, then it counts as lost like any silent drop. No route, or a local
    /// firewall refusing it: a <see cref="ProbeException"/> the user can act on.</summary>
    public static Sent SendTo(Socket s, ReadOnlySpan<byte> packet, IPAddress target, CancellationToken cancel)
    {
        var to = new IPEndPoint(target, 0);
        for (int tries = 0; ; tries++)
        {
            try
            {
                s.SendTo(packet, SocketFlags.None, to);
                return Sent.Yes;
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.MessageSize) { return Sent.TooBigLocally; }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.NoBufferSpaceAvailable)
            {
                if (tries >= 2) return Sent.DroppedLocally;
                cancel.WaitHandle.WaitOne(100);
                cancel.ThrowIfCancellationRequested();
            }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.NetworkUnreachable or SocketError.HostUnreachable)
            {
                throw new ProbeException($"no route to {target} from this host ({e.Message}): check `ip route get {target}`");
            }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.AccessDenied || e.NativeErrorCode == 1 /* EPERM */)
            {
                throw new ProbeException($"this host refused to send the probe to {target} ({e.Message}): a local firewall rule (nft/iptables OUTPUT) drops it");
            }
            catch (SocketException e)
            {
                throw new ProbeException($"cannot send to {target}: {e.Message}");
            }
        }
    }

    /// <summary>Waits until one of <paramref name="sockets"/> is readable or the deadline passes (checking for Ctrl-C
    /// every 100 ms); returns the readable one, or null at the deadline. The sockets are always looked at once, even
    /// past the deadline, so an answer that arrived while this process was not scheduled still counts.</summary>
    public static Socket? WaitReadable(IReadOnlyList<Socket> sockets, TimeSpan remaining, CancellationToken cancel)
    {
        var list = new List<Socket>(sockets.Count);
        do
        {
            cancel.ThrowIfCancellationRequested();
            var slice = remaining <= TimeSpan.Zero ? TimeSpan.Zero : remaining < TimeSpan.FromMilliseconds(100) ? remaining : TimeSpan.FromMilliseconds(100);
            list.Clear();
            list.AddRange(sockets);
            long start = System.Diagnostics.Stopwatch.GetTimestamp();
            Socket.Select(list, null, null, (int)(slice.Ticks / 10));
            if (list.Count > 0) return list[0];
            remaining -= System.Diagnostics.Stopwatch.GetElapsedTime(start);
        }
        while (remaining > TimeSpan.Zero);
        return null;
    }
}
