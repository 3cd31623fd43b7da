using System.Globalization;
using PathProbe.Findings;
using PathProbe.Flows.Timeline;

namespace PathProbe.Cli.Tui.Model;

public enum GraphKind : byte { Sequence, Sizes, Throughput, Rtt }

/// <summary>The visible time window of a flow's graphs: zoom (1 = the whole flow) and pan, shared by all four graphs.</summary>
public sealed class TimeWindow
{
    public const double MaxZoom = 65536;

    public double Zoom { get; private set; } = 1;
    /// <summary>Start of the window as a share of the flow's duration.</summary>
    public double Pan { get; private set; }

    public void Reset() { Zoom = 1; Pan = 0; }

    /// <summary>Zooms by <paramref name="factor"/> keeping the time at <paramref name="anchor"/> (0..1 across the window) in place.</summary>
    public void ZoomBy(double factor, double anchor = 0.5)
    {
        double z = Math.Clamp(Zoom * factor, 1, MaxZoom);
        double at = Pan + anchor / Zoom;
        Zoom = z;
        PanTo(at - anchor / Zoom);
    }

    /// <summary>Moves the window by a share of its own width (negative: earlier).</summary>
    public void PanBy(double windows) => PanTo(Pan + windows / Zoom);

    public void PanTo(double pan) => Pan = Math.Clamp(pan, 0, 1 - 1 / Zoom);

    public (long From, long To) Range(long start, long end)
    {
        long duration = Math.Max(1_000_000, end - start);
        long from = start + (long)(Pan * duration);
        return (from, from + (long)(duration / Zoom));
    }
}

