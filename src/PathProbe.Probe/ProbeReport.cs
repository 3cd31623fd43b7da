using System.Globalization;
using System.Text;
using System.Text.Json;
using PathProbe.Advice;
using PathProbe.Primitives;

namespace PathProbe.Probe;

/// <summary>Writes a <see cref="ProbeResult"/> for people (text) and scripts (JSON, schema <c>pathprobe.probe/1</c>).</summary>
public static class ProbeReport
{
    public const string Schema = "pathprobe.probe/1";

    public static string MethodName(ProbeMethod m) => m == ProbeMethod.IcmpEcho ? "icmp" : "tcp";

    public static string VerdictName(PathVerdict v) => v switch
    {
        PathVerdict.Fine => "fine",
        PathVerdict.IcmpAnnounced => "icmp-announced",
        PathVerdict.BlackHole => "black-hole",
        _ => "unreachable",
    };

    private static string Target(ProbeResult r) =>
        r.TargetName is { } n ? $"{SafeText.Clean(n, 255)} ({r.Target})" : r.Target.ToString();

    public static void WriteText(TextWriter o, ProbeResult r)
    {
        bool v4 = r.Target.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork;
        string tooBigName = v4 ? "ICMP 'fragmentation needed'" : "ICMPv6 'packet too big'";
        o.WriteLine($"pathprobe probe {Target(r)} port {r.Port}, from {r.Source} (interface MTU {r.LocalMtu})");
        o.WriteLine();
        o.WriteLine("  SIZE  METHOD  ANSWER");
        foreach (var p in r.Probes)
        {
            string answer = p.Status switch
            {
                ProbeStatus.Arrived => $"arrived{(p.RttMs is double ms ? $" ({ms.ToString("0.0##", CultureInfo.InvariantCulture)} ms)" : "")}" +
                                       (p.Method == ProbeMethod.TcpSyn ? p.PortClosed ? ", port closed (RST)" : ", SYN-ACK" : ""),
                ProbeStatus.NoAnswer => "no answer",
                _ => $"{p.Icmp!.Describe()} from {p.Icmp.From}",
            };
            o.WriteLine($"  {p.Size,4}  {MethodName(p.Method),-6}  {answer}");
        }
        o.WriteLine();

        string exact = r.Exact ? "exact" : $"not exact: between {r.PathMtu} and {(r.SmallestFailed ?? r.LocalMtu + 1) - 1}";
        switch (r.Verdict)
        {
            case PathVerdict.Unreachable:
                o.WriteLine($"Result    UNREACHABLE: {r.Target} answered neither ICMP echo nor a TCP SYN to port {r.Port} ({r.Probes.Count} probes)" +
                            (r.Unreachable.Count > 0 ? $"; {string.Join("; ", r.Unreachable.Select(u => $"{u.Describe()} from {u.From}"))}" : "") +
                            ". Check that the address is right and the host is up; a firewall that drops both would look the same.");
                break;
            case PathVerdict.Fine:
                o.WriteLine($"Result    FINE: the largest packet this host can send ({r.PathMtu} bytes) reaches {r.Target}");
                break;
            case PathVerdict.IcmpAnnounced:
                o.WriteLine($"Result    PATH MTU {r.PathMtu} bytes ({exact}), smaller than this host's {r.LocalMtu}, and announced: " +
                            $"{r.TooBig?.From} sent {tooBigName} with MTU {r.TooBig?.Mtu}, so path-MTU discovery works and needs no fix " +
                            $"(keep that ICMP allowed through every firewall on the path)");
                break;
            default:
                o.WriteLine($"Result    BLACK HOLE: packets up to {r.PathMtu} bytes reach {r.Target} ({exact}); {r.SmallestFailed}-byte and larger ones " +
                            $"are dropped without a word: {(r.TooBig is { } t ? $"the only {tooBigName} came from {t.From} (MTU {t.Mtu}), and nothing explains the loss above {r.PathMtu}" : $"no {tooBigName} came back (a hop with a smaller MTU or MRU that does not send it, or a firewall that drops it)")}");
                break;
        }
        if (r.PortState is { } state)
            o.WriteLine($"Port {r.Port,-4} {state switch
            {
                "open" => $"open: a {r.PortCheckedAt}-byte SYN was answered with SYN-ACK",
                "closed" => $"closed: a {r.PortCheckedAt}-byte SYN was answered with RST (the host is there, nothing listens on {r.Port})",
                _ => $"no answer to a TCP SYN{(r.PortCheckedAt is int at ? $" of {at} bytes" : "")} (filtered, or nothing there)",
            }}");
        if (r.Stopped is { } why) o.WriteLine($"Stopped   {why}");

        if (r.Fixes is { } plan)
        {
            o.WriteLine();
            o.WriteLine($"Fixes: hold packets to {r.Target} at {plan.PacketSize} bytes (MSS {plan.Mss}). Each runs as-is as root (sh -e) on the host named; undo removes exactly what it added.");
            int i = 0;
            foreach (var f in plan.Fixes)
            {
                o.WriteLine();
                o.WriteLine($"  {++i}. at the {MtuFix.SiteName(f.At)}{(f.At == FixSite.Sender ? " (this host)" : "")}, {MtuFix.ToolName(f.Tool)}:");
                foreach (var c in f.Commands) o.WriteLine($"       {c}");
                o.WriteLine("     undo:");
                foreach (var c in f.Undo) o.WriteLine($"       {c}");
                Wrapped(o, "     what: ", f.Does);
            }
            o.WriteLine();
            Wrapped(o, "  Why this size: ", plan.SizeBasis);
        }
    }

