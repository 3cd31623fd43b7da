using System.Globalization;
using System.Text;
using PathProbe.Findings;
using PathProbe.Flows.Timeline;
using PathProbe.Primitives;

namespace PathProbe.Cli.Tui;

/// <summary>
/// Renders a <see cref="TuiApp"/> (its snapshot and UI state) into exactly <c>height</c> lines of at most
/// <c>width</c> cells. Pure: no console, no engine; the host turns the lines into Spectre markup.
/// </summary>
public static class TuiView
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;
    public const int MinWidth = 40, MinHeight = 12;

    public static List<StyledLine> Render(TuiApp app, int width, int height)
    {
        width = Math.Max(MinWidth, width);
        height = Math.Max(MinHeight, height);
        var lines = new List<StyledLine>(height);
        Header(app, width, lines);
        int body = height - lines.Count - 1;
        if (app.Help) HelpView(width, body, lines);
        else if (app.Mode == TuiMode.Flows) FlowList(app, width, body, lines);
        else if (app.Mode == TuiMode.Findings) FindingsView(app, width, body, lines);
        else FlowView(app, width, body, lines);
        while (lines.Count < height - 1) lines.Add(new StyledLine(width));
        if (lines.Count > height - 1) lines.RemoveRange(height - 1, lines.Count - (height - 1));
        lines.Add(Footer(app, width));
        return lines;
    }

    // ---- header and footer ----------------------------------------------------------------------------------------

    private static void Header(TuiApp app, int width, List<StyledLine> lines)
    {
        var s = app.Snapshot;
        var items = new List<(string Text, string? Style)>
        {
            ("PathProbe", "bold"),
            (SafeText.Clean(s.Source, 120), null),
            ($"{s.Packets.ToString("#,0", Inv)} packets", null),
        };
        if (s.Live)
        {
            items.Add(($"{s.PacketsPerSecond.ToString("#,0", Inv)} pkt/s", null));
            items.Add((s.Drops < 0 ? "drops ?" : $"{s.Drops.ToString("#,0", Inv)} dropped", s.Drops > 0 ? "red" : null));
        }
        items.Add(($"{s.Rows.Count.ToString("#,0", Inv)} flows", null));
        int crit = s.CountBySeverity(Severity.Critical), warn = s.CountBySeverity(Severity.Warning), info = s.CountBySeverity(Severity.Info);
        items.Add(($"findings {crit} critical {warn} warning {info} info", crit > 0 ? "red" : warn > 0 ? "yellow" : null));
        items.Add(($"{Seconds(s.Elapsed.Ticks * 100)} elapsed", null));
        if (s.Running) items.Add((s.Live ? "capturing" : "analysing…", "green"));
        if (app.Paused) items.Add(("PAUSED", "black on yellow"));

        var line = new StyledLine(width);
        lines.Add(line);
        foreach (var (text, style) in items)
        {
            if (line.Length > 0 && line.Length + 3 + text.Length > width && lines.Count < 2) { line = new StyledLine(width); lines.Add(line); }
            if (line.Length > 0) line.Add(" │ ", "grey");
            line.Add(text, style);
        }
        if (lines.Count < 2) lines.Add(new StyledLine(width));
        var tabs = lines[1];
        if (tabs.Length > 0) tabs.Add(" │ ", "grey");
        tabs.Add(app.Mode == TuiMode.Findings ? " Flows " : "[Flows]", app.Mode == TuiMode.Findings ? "grey" : "bold");
        tabs.Add(" ");
        tabs.Add(app.Mode == TuiMode.Findings ? "[Findings]" : " Findings ", app.Mode == TuiMode.Findings ? "bold" : "grey");
        tabs.Add($"  sort: {SortName(app.Sort)}");
        if (app.Filter.Length > 0) tabs.Add("  filter: ").Add(SafeText.Clean(app.Filter), "yellow").Add($" ({app.VisibleRows.Count.ToString("#,0", Inv)} match)");
    }

    private static StyledLine Footer(TuiApp app, int width)
    {
        var line = new StyledLine(width);
        if (app.FilterDraft is not null)
            return line.Add("/", "bold").Add(SafeText.Clean(app.FilterDraft)).Add("█").Add("   Enter apply  Esc cancel  (address, port, kind, state)", "grey");
        if (app.Message is not null) return line.Add(app.Message, "yellow");
        string keys = app.Help ? "any key: back  q quit"
            : app.Mode switch
            {
                TuiMode.Flows => "↑↓ PgUp/PgDn Home/End move  Enter open  Tab findings  / filter  s sort  p pause  w write  ? help  q quit",
                TuiMode.Findings => "↑↓ move  Enter open flow  Tab flows  w write  p pause  ? help  q quit",
                _ => "Tab pane  +/- zoom  ←→ pan  ↑↓ PgUp/PgDn scroll  Esc back  w write  p pause  ? help  q quit",
            };
        return line.Add(keys, "grey");
    }

    private static void HelpView(int width, int height, List<StyledLine> lines)
    {
        string[] help =
        {
            "Keys",
            "  ↑ ↓ PgUp PgDn Home End   move in the list; scroll the focused pane of a flow",
            "  Enter                    open the selected flow (in Findings: the group's first flow)",
            "  Tab                      flows ↔ findings; in a flow: timeline → findings → transcript",
            "  /                        filter flows by text: address, port, kind, state (Enter applies, Esc cancels)",
            "  s                        sort: severity (worst first), bytes, retransmissions, start",
            "  + -  (↑ ↓ on the timeline) zoom the timeline in time; ← → pan; Home/End jump",
            "  p                        pause live updates (capture and analysis go on)",
            "  w                        write the capture so far to a pcapng file in the current directory",
            "  Esc                      back to the flow list;  q  quit",
            "",
            "Timeline (time-sequence graph of the direction that sends more data)",
            "  green: data sent   red: retransmitted   yellow: highest acknowledged",
            "  marks: G greeting E EHLO M MAIL R RCPT D DATA . end of data Q QUIT T STARTTLS ! finding ░ stall (silence, data outstanding)",
            "Segment sizes: IP packet bytes of data packets; ┄ MSS as a packet size; ━ path-MTU ceiling (nothing at or above got through)",
        };
        foreach (var h in help)
        {
            if (lines.Count >= height + 2) break;
            lines.Add(new StyledLine(width).Add(h, h.StartsWith(' ') || h.Length == 0 ? null : "bold"));
        }
    }

    // ---- flow list -------------------------------------------------------------------------------------------------

    private sealed record Column(string Title, int Width, int Priority, bool Right, Func<FlowRow, string> Value);

    private static readonly Column[] Columns =
    {
        new("", 2, 0, false, _ => ""),
        new("#", 6, 6, true, r => r.Id.ToString(Inv)),
        new("client", 21, 0, false, r => r.Client),
        new("server", 21, 0, false, r => r.Server),
        new("application", 0, 1, false, r => r.Application.Length > 0 ? r.Application : r.Protocol),
        new("state", 8, 0, false, r => r.State),
        new("bytes", 7, 0, true, r => Bytes(r.Bytes)),
        new("retr", 6, 0, true, r => r.RetransmissionShare > 0 ? (r.RetransmissionShare * 100).ToString(r.RetransmissionShare < 0.1 ? "0.0" : "0", Inv) + "%" : "-"),
        new("seg/mss", 11, 3, true, r => r.MaxSegment == 0 && r.Mss == 0 ? "-" : $"{r.MaxSegment}/{(r.Mss > 0 ? r.Mss.ToString(Inv) : "?")}"),
        new("rtt", 8, 4, true, r => double.IsNaN(r.RttMs) ? "-" : r.RttMs < 10 ? r.RttMs.ToString("0.00", Inv) + "ms" : r.RttMs.ToString("0", Inv) + "ms"),
        new("start", 12, 5, true, _ => ""),
    };

    private static void FlowList(TuiApp app, int width, int height, List<StyledLine> lines)
    {
        var rows = app.VisibleRows;
        // Columns by priority while they fit, with at least 12 cells for the application.
        var chosen = new List<Column>();
        int used = 0;
        foreach (var prio in Columns.Select(c => c.Priority).Distinct().OrderBy(p => p))
        {
            var add = Columns.Where(c => c.Priority == prio).ToList();
            int w = add.Sum(c => c.Width + 1);
            if (prio > 1 && used + w + 12 > width) continue;
            chosen.AddRange(add);
            used += w;
        }
        chosen = Columns.Where(chosen.Contains).ToList();
        int appWidth = Math.Max(8, width - used);
        long first = app.Snapshot.Rows.Count > 0 ? app.Snapshot.Rows.Min(r => r.Start) : 0;

        var head = new StyledLine(width);
        foreach (var c in chosen) Cell(head, c.Title, c.Width == 0 ? appWidth : c.Width, c.Right, "bold underline");
        lines.Add(head);

        int visible = Math.Max(1, height - 1);
        app.PageRows = visible;
        int sel = app.SelectedIndex;
        if (sel >= 0)
        {
            if (sel < app.ListTop) app.ListTop = sel;
            if (sel >= app.ListTop + visible) app.ListTop = sel - visible + 1;
        }
        app.ListTop = Math.Clamp(app.ListTop, 0, Math.Max(0, rows.Count - visible));
        if (rows.Count == 0)
        {
            lines.Add(new StyledLine(width).Add(app.Filter.Length > 0 ? "no flow matches the filter (Esc clears it)" : app.Snapshot.Running ? "no flows yet" : "no flows", "grey"));
            return;
        }
        for (int i = app.ListTop; i < Math.Min(rows.Count, app.ListTop + visible); i++)
        {
            var r = rows[i];
            bool selected = i == sel;
            var line = new StyledLine(width);
            foreach (var c in chosen)
            {
                int w = c.Width == 0 ? appWidth : c.Width;
                if (c.Title == "") { line.Add(Marker(r.Severity).PadRight(w), selected ? "reverse" : SeverityStyle(r.Severity)); continue; }
                string v = c.Title == "start" ? "+" + Seconds(r.Start - first) : SafeText.Clean(c.Value(r));
                string? style = selected ? "reverse" : c.Title == "state" && r.State is "stalled" or "reset" or "refused" ? "red"
                    : c.Title == "retr" && r.RetransmissionShare >= 0.05 ? "red" : null;
                Cell(line, v, w, c.Right, style);
            }
            lines.Add(line);
        }
    }

    private static void Cell(StyledLine line, string text, int width, bool right, string? style)
    {
        if (text.Length > width) text = width > 1 ? text[..(width - 1)] + "…" : text[..width];
        line.Add(right ? text.PadLeft(width) : text.PadRight(width), style);
        line.Add(" ", style == "reverse" ? style : null);
    }

    private static string Marker(int severity) => severity switch { 2 => "!!", 1 => "! ", 0 => "i ", _ => "  " };
    private static string? SeverityStyle(int severity) => severity switch { 2 => "bold red", 1 => "yellow", 0 => "blue", _ => null };

    // ---- findings across flows -------------------------------------------------------------------------------------

    private static void FindingsView(TuiApp app, int width, int height, List<StyledLine> lines)
    {
        var groups = app.Groups;
        if (groups.Count == 0) { lines.Add(new StyledLine(width).Add("no findings", "grey")); return; }
        int listRows = Math.Max(3, Math.Min(groups.Count + 1, height / 2));
        var head = new StyledLine(width);
        Cell(head, "", 2, false, "bold underline");
        Cell(head, "kind", 22, false, "bold underline");
        Cell(head, "peer", 24, false, "bold underline");
        Cell(head, "count", 6, true, "bold underline");
        Cell(head, "latest", Math.Max(4, width - 58), false, "bold underline");
        lines.Add(head);
        int visible = listRows - 1;
        int sel = Math.Min(app.GroupSelected, groups.Count - 1);
        if (sel < app.GroupTop) app.GroupTop = sel;
        if (sel >= app.GroupTop + visible) app.GroupTop = sel - visible + 1;
        app.PageRows = visible;
        for (int i = app.GroupTop; i < Math.Min(groups.Count, app.GroupTop + visible); i++)
        {
            var g = groups[i];
            string? st = i == sel ? "reverse" : null;
            var line = new StyledLine(width);
            Cell(line, Marker((int)g.Worst), 2, false, st ?? SeverityStyle((int)g.Worst));
            Cell(line, g.Kind, 22, false, st);
            Cell(line, SafeText.Clean(g.Peer), 24, false, st);
            Cell(line, g.Findings.Count.ToString(Inv), 6, true, st);
            Cell(line, SafeText.Clean(g.Findings[^1].Summary), Math.Max(4, width - 58), false, st);
            lines.Add(line);
        }
        lines.Add(new StyledLine(width).Add(new string('─', width), "grey"));
        var selected = groups[sel];
        int room = height - listRows - 1;
        var text = new List<StyledLine>();
        foreach (var f in selected.Findings)
        {
            FindingLines(f, width, text);
            if (text.Count >= room) break;
        }
        lines.AddRange(text.Take(room));
    }

    // ---- one flow --------------------------------------------------------------------------------------------------

    private static void FlowView(TuiApp app, int width, int height, List<StyledLine> lines)
    {
        var d = app.Snapshot.Detail;
        if (d is null || d.Row.Id != app.OpenFlowId)
        {
            lines.Add(new StyledLine(width).Add($"flow #{app.OpenFlowId}: loading…", "grey"));
            return;
        }
        var r = d.Row;
        var title = new StyledLine(width);
        title.Add(Marker(r.Severity), SeverityStyle(r.Severity)).Add($"#{r.Id} {r.Protocol} ", "bold")
            .Add(SafeText.Clean(r.Client)).Add(" → ").Add(SafeText.Clean(r.Server))
            .Add("  ").Add(SafeText.Clean(r.Application), "cyan").Add("  " + r.State, r.State is "stalled" or "reset" ? "red" : null)
            .Add($"  {Bytes(r.Bytes)}B  {r.Packets.ToString("#,0", Inv)} pkts");
        lines.Add(title);
        height--;

        int graphRows = Math.Max(3, (int)(height * (height >= 30 ? 0.5 : 0.45)) - 3);
        var graph = new List<StyledLine>();
        if (d.NoTimeline is not null || d.Points.Length == 0)
        {
            graph.Add(new StyledLine(width).Add(d.NoTimeline ?? "no packets in the timeline", "grey"));
        }
        else
        {
            int sizeWidth = width >= 100 ? width * 38 / 100 : Math.Max(24, width * 36 / 100);
            int seqWidth = width - sizeWidth - 1;
            var window = TimeWindow(d, app.Zoom, app.Pan);
            var seq = SequenceGraph(d, window, seqWidth, graphRows, app.Focus == FlowPane.Timeline, app.Zoom);
            var size = SizeGraph(d, window, sizeWidth, graphRows);
            for (int i = 0; i < Math.Max(seq.Count, size.Count); i++)
            {
                var line = new StyledLine(width);
                if (i < seq.Count) Append(line, seq[i]);
                line.Pad(seqWidth + 1);
                if (i < size.Count) Append(line, size[i]);
                graph.Add(line);
            }
            graph.Add(Legend(d, width));
        }
        lines.AddRange(graph);
        int rest = height - graph.Count;
        if (rest < 2) return;

        var findings = new List<StyledLine>();
        foreach (var f in d.Findings) FindingLines(f, width >= 120 ? width / 2 - 1 : width, findings);
        if (d.Findings.Count == 0) findings.Add(new StyledLine(width).Add("no findings for this flow", "grey"));
        var transcript = TranscriptLines(d, width >= 120 ? width - width / 2 : width);

        if (width >= 120)
        {
            int left = width / 2 - 1;
            var fl = Pane($"Findings ({d.Findings.Count})", findings, app.FindingsScroll, rest, left, app.Focus == FlowPane.Findings, s => app.FindingsScroll = s);
            var tr = Pane($"SMTP transcript ({d.Transcript.Count} lines)", transcript, app.TranscriptScroll, rest, width - left - 1, app.Focus == FlowPane.Transcript, s => app.TranscriptScroll = s);
            for (int i = 0; i < rest; i++)
            {
                var line = new StyledLine(width);
                if (i < fl.Count) Append(line, fl[i]);
                line.Pad(left).Add("│", "grey");
                if (i < tr.Count) Append(line, tr[i]);
                lines.Add(line);
            }
        }
        else
        {
            int top = Math.Max(2, rest / 2);
            lines.AddRange(Pane($"Findings ({d.Findings.Count})", findings, app.FindingsScroll, top, width, app.Focus == FlowPane.Findings, s => app.FindingsScroll = s));
            lines.AddRange(Pane($"SMTP transcript ({d.Transcript.Count} lines)", transcript, app.TranscriptScroll, rest - top, width, app.Focus == FlowPane.Transcript, s => app.TranscriptScroll = s));
        }
    }

    private static List<StyledLine> Pane(string title, List<StyledLine> content, int scroll, int height, int width, bool focused, Action<int> clamp)
    {
        var result = new List<StyledLine>();
        int room = Math.Max(0, height - 1);
        int max = Math.Max(0, content.Count - room);
        if (scroll > max) { scroll = max; clamp(max); }
        string more = content.Count > room ? $" {scroll + 1}-{Math.Min(content.Count, scroll + room)}/{content.Count}" : "";
        result.Add(new StyledLine(width).Add((focused ? "▶ " : "  ") + title + more, focused ? "bold reverse" : "bold"));
        result.AddRange(content.Skip(scroll).Take(room));
        return result;
    }

    private static void Append(StyledLine into, StyledLine from)
    {
        // Re-adds the runs of another line (its markup is built from runs, so copy through Plain per run).
        foreach (var (t, s) in from.Runs) into.Add(t, s);
    }

    private readonly record struct Window(long From, long To)
    {
        public double X(long t, int dots) => (double)(t - From) / Math.Max(1, To - From) * (dots - 1);
    }

    private static Window TimeWindow(FlowDetail d, double zoom, double pan)
    {
        long dur = Math.Max(1_000_000, d.End - d.Start);
        long from = d.Start + (long)(pan * dur);
        return new Window(from, from + (long)(dur / zoom));
    }

    private const string DataStyle = "green", RetransStyle = "bold red", AckStyle = "yellow", MssStyle = "cyan", CeilingStyle = "magenta";

    private static List<StyledLine> SequenceGraph(FlowDetail d, Window w, int width, int rows, bool focused, double zoom)
    {
        const int gutter = 6;
        var c = new BrailleCanvas(width - gutter, rows);
        // Y range over the points in the window (and the ACK level carried into it).
        long lo = long.MaxValue, hi = 0, carriedAck = 0;
        foreach (ref readonly var p in d.Points.AsSpan())
        {
            ref readonly var dir = ref d.ClientSends ? ref p.ClientToServer : ref p.ServerToClient;
            if (p.End < w.From) { if (dir.AckHigh > carriedAck) carriedAck = dir.AckHigh; continue; }
            if (p.Start > w.To) break;
            if (dir.DataSegments > 0) { lo = Math.Min(lo, dir.SeqLow); hi = Math.Max(hi, dir.SeqHigh); }
            if (dir.AckHigh > 0) { lo = Math.Min(lo, dir.AckHigh); hi = Math.Max(hi, dir.AckHigh); }
        }
        if (carriedAck > 0) { lo = Math.Min(lo, carriedAck); hi = Math.Max(hi, carriedAck); }
        if (lo == long.MaxValue) { lo = 0; hi = 1; }
        if (hi <= lo) hi = lo + 1;
        int Y(long v) => (int)Math.Round((double)(v - lo) / (hi - lo) * (c.DotsY - 1));

        long ack = carriedAck;
        int ackX = 0;
        long lastTime = w.From, lastSent = 0;
        var stalls = new List<(long From, long To)>();
        foreach (ref readonly var p in d.Points.AsSpan())
        {
            ref readonly var dir = ref d.ClientSends ? ref p.ClientToServer : ref p.ServerToClient;
            // A silence of a second or more while data was outstanding is a stall.
            if (p.Start - lastTime >= FlowTimeline.SilenceNanos && lastSent > ack) stalls.Add((lastTime, p.Start));
            lastTime = p.End;
            if (dir.DataSegments > 0) lastSent = Math.Max(lastSent, dir.SeqHigh);
            if (p.End < w.From) continue;
            if (p.Start > w.To) break;
            int x = (int)Math.Round(w.X(p.End, c.DotsX));
            if (dir.AckHigh > 0)
            {
                if (ack > 0) c.HLine(ackX, x, Y(ack), AckStyle, 1);
                c.VLine(x, Y(Math.Max(ack, lo)), Y(Math.Max(ack, dir.AckHigh)), AckStyle, 1);
                ack = Math.Max(ack, dir.AckHigh);
                ackX = x;
            }
            if (dir.DataSegments > 0)
                c.VLine(x, Y(dir.SeqLow), Y(dir.SeqHigh), dir.Retransmissions > 0 ? RetransStyle : DataStyle, dir.Retransmissions > 0 ? 3 : 2);
        }
        if (ack > 0) c.HLine(ackX, (int)Math.Round(w.X(Math.Min(d.End, w.To), c.DotsX)), Y(ack), AckStyle, 1);

        var lines = new List<StyledLine>();
        for (int row = 0; row < rows; row++)
        {
            var line = new StyledLine(width);
            string label = row == 0 ? Bytes(hi) : row == rows - 1 ? Bytes(lo) : "";
            line.Add(label.PadLeft(gutter - 1) + "┤", "grey");
            c.RenderRow(row, line);
            lines.Add(line);
        }
        lines.Add(MarksRow(d, w, gutter, c.Columns, width, stalls));
        lines.Add(AxisRow(d, w, gutter, c.Columns, width, (focused ? "▶ " : "") + (zoom > 1 ? $"×{zoom:0}" : "")));
        return lines;
    }

    private static List<StyledLine> SizeGraph(FlowDetail d, Window w, int width, int rows)
    {
        const int gutter = 6;
        var c = new BrailleCanvas(width - gutter, rows);
        int mssPacket = d.Mss > 0 ? d.Mss + d.HeaderBytes : 0;
        int top = Math.Max(Math.Max(mssPacket, d.Ceiling), 1);
        foreach (var p in d.Points)
        {
            var dir = d.ClientSends ? p.ClientToServer : p.ServerToClient;
            top = Math.Max(top, dir.MaxIpPacket);
        }
        top = (int)Math.Ceiling(top * 1.05);
        int Y(int v) => (int)Math.Round((double)v / top * (c.DotsY - 1));
        int Row(int v) => (c.DotsY - 1 - Y(v)) / 4;
        if (mssPacket > 0) c.RowLine(Row(mssPacket), '┄', MssStyle);
        if (d.Ceiling > 0) c.RowLine(Row(d.Ceiling), '━', CeilingStyle);
        foreach (var p in d.Points)
        {
            var dir = d.ClientSends ? p.ClientToServer : p.ServerToClient;
            if (dir.DataSegments == 0 || p.End < w.From || p.Start > w.To) continue;
            bool bad = dir.Retransmissions > 0 || (d.Ceiling > 0 && dir.MaxIpPacket >= d.Ceiling);
            c.Dot((int)Math.Round(w.X(p.End, c.DotsX)), Y(dir.MaxIpPacket), bad ? RetransStyle : DataStyle, bad ? 3 : 2);
        }
        var lines = new List<StyledLine>();
        for (int row = 0; row < rows; row++)
        {
            var line = new StyledLine(width);
            string label = row == 0 ? top.ToString(Inv) : row == rows - 1 ? "0" : "";
            if (d.Ceiling > 0 && row == Row(d.Ceiling)) label = d.Ceiling.ToString(Inv);
            else if (mssPacket > 0 && row == Row(mssPacket)) label = mssPacket.ToString(Inv);
            line.Add(label.PadLeft(gutter - 1) + "┤", "grey");
            c.RenderRow(row, line);
            lines.Add(line);
        }
        lines.Add(new StyledLine(width).Add(new string(' ', gutter) + "IP packet bytes of data", "grey"));
        lines.Add(AxisRow(d, w, gutter, c.Columns, width, ""));
        return lines;
    }

    private static readonly Dictionary<string, char> PhaseMarks = new(StringComparer.Ordinal)
    {
        ["greeting"] = 'G', ["ehlo"] = 'E', ["mail"] = 'M', ["rcpt"] = 'R', ["data"] = 'D',
        ["data-sent"] = '.', ["bdat"] = 'B', ["quit"] = 'Q', ["starttls"] = 'T', ["tls"] = 'L', ["auth"] = 'A',
    };

    private static StyledLine MarksRow(FlowDetail d, Window w, int gutter, int columns, int width, List<(long From, long To)> stalls)
    {
        var marks = new char[columns];
        var styles = new string?[columns];
        Array.Fill(marks, ' ');
        int Col(long t) => (int)Math.Round(w.X(t, columns));
        foreach (var (from, to) in stalls)
            for (int x = Math.Max(0, Col(from)); x <= Math.Min(columns - 1, Col(to)); x++) { marks[x] = '░'; styles[x] = "red"; }
        // Phases, then findings, each at its time or, when that cell already holds a mark, the next free one to the
        // right: a dialogue that runs in a few milliseconds of a long flow still reads "GEMRD!" in order.
        var taken = new bool[columns];
        void Put(long t, char m, string? style)
        {
            if (t < w.From || t > w.To) return;
            int x = Math.Clamp(Col(t), 0, columns - 1);
            while (x < columns - 1 && taken[x]) x++;
            marks[x] = m;
            styles[x] = style;
            taken[x] = true;
        }
        foreach (var p in d.Phases)
            if (p.Phase is not ("connect" or "ready" or "closed" or "data-command")) // states between steps, not steps: no mark
                Put(p.Time, PhaseMarks.TryGetValue(p.Phase, out char m) ? m : char.ToUpperInvariant(SafeText.Clean(p.Phase).FirstOrDefault('?')), "bold cyan");
        foreach (var f in d.Findings) Put(f.Time.UnixNanoseconds, '!', SeverityStyle((int)f.Severity));
        var line = new StyledLine(width).Add(new string(' ', gutter - 1) + "└", "grey");
        for (int i = 0; i < columns; i++) line.Add(marks[i].ToString(), styles[i]);
        return line;
    }

    private static StyledLine AxisRow(FlowDetail d, Window w, int gutter, int columns, int width, string tag)
    {
        string left = "+" + Seconds(w.From - d.Start), right = "+" + Seconds(w.To - d.Start);
        var line = new StyledLine(width).Add(new string(' ', gutter)).Add(left, "grey");
        int pad = columns - left.Length - right.Length - tag.Length;
        if (pad > 1) { line.Add(new string(' ', pad / 2)).Add(tag, "bold").Add(new string(' ', pad - pad / 2)); }
        else line.Add(" ");
        return line.Add(right, "grey");
    }

    private static StyledLine Legend(FlowDetail d, int width)
    {
        var line = new StyledLine(width);
        line.Add(d.ClientSends ? "client→server data " : "server→client data ", "grey");
        line.Add("⣿", DataStyle).Add(" sent ").Add("⣿", RetransStyle).Add(" resent ").Add("⣀", AckStyle).Add(" acked ");
        line.Add("░", "red").Add(" stall ");
        if (d.Mss > 0) line.Add("┄", MssStyle).Add($" MSS {d.Mss}+{d.HeaderBytes} ");
        if (d.Ceiling > 0) line.Add("━", CeilingStyle).Add($" path-MTU ceiling ≥{d.Ceiling} lost");
        if (d.PacketsPerPoint > 1) line.Add($" ({d.PacketsPerPoint} pkts/point)", "grey");
        return line;
    }

    private static void FindingLines(Finding f, int width, List<StyledLine> into)
    {
        string sev = FindingKinds.SeverityName(f.Severity);
        var first = new StyledLine(width).Add(Marker((int)f.Severity), SeverityStyle((int)f.Severity)).Add(sev + " ", SeverityStyle((int)f.Severity)).Add(f.Name, "bold");
        into.Add(first);
        Wrap("  ", SafeText.Clean(f.Summary, 2000), width, null, into);
        // Evidence can be long (storms list peers and reasons): three lines here; the JSON report has all of it.
        Wrap("  evidence: ", SafeText.Clean(EvidenceText(f), 2000), width, "grey", into, maxLines: 3);
        if (f.Advice is not null) Wrap("  advice: ", SafeText.Clean(f.Advice, 2000), width, "green", into);
    }

    /// <summary>The finding's evidence as the JSON report writes it (the kind's writer), compact.</summary>
    public static string EvidenceText(Finding f)
    {
        using var ms = new MemoryStream();
        using (var w = new System.Text.Json.Utf8JsonWriter(ms))
        {
            w.WriteStartObject();
            f.Kind.Writer().Evidence(new EvidenceWriter(w), f);
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(ms.GetBuffer(), 0, (int)ms.Length);
    }

    private static void Wrap(string prefix, string text, int width, string? style, List<StyledLine> into, int maxLines = int.MaxValue)
    {
        int room = Math.Max(10, width - prefix.Length);
        string indent = new(' ', prefix.Length);
        bool firstLine = true;
        var chunks = WrapText(text, room).ToList();
        if (chunks.Count > maxLines)
        {
            chunks.RemoveRange(maxLines, chunks.Count - maxLines);
            string lastChunk = chunks[^1];
            chunks[^1] = (lastChunk.Length >= room ? lastChunk[..(room - 1)] : lastChunk) + "…";
        }
        foreach (var chunk in chunks)
        {
            into.Add(new StyledLine(width).Add(firstLine ? prefix : indent, "grey").Add(chunk, style));
            firstLine = false;
        }
    }

    private static IEnumerable<string> WrapText(string text, int width)
    {
        int i = 0;
        while (i < text.Length)
        {
            if (text.Length - i <= width) { yield return text[i..]; yield break; }
            int cut = text.LastIndexOf(' ', i + width, width);
            if (cut <= i) cut = i + width;
            yield return text[i..cut].TrimEnd();
            i = cut;
            while (i < text.Length && text[i] == ' ') i++;
        }
    }

    private static List<StyledLine> TranscriptLines(FlowDetail d, int width)
    {
        var lines = new List<StyledLine>();
        if (d.Transcript.Count == 0)
        {
            lines.Add(new StyledLine(width).Add(d.Row.Application.StartsWith("smtp", StringComparison.Ordinal) || d.Row.Server.EndsWith(":25", StringComparison.Ordinal)
                ? "no SMTP dialogue decoded for this flow" : "not an SMTP flow", "grey"));
            return lines;
        }
        foreach (var t in d.Transcript)
        {
            var line = new StyledLine(width).Add(("+" + Seconds(t.Time - d.Start)).PadLeft(9) + " ", "grey");
            line.Add(t.FromClient ? "C: " : "S: ", t.FromClient ? "cyan" : "magenta");
            line.Add(SafeText.Clean(t.Text), t.FromClient ? null : t.Text.Length > 0 && t.Text[0] is '4' or '5' ? "red" : null);
            lines.Add(line);
        }
        return lines;
    }

    // ---- formatting --------------------------------------------------------------------------------------------

    public static string SortName(FlowSort s) => s switch
    {
        FlowSort.Bytes => "bytes", FlowSort.Retransmissions => "retransmissions", FlowSort.Start => "start", _ => "severity",
    };

    public static string Bytes(long b) => b switch
    {
        < 10_000 => b.ToString(Inv),
        < 1_000_000 => (b / 1000.0).ToString(b < 100_000 ? "0.0" : "0", Inv) + "k",
        < 1_000_000_000 => (b / 1e6).ToString(b < 100_000_000 ? "0.0" : "0", Inv) + "M",
        _ => (b / 1e9).ToString("0.0", Inv) + "G",
    };

    public static string Seconds(long nanos)
    {
        double s = nanos / 1e9;
        return s < 10 ? s.ToString("0.000", Inv) + "s" : s < 600 ? s.ToString("0.0", Inv) + "s" : TimeSpan.FromSeconds(Math.Round(s)).ToString(@"h\:mm\:ss", Inv);
    }
}
