using System.Globalization;
using System.Text.Json;
using PathProbe.Decoding;
using PathProbe.Flows;
using PathProbe.Pipeline;
using static PathProbe.Findings.FindingText;

namespace PathProbe.Reports;

/// <summary>What the reports say about encapsulation: the counters (<c>stats.encapsulation</c>, the text report's
/// "Tunnels" line), each flow's layers (<c>flows[].encapsulation</c>, the ENCAP column). Kept apart from the report
/// writers so they change in one line each.</summary>
public static class EncapsulationReport
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>Link IP MTU assumed for <c>innerMtuOn1500</c>: Ethernet's.</summary>
    public const int AssumedLinkMtu = Encapsulation.EthernetMtu;

    /// <summary>The order layers usually nest in, for the summary line ("ipv4 64, vxlan 64, eth 64").</summary>
    private static readonly EncapsulationLayer[] OuterToInner =
    [
        EncapsulationLayer.ServiceVlan, EncapsulationLayer.Vlan, EncapsulationLayer.CiscoMetadata, EncapsulationLayer.Mpls,
        EncapsulationLayer.PwControlWord, EncapsulationLayer.Pppoe, EncapsulationLayer.Ipv4, EncapsulationLayer.Ipv6,
        EncapsulationLayer.Udp, EncapsulationLayer.Gre, EncapsulationLayer.Vxlan, EncapsulationLayer.Geneve,
        EncapsulationLayer.Erspan, EncapsulationLayer.Wccp, EncapsulationLayer.Ppp, EncapsulationLayer.Ethernet,
    ];

    private sealed class Sums
    {
        public long Decapsulated, PppoeDiscovery, PppControl, UndecodedTotal;
        public readonly SortedDictionary<string, long> Layers = new(StringComparer.Ordinal);
        public readonly SortedDictionary<string, long> Undecoded = new(StringComparer.Ordinal);
        public readonly SortedDictionary<(UndecodedReason, int), long> Details = new();
        public readonly List<KeyValuePair<string, long>> LayersInOrder = new();
    }

    private static Sums Sum(IReadOnlyList<CaptureAnalysis> analyses)
    {
        var s = new Sums();
        var layerCounts = new long[(int)EncapsulationLayer.Count];
        foreach (var a in analyses)
        {
            var c = a.Decode;
            s.Decapsulated += c.Decapsulated;
            s.PppoeDiscovery += c.PppoeDiscovery;
            s.PppControl += c.PppControl;
            s.UndecodedTotal += c.UndecodedTotal;
            for (int i = 1; i < layerCounts.Length; i++) layerCounts[i] += c.FramesWithLayer((EncapsulationLayer)i);
            foreach (var kv in c.UndecodedByName()) s.Undecoded[kv.Key] = s.Undecoded.GetValueOrDefault(kv.Key) + kv.Value;
            foreach (var (reason, detail, frames) in c.UndecodedDetails())
                s.Details[(reason, detail)] = s.Details.GetValueOrDefault((reason, detail)) + frames;
        }
        foreach (var layer in OuterToInner)
        {
            long n = layerCounts[(int)layer];
            if (n == 0) continue;
            string name = Encapsulation.LayerName(layer);
            s.Layers[name] = n;
            s.LayersInOrder.Add(new(name, n));
        }
        return s;
    }

    // ---- JSON ---------------------------------------------------------------------------------------------------

    /// <summary><c>stats.encapsulation</c>.</summary>
    public static void WriteJsonStats(Utf8JsonWriter w, IReadOnlyList<CaptureAnalysis> analyses)
    {
        var s = Sum(analyses);
        w.WriteStartObject("encapsulation"u8);
        w.WriteNumber("decapsulated"u8, s.Decapsulated);
        w.WriteStartObject("layers"u8);
        foreach (var kv in s.Layers) w.WriteNumber(kv.Key, kv.Value);
        w.WriteEndObject();
        w.WriteNumber("notDecoded"u8, s.UndecodedTotal);
        w.WriteStartObject("notDecodedReasons"u8);
        foreach (var kv in s.Undecoded) w.WriteNumber(kv.Key, kv.Value);
        w.WriteEndObject();
        w.WriteStartArray("notDecodedDetails"u8);
        foreach (var ((reason, detail), frames) in s.Details)
        {
            if (!HasDetail(reason)) continue;
            w.WriteStartObject();
            w.WriteString("reason"u8, UndecodedReasons.Name(reason));
            w.WriteNumber("value"u8, detail);
            w.WriteNumber("packets"u8, frames);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteNumber("pppoeDiscovery"u8, s.PppoeDiscovery);
        w.WriteNumber("pppControl"u8, s.PppControl);
        w.WriteEndObject();
    }

    /// <summary><c>flows[].encapsulation</c>: null for plain traffic.</summary>
    public static void WriteJsonFlow(Utf8JsonWriter w, Flow f)
    {
        ref readonly DirectionStats c = ref f.ClientToServer;
        ref readonly DirectionStats s = ref f.ServerToClient;
        if (c.Encap.IsEmpty && s.Encap.IsEmpty && c.EncapChanges == 0 && s.EncapChanges == 0)
        {
            w.WriteNull("encapsulation"u8);
            return;
        }
        w.WriteStartObject("encapsulation"u8);
        WriteDirection(w, "c2s", in c.Encap, c.MaxOuterIpPacket, c.OuterFragmented);
        WriteDirection(w, "s2c", in s.Encap, s.MaxOuterIpPacket, s.OuterFragmented);
        w.WriteNumber("changes"u8, c.EncapChanges + s.EncapChanges);
        w.WriteEndObject();
    }

    private static void WriteDirection(Utf8JsonWriter w, string name, in Encapsulation e, int maxOuterIpPacket, long outerFragmented)
    {
        if (e.IsEmpty) { w.WriteNull(name); return; }
        w.WriteStartObject(name);
        w.WriteStartArray("layers"u8);
        foreach (var l in e.LayerNames()) w.WriteStringValue(l);
        w.WriteEndArray();
        w.WriteNumber("headerBytes"u8, e.HeaderBytes);
        w.WriteNumber("mtuOverhead"u8, e.MtuOverhead);
        w.WriteNumber("innerMtuOn1500"u8, e.InnerMtu(AssumedLinkMtu));
        if (e.HasTunnelId) w.WriteNumber("tunnelId"u8, e.TunnelId); else w.WriteNull("tunnelId"u8);
        if (e.OuterIpVersion == 0) w.WriteNull("outer"u8);
        else
        {
            w.WriteStartObject("outer"u8);
            JsonReport.WriteAddress(w, "src"u8, e.OuterSrc);
            JsonReport.WriteAddress(w, "dst"u8, e.OuterDst);
            w.WriteNumber("maxIpPacket"u8, maxOuterIpPacket);
            w.WriteNumber("fragmented"u8, outerFragmented);
            w.WriteEndObject();
        }
        w.WriteEndObject();
    }

    // ---- text ---------------------------------------------------------------------------------------------------

    /// <summary>The "Tunnels" lines under the packet counts; nothing when the capture had no encapsulation beyond VLAN
    /// tags and nothing was left undecoded.</summary>
    public static void WriteTextSummary(TextWriter o, IReadOnlyList<CaptureAnalysis> analyses, int width = 80)
    {
        var s = Sum(analyses);
        if (s.Decapsulated == 0 && s.UndecodedTotal == 0 && s.PppoeDiscovery == 0 && s.PppControl == 0) return;
        var parts = new List<string>();
        if (s.Decapsulated > 0)
            parts.Add($"{Packets(s.Decapsulated)} decapsulated (" + string.Join(", ", s.LayersInOrder.Select(kv => $"{kv.Key} {N(kv.Value)}")) + ")");
        var control = new List<string>();
        if (s.PppoeDiscovery > 0) control.Add($"{N(s.PppoeDiscovery)} PPPoE discovery");
        if (s.PppControl > 0) control.Add($"{N(s.PppControl)} PPP control (LCP, IPCP, ...)");
        if (control.Count > 0) parts.Add("not IP: " + string.Join(", ", control));
        TextReport.Wrap(o, "Tunnels    ", parts.Count > 0 ? string.Join("; ", parts) : "none decapsulated", width);
        if (s.UndecodedTotal > 0) TextReport.Wrap(o, "           ", UndecodedSentence(s), width);
    }

    /// <summary>"47 packets in an encapsulation PathProbe does not decode: IPsec ESP (encrypted: ...) 47, ..."</summary>
    private static string UndecodedSentence(Sums s)
    {
        var reasons = new List<string>();
        foreach (var kv in s.Undecoded.OrderByDescending(kv => kv.Value))
        {
            var reason = Enum.GetValues<UndecodedReason>().First(r => UndecodedReasons.Name(r) == kv.Key);
            string text = $"{UndecodedReasons.Describe(reason)} {N(kv.Value)}";
            if (HasDetail(reason))
            {
                var values = s.Details.Where(d => d.Key.Item1 == reason).OrderByDescending(d => d.Value).Take(5)
                    .Select(d => $"0x{d.Key.Item2.ToString("x4", Inv)} ×{N(d.Value)}").ToList();
                if (values.Count > 0) text += " (" + string.Join(", ", values) + ")";
            }
            reasons.Add(text);
        }
        return $"{Packets(s.UndecodedTotal)} in an encapsulation PathProbe does not decode: " + string.Join("; ", reasons);
    }

    private static bool HasDetail(UndecodedReason r) =>
        r is UndecodedReason.GreProtocol or UndecodedReason.GeneveProtocol or UndecodedReason.PppProtocol or UndecodedReason.PppCompressed or UndecodedReason.Erspan;

    /// <summary>Whether any of these flows has an encapsulation (the flow table then shows the ENCAP column).</summary>
    public static bool AnyEncapsulated(IEnumerable<Flow> flows) =>
        flows.Any(f => !f.ClientToServer.Encap.IsEmpty || !f.ServerToClient.Encap.IsEmpty);

    public const string ColumnHeader = "ENCAP";

    /// <summary>The flow table cell: "ipv4/gre +24", "vlan×2/pppoe +8", "vlan"; both directions when they differ
    /// ("ipv4/gre +24 | -"), and "*" when packets of a direction arrived in another encapsulation too.</summary>
    public static string Column(Flow f)
    {
        string c = Cell(in f.ClientToServer.Encap), s = Cell(in f.ServerToClient.Encap);
        bool sameOrOneSided = c == s || f.ServerToClient.Packets == 0 || f.ClientToServer.Packets == 0;
        string text = sameOrOneSided ? (f.ClientToServer.Packets == 0 ? s : c) : $"{c} | {s}";
        if (f.ClientToServer.EncapChanges + f.ServerToClient.EncapChanges > 0) text += "*";
        return text;
    }

    private static string Cell(in Encapsulation e) =>
        e.IsEmpty ? "-" : e.MtuOverhead > 0 ? $"{e} +{e.MtuOverhead.ToString(Inv)}" : e.ToString();

    /// <summary>Why there are no flows, when encapsulation explains it.</summary>
    public static string? NoFlowsNote(IReadOnlyList<CaptureAnalysis> analyses)
    {
        long undecoded = analyses.Sum(a => a.Decode.UndecodedTotal);
        return undecoded > 0 ? $" ({Packets(undecoded)} in an encapsulation PathProbe does not decode, see Tunnels above)" : null;
    }

    private static string Packets(long n) => n == 1 ? "1 packet" : $"{N(n)} packets";
}