/// <summary>
/// Builds the flow view's four graphs from a <see cref="FlowDetail"/>: time-sequence (Stevens/tcptrace), packet
/// sizes against MSS and the path-MTU ceiling, throughput, and RTT; each with the SMTP steps on the time axis and the
/// stalls and findings of the flow's verdicts. Pure: the same detail and window give the same plot.
/// </summary>
public static class Graphs
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static string Name(GraphKind k) => k switch
    {
        GraphKind.Sequence => "time-sequence", GraphKind.Sizes => "packet sizes", GraphKind.Throughput => "throughput", _ => "RTT",
    };

    public static Plot Build(GraphKind kind, FlowDetail d, bool clientToServer, TimeWindow window, int dotColumns)
    {
        var (from, to) = window.Range(d.Start, d.End);
        string dir = clientToServer ? $"{d.Row.Client} → {d.Row.Server}" : $"{d.Row.Server} → {d.Row.Client}";
        var plot = kind switch
        {
            GraphKind.Sequence => Sequence(d, clientToServer, from, to, dir),
            GraphKind.Sizes => Sizes(d, clientToServer, from, to, dir),
            GraphKind.Throughput => Throughput(d, clientToServer, from, to, dir, dotColumns),
            _ => Rtt(d, clientToServer, from, to, dir),
        };
        Decorate(plot, d);
        if (d.PacketsPerPoint > 1) plot.Legend.Add((Ink.None, $"({d.PacketsPerPoint} packets a point)"));
        return plot;
    }

    /// <summary>SMTP steps, the body, stalls (from the stall verdicts' own times) and findings on the time axis.</summary>
    private static void Decorate(Plot plot, FlowDetail d)
    {
        plot.Marks.AddRange(d.Marks);
        long body = 0;
        foreach (var m in d.Marks)
        {
            if (m.Symbol == '3') body = m.Time;
            else if (m.Symbol == '.' && body > 0) { plot.Bodies.Add((body, m.Time)); body = 0; }
        }
        if (body > 0) plot.Bodies.Add((body, d.End));
        foreach (var v in d.Verdicts)
        {
            foreach (var st in v.Stalls)
                if (st.Flow == d.Row.Id && st.End > st.Start) plot.Stalls.Add((st.Start, st.End));
            plot.Findings.Add((v.Time, v.Severity switch { Severity.Critical => Ink.Critical, Severity.Warning => Ink.Warning, _ => Ink.Info }));
        }
        if (plot.Stalls.Count > 0) plot.Legend.Add((Ink.Stall, "stall (finding)"));
        if (d.Marks.Count > 0) plot.Legend.Add((Ink.Phase, "SMTP (? keys)"));
    }

    private static ref readonly TimelineDirection Dir(in TimelinePoint p, bool c2s) => ref c2s ? ref p.ClientToServer : ref p.ServerToClient;

    // ---- time-sequence -------------------------------------------------------------------------------------------------

    private static Plot Sequence(FlowDetail d, bool c2s, long from, long to, string dir)
    {
        double lo = double.MaxValue, hi = double.MinValue;
        uint carriedAck = 0, carriedWin = 0;
        foreach (ref readonly var p in d.Points.AsSpan())
        {
            ref readonly var x = ref Dir(p, c2s);
            if (p.End < from)
            {
                if (x.AckHigh > carriedAck) carriedAck = x.AckHigh;
                if (x.WindowEdge > carriedWin) carriedWin = x.WindowEdge;
                continue;
            }
            if (p.Start > to) break;
            if (x.DataSegments > 0) { lo = Math.Min(lo, x.SeqLow); hi = Math.Max(hi, x.SeqHigh); }
            if (x.AckHigh > 0) { lo = Math.Min(lo, x.AckHigh); hi = Math.Max(hi, x.AckHigh); }
            if (x.SackHigh > 0) { lo = Math.Min(lo, x.SackLow); hi = Math.Max(hi, x.SackHigh); }
        }
        if (carriedAck > 0) { lo = Math.Min(lo, carriedAck); hi = Math.Max(hi, carriedAck); }
        if (lo == double.MaxValue) { lo = 0; hi = 1; }
        if (hi <= lo) hi = lo + 1;
        // The receive-window line is part of the picture (tcptrace draws it) unless it would squeeze the data into a
        // small band: then it leaves the top, and a note says so.
        double edge = carriedWin;
        foreach (ref readonly var p in d.Points.AsSpan())
        {
            if (p.End < from) continue;
            if (p.Start > to) break;
            edge = Math.Max(edge, Dir(p, c2s).WindowEdge);
        }
        if (edge > hi && edge - lo <= 2.5 * (hi - lo)) hi = edge;
        // A little headroom so the window line shows when it is just above the data.
        double pad = (hi - lo) * 0.05;
        var plot = new Plot
        {
            Title = $"time-sequence {dir}", From = from, To = to, Origin = d.Start,
            YMin = Math.Max(0, lo - pad), YMax = hi + pad, YLabel = PlotRenderer.Bytes,
        };
        var ack = new List<(long, double)>();
        var win = new List<(long, double)>();
        if (carriedAck > 0) ack.Add((from, carriedAck));
        if (carriedWin > 0) win.Add((from, carriedWin));
        uint maxAck = carriedAck, maxWin = carriedWin;
        bool resent = false, sack = false, windowAbove = false;
        foreach (ref readonly var p in d.Points.AsSpan())
        {
            if (p.End < from) continue;
            if (p.Start > to) break;
            ref readonly var x = ref Dir(p, c2s);
            if (x.DataSegments > 0)
            {
                bool r = x.Retransmissions > 0;
                resent |= r;
                plot.Bars.Add(new PlotBar(p.End, x.SeqLow, x.SeqHigh, r ? Ink.Resent : Ink.Data));
            }
            if (x.SackHigh > 0) { sack = true; plot.Bars.Add(new PlotBar(p.End, x.SackLow, x.SackHigh, Ink.Sack)); }
            if (x.AckHigh > maxAck) { maxAck = x.AckHigh; ack.Add((p.End, maxAck)); }
            if (x.WindowEdge > maxWin) { maxWin = x.WindowEdge; win.Add((p.End, maxWin)); windowAbove |= maxWin > plot.YMax; }
        }
        if (win.Count > 0) plot.Steps.Add((Ink.Window, win));
        if (ack.Count > 0) plot.Steps.Add((Ink.Ack, ack));
        plot.Legend.Add((Ink.Data, "data"));
        if (resent) plot.Legend.Add((Ink.Resent, "resent"));
        plot.Legend.Add((Ink.Ack, "ACK"));
        if (win.Count > 0) plot.Legend.Add((Ink.Window, "receive window"));
        if (sack) plot.Legend.Add((Ink.Sack, "SACK"));
        if (windowAbove) plot.Note = "the receive window is above the top (far larger than the data drawn)";
        return plot;
    }

    // ---- packet sizes --------------------------------------------------------------------------------------------------

    private static Plot Sizes(FlowDetail d, bool c2s, long from, long to, string dir)
    {
        var facts = d.Direction(c2s);
        int mssPacket = facts.MssPacket, ceiling = d.Ceiling;
        int top = Math.Max(Math.Max(mssPacket, ceiling), 1);
        foreach (ref readonly var p in d.Points.AsSpan()) top = Math.Max(top, Dir(p, c2s).MaxIpPacket);
        var plot = new Plot
        {
            Title = $"IP packet sizes {dir}", From = from, To = to, Origin = d.Start,
            YMin = 0, YMax = Math.Ceiling(top * 1.08), YLabel = v => v.ToString("0", Inv),
        };
        bool resent = false;
        foreach (ref readonly var p in d.Points.AsSpan())
        {
            if (p.End < from) continue;
            if (p.Start > to) break;
            ref readonly var x = ref Dir(p, c2s);
            if (x.DataSegments == 0) continue;
            plot.Dots.Add(new PlotBar(p.End, x.MaxIpPacket, x.MaxIpPacket, Ink.Data));
            if (x.MaxResentIpPacket > 0) { resent = true; plot.Dots.Add(new PlotBar(p.End, x.MaxResentIpPacket, x.MaxResentIpPacket, Ink.Resent)); }
        }
        if (ceiling > 0) plot.Rules.Add(new PlotRule(ceiling, Ink.Ceiling, "path-MTU ceiling"));
        if (mssPacket > 0) plot.Rules.Add(new PlotRule(mssPacket, Ink.Mss, "MSS as a packet"));
        plot.Legend.Add((Ink.Data, "data packet"));
        if (resent) plot.Legend.Add((Ink.Resent, "resent"));
        if (ceiling > 0) plot.Legend.Add((Ink.Ceiling, $"ceiling ≥{ceiling} lost"));
        if (mssPacket > 0) plot.Legend.Add((Ink.Mss, $"MSS {facts.Mss}+{facts.HeaderBytes}={mssPacket}"));
        return plot;
    }

    // ---- throughput ----------------------------------------------------------------------------------------------------

    private static Plot Throughput(FlowDetail d, bool c2s, long from, long to, string dir, int dotColumns)
    {
        int buckets = Math.Max(1, dotColumns);
        double width = Math.Max(1, to - from) / (double)buckets;
        var sent = new double[buckets];
        var acked = new double[buckets];
        uint ack = 0;
        foreach (ref readonly var p in d.Points.AsSpan())
        {
            ref readonly var x = ref Dir(p, c2s);
            uint before = ack;
            if (x.AckHigh > ack) ack = x.AckHigh;
            if (p.End < from || p.Start > to) continue;
            int b = Math.Clamp((int)((p.End - from) / width), 0, buckets - 1);
            sent[b] += x.PayloadBytes;
            if (before > 0) acked[b] += ack - before;
        }
        double seconds = width / 1e9, max = 1;
        for (int i = 0; i < buckets; i++)
        {
            sent[i] = sent[i] * 8 / seconds;
            acked[i] = acked[i] * 8 / seconds;
            max = Math.Max(max, Math.Max(sent[i], acked[i]));
        }
        var plot = new Plot
        {
            Title = $"throughput {dir}", From = from, To = to, Origin = d.Start,
            YMin = 0, YMax = max * 1.05, YLabel = PlotRenderer.Bits,
        };
        for (int i = 0; i < buckets; i++)
        {
            long t = from + (long)((i + 0.5) * width);
            if (sent[i] > 0) plot.Bars.Add(new PlotBar(t, 0, sent[i], Ink.Throughput));
            if (acked[i] > 0) plot.Dots.Add(new PlotBar(t, acked[i], acked[i], Ink.Goodput));
        }
        plot.Legend.Add((Ink.Throughput, "bit/s sent"));
        plot.Legend.Add((Ink.Goodput, "bit/s acked"));
        plot.Legend.Add((Ink.None, $"bucket {FlowRows.Duration((long)width)}"));
        return plot;
    }

    // ---- RTT -----------------------------------------------------------------------------------------------------------

    private static Plot Rtt(FlowDetail d, bool c2s, long from, long to, string dir)
    {
        var facts = d.Direction(c2s);
        double max = double.IsNaN(facts.RttMedianMs) ? 1 : facts.RttMedianMs;
        foreach (ref readonly var p in d.Points.AsSpan()) max = Math.Max(max, Dir(p, c2s).RttMaxMicros / 1000.0);
        var plot = new Plot
        {
            Title = $"RTT of {dir} data", From = from, To = to, Origin = d.Start,
            YMin = 0, YMax = max * 1.1, YLabel = PlotRenderer.Millis,
        };
        int samples = 0;
        foreach (ref readonly var p in d.Points.AsSpan())
        {
            if (p.End < from) continue;
            if (p.Start > to) break;
            ref readonly var x = ref Dir(p, c2s);
            if (x.RttMaxMicros == 0) continue;
            samples++;
            plot.Dots.Add(new PlotBar(p.End, x.RttMaxMicros / 1000.0, x.RttMaxMicros / 1000.0, Ink.Rtt));
        }
        if (!double.IsNaN(facts.RttMedianMs)) plot.Rules.Add(new PlotRule(facts.RttMedianMs, Ink.Median, "median"));
        plot.Legend.Add((Ink.Rtt, "RTT sample (ms)"));
        if (!double.IsNaN(facts.RttMedianMs))
            plot.Legend.Add((Ink.Median, $"median {FlowRows.RttText(facts.RttMedianMs)} ms, {FlowRows.N(facts.RttSamples)} samples"));
        if (facts.RttSamples == 0) plot.Note = "no RTT samples for this direction (Karn's rule skips resent data; timestamps give samples when both sides send them)";
        else if (samples == 0) plot.Note = "no RTT sample in this time window";
        return plot;
    }
}
