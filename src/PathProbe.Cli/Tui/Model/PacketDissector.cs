using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using PathProbe.Capture;
using PathProbe.Decoding;
using PathProbe.Decoding.Reassembly;
using PathProbe.Primitives;
using PathProbe.Protocols.Dns;

namespace PathProbe.Cli.Tui.Model;

/// <summary>
/// The detail pane of one packet, from PathProbe's own decoders: frame, link, IP, TCP/UDP with options and SACK blocks,
/// ICMP with the header it quotes, the SMTP lines or the DNS message it carries, and the bytes in hex. Every text taken
/// from the packet goes through <see cref="SafeText"/>.
/// </summary>
public static class PacketDissector
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static List<string> Dissect(in PacketEntry e, byte[] data, FlowDetail flow)
    {
        var lines = new List<string>();
        var frame = new RawFrame(data, e.WireLength, new Timestamp(e.Time), e.LinkType, 0);
        lines.Add($"Frame {e.Number.ToString(Inv)}: {e.WireLength} bytes on the wire, {data.Length} captured, {new Timestamp(e.Time).ToIso8601()} " +
                  $"(+{FlowRows.Offset(e.Time - flow.Start)[1..]} into the flow), link type {LinkTypeName(e.LinkType)}");
        var decoder = new FrameDecoder(new IpReassembler(), new DecodeCounters());
        var p = new DecodedPacket();
        var status = decoder.Decode(frame, ref p);
        Link(e.LinkType, data, p.VlanTags, p.VlanId, lines);
        if (status is DecodeStatus.Ok or DecodeStatus.FragmentHeld && p.IpVersion != 0)
        {
            Ip(ref p, lines);
            if (status == DecodeStatus.FragmentHeld || (p.IsFragment && !p.Reassembled))
                lines.Add($"  fragment at offset {p.FragmentOffset}{(p.MoreFragments ? ", more follow" : ", the last")}: the datagram was reassembled from its fragments in the capture");
            else if (p.IsTcp) Tcp(ref p, e, lines);
            else if (p.IsUdp) lines.Add($"UDP {p.SrcPort} → {p.DstPort}, length {p.UdpLength}, payload {p.PayloadWireLength} bytes");
            else if (p.IsIcmp) Icmp(ref p, lines);
            if (status == DecodeStatus.Ok && !p.IsIcmp) Application(ref p, lines);
        }
        else
        {
            var reasons = decoder.Counters.MalformedByName().Select(c => c.Key).ToList();
            lines.Add($"not decoded: {status}{(reasons.Count > 0 ? " (" + string.Join(", ", reasons) + ")" : "")}");
        }

        lines.Add("");
        lines.Add("Bytes:");
        Hex(data, lines);
        return lines;
    }

    private static string LinkTypeName(int t) => t switch
    {
        LinkTypes.Ethernet => "Ethernet (1)", LinkTypes.Raw => "raw IP (101)", LinkTypes.Null => "BSD loopback (0)", LinkTypes.Loop => "OpenBSD loopback (108)",
        113 => "Linux cooked SLL (113)", 276 => "Linux cooked SLL2 (276)", _ => t.ToString(Inv),
    };

    private static void Link(int linkType, byte[] data, byte vlanTags, ushort vlanId, List<string> lines)
    {
        if (linkType != LinkTypes.Ethernet || data.Length < 14) return;
        // The outer EtherType; with VLAN tags the decoder stripped them (802.1Q/802.1ad) and says how many.
        ushort type = BinaryPrimitives.ReadUInt16BigEndian(data.AsSpan(12));
        string vlan = vlanTags > 0 ? $", {vlanTags} VLAN tag{(vlanTags > 1 ? "s" : "")} (id {vlanId})" : "";
        lines.Add($"Ethernet {Mac(data.AsSpan(6, 6))} → {Mac(data.AsSpan(0, 6))}, type 0x{type:x4}{vlan}");
    }

    private static string Mac(ReadOnlySpan<byte> m) => string.Join(':', m.ToArray().Select(b => b.ToString("x2", Inv)));

    private static void Ip(ref DecodedPacket p, List<string> lines)
    {
        var sb = new StringBuilder();
        if (p.IpVersion == 4)
        {
            sb.Append($"IPv4 {p.Src} → {p.Dst}, total length {p.IpPacketLength}, header {p.IpHeaderLength}, TTL {p.Ttl}, id 0x{p.IpId:x4}");
            if (p.DontFragment) sb.Append(", DF");
            if (p.MoreFragments) sb.Append(", MF");
            if (p.FragmentOffset != 0) sb.Append($", fragment offset {p.FragmentOffset}");
            sb.Append(p.IpChecksumBad ? ", header checksum BAD" : ", header checksum ok");
        }
        else
        {
            sb.Append($"IPv6 {p.Src} → {p.Dst}, length {p.IpPacketLength} (headers {p.IpHeaderLength}), hop limit {p.Ttl}");
            if (p.IsFragment) sb.Append($", fragment id 0x{p.IpId:x8} offset {p.FragmentOffset}{(p.MoreFragments ? " M" : "")}");
        }
        sb.Append($", DSCP {p.TrafficClass >> 2}, ECN {p.TrafficClass & 3}, protocol {p.Protocol}");
        if (p.Reassembled) sb.Append($"; reassembled from {p.FragmentCount} fragments (largest {p.LargestFragment} bytes)");
        lines.Add(sb.ToString());
    }

    private static void Tcp(ref DecodedPacket p, in PacketEntry e, List<string> lines)
    {
        lines.Add($"TCP {p.SrcPort} → {p.DstPort}, seq {p.Seq} (relative {e.Seq}), ack {p.Ack}{((p.TcpFlags & TcpFlags.Ack) != 0 ? $" (relative {e.Ack})" : "")}, " +
                  $"flags [{Flags(p.TcpFlags)}], window {p.Window}, header {p.TcpHeaderLength}, payload {p.PayloadWireLength} bytes");
        var o = p.TcpOptions;
        var opts = new List<string>();
        if (o.Mss > 0) opts.Add($"MSS {o.Mss}");
        if (o.WindowScale >= 0) opts.Add($"window scale {o.WindowScale} (×{1 << Math.Min(14, (int)o.WindowScale)})");
        if (o.SackPermitted) opts.Add("SACK permitted");
        if (o.HasTimestamps) opts.Add($"timestamps val {o.TsVal} ecr {o.TsEcr}");
        if (opts.Count > 0) lines.Add("  options: " + string.Join(", ", opts));
        if (o.SackBlockCount > 0)
        {
            var blocks = new List<string>();
            for (int i = 0; i < Math.Min(4, (int)o.SackBlockCount); i++)
            {
                uint l = o.SackLeft(i), r = o.SackRight(i);
                // Relative to the acknowledged side's base, as the ACK (e.Ack is relative, p.Ack absolute).
                uint bas = unchecked(p.Ack - e.Ack);
                blocks.Add($"{l}-{r} (relative {unchecked(l - bas)}-{unchecked(r - bas)}, {unchecked(r - l)} bytes)");
            }
            lines.Add("  SACK blocks: " + string.Join(", ", blocks));
        }
    }

    private static string Flags(TcpFlags f)
    {
        var names = new List<string>();
        if ((f & TcpFlags.Syn) != 0) names.Add("SYN");
        if ((f & TcpFlags.Fin) != 0) names.Add("FIN");
        if ((f & TcpFlags.Rst) != 0) names.Add("RST");
        if ((f & TcpFlags.Psh) != 0) names.Add("PSH");
        if ((f & TcpFlags.Ack) != 0) names.Add("ACK");
        if ((f & TcpFlags.Urg) != 0) names.Add("URG");
        if ((f & TcpFlags.Ece) != 0) names.Add("ECE");
        if ((f & TcpFlags.Cwr) != 0) names.Add("CWR");
        return string.Join(' ', names);
    }

    /// <summary>Short flag letters for the packet list (tcpdump's: S F R P . for ACK).</summary>
    public static string FlagLetters(TcpFlags f)
    {
        var sb = new StringBuilder();
        if ((f & TcpFlags.Syn) != 0) sb.Append('S');
        if ((f & TcpFlags.Fin) != 0) sb.Append('F');
        if ((f & TcpFlags.Rst) != 0) sb.Append('R');
        if ((f & TcpFlags.Psh) != 0) sb.Append('P');
        if ((f & TcpFlags.Ack) != 0) sb.Append('.');
        return sb.ToString();
    }

    private static void Icmp(ref DecodedPacket p, List<string> lines)
    {
        string what = (p.IpVersion, p.IcmpType, p.IcmpCode) switch
        {
            (4, 3, 4) => "destination unreachable: fragmentation needed and DF set",
            (4, 3, var c) => $"destination unreachable (code {c})",
            (4, 11, _) => "time exceeded",
            (4, 0, _) => "echo reply",
            (4, 8, _) => "echo request",
            (6, 2, _) => "packet too big",
            (6, 1, var c) => $"destination unreachable (code {c})",
            (6, 3, _) => "time exceeded",
            (6, 128, _) => "echo request",
            (6, 129, _) => "echo reply",
            _ => "",
        };
        lines.Add($"ICMP{(p.IpVersion == 6 ? "v6" : "")} type {p.IcmpType} code {p.IcmpCode}{(what.Length > 0 ? " " + what : "")}{(p.IcmpMtu >= 0 ? $", MTU {p.IcmpMtu}" : "")}");
        var q = p.Quoted;
        if (!q.Present) return;
        var sb = new StringBuilder($"  quoted: IPv{q.IpVersion} {q.Src} → {q.Dst}, length {q.IpPacketLength}");
        if (q.DontFragment) sb.Append(", DF");
        sb.Append($", protocol {q.Protocol}");
        if (q.HasPorts) sb.Append($", ports {q.SrcPort} → {q.DstPort}");
        if (q.HasTcpSeq) sb.Append($", TCP seq {q.TcpSeq}");
        lines.Add(sb.ToString());
    }

    private static readonly int[] SmtpPorts = [25, 465, 587, 2525];

    /// <summary>The SMTP lines or the DNS message the payload carries.</summary>
    private static void Application(ref DecodedPacket p, List<string> lines)
    {
        var payload = p.Payload;
        if (payload.Length == 0) return;
        if (p.SrcPort == 53 || p.DstPort == 53)
        {
            var msg = payload;
            if (p.IsTcp && msg.Length >= 2) msg = msg[2..]; // TCP length prefix (RFC 1035 4.2.2); assumes the message starts here
            var dns = DnsMessage.Decode(msg, out var status, out int at);
            if (dns is null) { lines.Add($"DNS: not decoded ({status} at byte {at})"); return; }
            var h = dns.Header;
            lines.Add($"DNS {(h.IsResponse ? "response" : "query")} id 0x{h.Id:x4}, rcode {dns.Rcode}{(h.Truncated ? ", TC (truncated)" : "")}" +
                      (dns.Edns is { } e ? $", EDNS buffer {e.UdpPayloadSize}" : ""));
            foreach (var q in dns.Questions.Take(10)) lines.Add($"  question: {SafeText.Clean(q.Name, 300)} {q.Type}");
            foreach (var r in dns.AllRecords.Take(20)) lines.Add($"  {r.Section}: {SafeText.Clean(r.ToString(), 300)}");
            return;
        }
        if (p.IsTcp && (Array.IndexOf(SmtpPorts, (int)p.SrcPort) >= 0 || Array.IndexOf(SmtpPorts, (int)p.DstPort) >= 0))
        {
            // Commands and replies are shown; message content is not decoded (it is in the bytes below, as in Wireshark).
            var all = Lines(payload);
            if (all.Count == 0 || !IsSmtpLine(all[0])) { lines.Add($"SMTP: message data or a continuation, {p.PayloadWireLength} bytes (not decoded)"); return; }
            int shown = 0;
            foreach (var line in all)
            {
                if (shown == 4 || !IsSmtpLine(line)) { lines.Add("      …"); break; }
                lines.Add((shown == 0 ? "SMTP: " : "      ") + SafeText.FromBytes(line, 200));
                shown++;
            }
        }
    }

    /// <summary>A reply ("250 ok", "250-SIZE") or a command (a verb of 4 letters, then a space or the end: "MAIL FROM:").</summary>
    private static bool IsSmtpLine(byte[] l)
    {
        if (l.Length >= 3 && char.IsAsciiDigit((char)l[0]) && char.IsAsciiDigit((char)l[1]) && char.IsAsciiDigit((char)l[2]) && (l.Length == 3 || l[3] is (byte)' ' or (byte)'-'))
            return true;
        if (l.Length < 4) return false;
        for (int i = 0; i < 4; i++) if (!char.IsAsciiLetter((char)l[i])) return false;
        return l.Length == 4 || l[4] == (byte)' ';
    }

    private static List<byte[]> Lines(ReadOnlySpan<byte> s)
    {
        var result = new List<byte[]>();
        while (s.Length > 0 && result.Count < 5)
        {
            int n = s.IndexOf((byte)'\n');
            var line = n < 0 ? s : s[..n];
            if (line.Length > 0 && line[^1] == '\r') line = line[..^1];
            result.Add(line.ToArray());
            if (n < 0) break;
            s = s[(n + 1)..];
        }
        return result;
    }

    /// <summary>16 bytes a line: offset, hex, printable ASCII ('.' for the rest).</summary>
    public static void Hex(ReadOnlySpan<byte> data, List<string> lines)
    {
        var sb = new StringBuilder();
        for (int i = 0; i < data.Length; i += 16)
        {
            sb.Clear();
            sb.Append(i.ToString("x4", Inv)).Append("  ");
            for (int j = 0; j < 16; j++)
            {
                if (i + j < data.Length) sb.Append(data[i + j].ToString("x2", Inv)).Append(' ');
                else sb.Append("   ");
                if (j == 7) sb.Append(' ');
            }
            sb.Append(' ');
            for (int j = 0; j < 16 && i + j < data.Length; j++)
            {
                byte b = data[i + j];
                sb.Append(b is >= 0x20 and < 0x7f ? (char)b : '.');
            }
            lines.Add(sb.ToString());
        }
    }

    /// <summary>The packet list's one-line summary of a packet (tcpdump-like).</summary>
    public static string Info(in PacketEntry e)
    {
        if (e.Icmp)
        {
            string mtu = e.IcmpMtu >= 0 ? $" mtu {e.IcmpMtu}" : "";
            return $"ICMP type {e.IcmpType} code {e.IcmpCode}{mtu}, {e.IpLength} bytes";
        }
        if (e.Protocol == IpProtocols.Tcp)
        {
            string sack = e.SackBlocks > 0 ? $" SACK×{e.SackBlocks}" : "";
            return $"[{FlagLetters(e.Flags)}] seq {e.Seq}{(e.Payload > 0 ? ":" + (e.Seq + (uint)e.Payload).ToString(Inv) : "")} ack {e.Ack} win {e.Window} len {e.Payload}{sack}{(e.Reassembled ? " (reassembled)" : "")}";
        }
        return $"len {e.Payload}{(e.Reassembled ? " (reassembled)" : "")}";
    }
}