    public static void WriteJson(Stream stream, ProbeResult r)
    {
        using var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true });
        w.WriteStartObject();
        w.WriteString("schema", Schema);
        w.WriteStartObject("target");
        w.WriteString("ip", r.Target.ToString());
        w.WriteNumber("port", r.Port);
        if (r.TargetName is null) w.WriteNull("name"); else w.WriteString("name", SafeText.Clean(r.TargetName, 255));
        w.WriteEndObject();
        w.WriteString("source", r.Source.ToString());
        w.WriteNumber("localMtu", r.LocalMtu);
        if (r.Method is { } m) w.WriteString("method", MethodName(m)); else w.WriteNull("method");
        w.WriteString("verdict", VerdictName(r.Verdict));
        Number(w, "pathMtu", r.PathMtu);
        w.WriteBoolean("exact", r.Exact);
        Number(w, "smallestFailed", r.SmallestFailed);
        w.WriteStartObject("icmp");
        w.WriteBoolean("seen", r.TooBig is not null);
        Number(w, "mtu", r.TooBig?.Mtu);
        if (r.TooBig is null) w.WriteNull("from"); else w.WriteString("from", r.TooBig.From.ToString());
        w.WriteEndObject();
        w.WriteBoolean("blackHole", r.BlackHole);
        w.WriteStartArray("unreachable");
        foreach (var u in r.Unreachable) Icmp(w, u);
        w.WriteEndArray();
        w.WriteStartObject("port");
        if (r.PortState is null) w.WriteNull("state"); else w.WriteString("state", r.PortState);
        Number(w, "checkedAt", r.PortCheckedAt);
        w.WriteEndObject();
        w.WriteStartArray("probes");
        foreach (var p in r.Probes)
        {
            w.WriteStartObject();
            w.WriteNumber("size", p.Size);
            w.WriteString("method", MethodName(p.Method));
            w.WriteBoolean("arrived", p.Arrived);
            if (p.Icmp is null) w.WriteNull("icmp"); else { w.WritePropertyName("icmp"); Icmp(w, p.Icmp); }
            if (p.RttMs is double ms) w.WriteNumber("rttMs", Math.Round(ms, 3)); else w.WriteNull("rttMs");
            if (p.Method == ProbeMethod.TcpSyn && p.Arrived) w.WriteBoolean("portClosed", p.PortClosed);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        Number(w, "mss", r.Fixes?.Mss);
        w.WriteStartArray("fixes");
        foreach (var f in r.Fixes?.Fixes ?? Array.Empty<MtuFix>()) WriteFix(w, f);
        w.WriteEndArray();
        if (r.Stopped is null) w.WriteNull("stopped"); else w.WriteString("stopped", r.Stopped);
        w.WriteEndObject();
    }

    /// <summary>One fix as analyze's <c>mtu-blackhole</c> evidence <c>fixes</c> writes it.</summary>
    public static void WriteFix(Utf8JsonWriter w, MtuFix f)
    {
        w.WriteStartObject();
        w.WriteString("at", MtuFix.SiteName(f.At));
        w.WriteString("tool", MtuFix.ToolName(f.Tool));
        w.WriteStartArray("commands");
        foreach (var c in f.Commands) w.WriteStringValue(c);
        w.WriteEndArray();
        w.WriteStartArray("undo");
        foreach (var c in f.Undo) w.WriteStringValue(c);
        w.WriteEndArray();
        w.WriteString("basis", f.Basis);
        w.WriteEndObject();
    }

    private static void Icmp(Utf8JsonWriter w, IcmpNote n)
    {
        w.WriteStartObject();
        w.WriteString("type", n.Kind);
        w.WriteNumber("icmpType", n.Type);
        w.WriteNumber("code", n.Code);
        Number(w, "mtu", n.Mtu);
        w.WriteString("from", n.From.ToString());
        w.WriteString("text", n.Describe());
        w.WriteEndObject();
    }

    private static void Number(Utf8JsonWriter w, string name, int? v)
    {
        if (v is int n) w.WriteNumber(name, n); else w.WriteNull(name);
    }

    private static void Wrapped(TextWriter o, string label, string text, int width = 110)
    {
        var line = new StringBuilder(label);
        string indent = new(' ', label.Length);
        foreach (var word in text.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            if (line.Length + 1 + word.Length > width && line.Length > indent.Length)
            {
                o.WriteLine(line.ToString().TrimEnd());
                line.Clear().Append(indent);
            }
            else if (line.Length > indent.Length && line[^1] != ' ') line.Append(' ');
            line.Append(word);
        }
        o.WriteLine(line.ToString().TrimEnd());
    }
}
