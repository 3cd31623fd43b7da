using System.Globalization;
using System.Text;

namespace PathProbe.Cli.Tui.Model;

/// <summary>What a mark on a graph means; the view maps each to a colour (or, with NO_COLOR, to a glyph).</summary>
public enum Ink : byte
{
    None, Axis, Data, Resent, Ack, Window, Sack, Mss, Ceiling, Rtt, Median, Throughput, Goodput, Stall, Phase, Body, Critical, Warning, Info,
}

/// <summary>A vertical segment at a time (a sent range of sequence numbers, a throughput bar).</summary>
public readonly record struct PlotBar(long Time, double Low, double High, Ink Ink);

/// <summary>A horizontal reference line (MSS, path-MTU ceiling, median RTT) with its label.</summary>
public readonly record struct PlotRule(double Y, Ink Ink, string Label);

/// <summary>
/// One graph, described in data units and without a terminal: a time window, a Y range, bars, dots, step lines,
/// reference lines, and the time-axis marks (SMTP steps, stalls, findings). <see cref="PlotRenderer"/> turns it into
/// cells; tests read it directly.
/// </summary>
public sealed class Plot
{
    public required string Title { get; init; }
    public required long From { get; init; }
    public required long To { get; init; }
    /// <summary>Time the axis labels count from (the flow's first packet).</summary>
    public required long Origin { get; init; }
    public double YMin { get; set; }
    public double YMax { get; set; } = 1;
    public required Func<double, string> YLabel { get; init; }
    public List<PlotBar> Bars { get; } = new();
    public List<PlotBar> Dots { get; } = new();
    /// <summary>Step lines (ACK, receive window): each holds (time, value) pairs in time order; the value holds until the next.</summary>
    public List<(Ink Ink, List<(long Time, double Y)> Points)> Steps { get; } = new();
    public List<PlotRule> Rules { get; } = new();
    public List<AxisMark> Marks { get; } = new();
    /// <summary>The SMTP body: from the 354 to the end of the data.</summary>
    public List<(long From, long To)> Bodies { get; } = new();
    /// <summary>Stalls from the stall verdicts: [start, end).</summary>
    public List<(long From, long To)> Stalls { get; } = new();
    public List<(long Time, Ink Ink)> Findings { get; } = new();
    public List<(Ink Ink, string Text)> Legend { get; } = new();
    /// <summary>A line under the graph saying what is not drawn (clipped window line, no samples).</summary>
    public string? Note { get; set; }
}

/// <summary>One terminal cell of a rendered plot.</summary>
public readonly record struct PlotCell(string Text, Ink Ink);

/// <summary>
/// Renders a <see cref="Plot"/> into a grid of cells: a Y-label gutter, the plot area in braille (2×4 dots a cell),
/// reference lines, the marks row, the time axis and the legend. Pure and allocation-bounded by the grid size.
/// </summary>
public static class PlotRenderer
{
    public const int Gutter = 7;
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>Rows below the plot area: marks, time axis, legend (and a note when there is one).</summary>
    public static int FooterRows(Plot p) => p.Note is null ? 3 : 4;

    /// <summary>Dot columns of the plot area for a view <paramref name="width"/> cells wide.</summary>
    public static int DotColumns(int width) => Math.Max(1, width - Gutter) * 2;

    /// <summary>The time at a cell column of the plot area (for the mouse).</summary>
    public static long TimeAt(Plot p, int column, int width)
    {
        int cols = Math.Max(1, width - Gutter);
        double share = Math.Clamp((column - Gutter + 0.5) / cols, 0, 1);
        return p.From + (long)(share * (p.To - p.From));
    }

    public static PlotCell[][] Render(Plot p, int width, int height)
    {
        width = Math.Max(Gutter + 4, width);
        int footer = FooterRows(p);
        int rows = Math.Max(2, height - footer);
        int cols = width - Gutter;
        var grid = new PlotCell[rows + footer][];
        for (int r = 0; r < grid.Length; r++)
        {
            grid[r] = new PlotCell[width];
            Array.Fill(grid[r], new PlotCell(" ", Ink.None));
        }

        // ---- plot area ---------------------------------------------------------------------------------------------
        var bits = new byte[rows, cols];
        var inks = new Ink[rows, cols];
        int dotsX = cols * 2, dotsY = rows * 4;
        double span = Math.Max(1, p.To - p.From);
        double ySpan = p.YMax - p.YMin;
        if (ySpan <= 0) ySpan = 1;
        int X(long t) => (int)Math.Round((t - p.From) / span * (dotsX - 1));
        int Y(double v) => (int)Math.Round((v - p.YMin) / ySpan * (dotsY - 1));
        bool InX(int x) => x >= 0 && x < dotsX;

        void Dot(int x, int y, Ink ink)
        {
            if (!InX(x) || y < 0 || y >= dotsY) return;
            int row = rows - 1 - y / 4, col = x / 2;
            int dy = 3 - y % 4, dx = x % 2;
            // Braille dot numbering: column 0 holds dots 1,2,3,7; column 1 dots 4,5,6,8.
            int bit = dx == 0 ? dy switch { 0 => 0, 1 => 1, 2 => 2, _ => 6 } : dy switch { 0 => 3, 1 => 4, 2 => 5, _ => 7 };
            bits[row, col] |= (byte)(1 << bit);
            if (Priority(ink) >= Priority(inks[row, col])) inks[row, col] = ink;
        }
        void VLine(int x, int y0, int y1, Ink ink)
        {
            if (!InX(x)) return;
            if (y0 > y1) (y0, y1) = (y1, y0);
            y0 = Math.Max(y0, 0); y1 = Math.Min(y1, dotsY - 1);
            for (int y = y0; y <= y1; y++) Dot(x, y, ink);
        }
        void HLine(int x0, int x1, int y, Ink ink)
        {
            if (y < 0 || y >= dotsY) return;
            if (x0 > x1) (x0, x1) = (x1, x0);
            x0 = Math.Max(x0, 0); x1 = Math.Min(x1, dotsX - 1);
            for (int x = x0; x <= x1; x++) Dot(x, y, ink);
        }

        foreach (var (ink, points) in p.Steps)
        {
            int px = -1, py = 0;
            foreach (var (t, v) in points)
            {
                int x = X(t), y = Y(v);
                if (px >= 0 || x >= 0)
                {
                    if (px < 0) { px = Math.Max(0, x); py = y; }
                    HLine(px, x, py, ink);
                    VLine(Math.Clamp(x, 0, dotsX - 1), py, y, ink);
                }
                px = x; py = y;
                if (x >= dotsX) break;
            }
            if (px >= 0 && px < dotsX) HLine(px, dotsX - 1, py, ink);
        }
        foreach (var b in p.Bars) VLine(X(b.Time), Y(b.Low), Y(b.High), b.Ink);
        foreach (var d in p.Dots)
        {
            // A point is drawn 2×2 dots: one braille dot is too small to see.
            int x = X(d.Time), y = Y(d.High);
            Dot(x, y, d.Ink); Dot(x + 1, y, d.Ink); Dot(x, y + 1, d.Ink); Dot(x + 1, y + 1, d.Ink);
        }

        // Reference lines: a box-drawing rule through the cells the data leaves empty.
        // Drawn in rising importance, so the ceiling wins a row it shares with the MSS.
        var ruleRows = new Dictionary<int, PlotRule>();
        foreach (var rule in p.Rules.OrderBy(r => r.Ink == Ink.Ceiling ? 2 : r.Ink == Ink.Mss ? 1 : 0))
        {
            if (rule.Y < p.YMin || rule.Y > p.YMax) continue;
            int row = rows - 1 - Y(rule.Y) / 4;
            ruleRows[row] = rule;
            for (int c = 0; c < cols; c++)
                if (bits[row, c] == 0) grid[row][Gutter + c] = new PlotCell(rule.Ink == Ink.Ceiling ? "━" : rule.Ink == Ink.Median ? "┈" : "┄", rule.Ink);
        }
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++)
                if (bits[r, c] != 0) grid[r][Gutter + c] = new PlotCell(((char)(0x2800 + bits[r, c])).ToString(), inks[r, c]);

        // Gutter: top and bottom values, and the value of each reference line.
        Label(grid[0], p.YLabel(p.YMax));
        Label(grid[rows - 1], p.YLabel(p.YMin));
        foreach (var (row, rule) in ruleRows) Label(grid[row], p.YLabel(rule.Y), rule.Ink);

        // ---- marks row: stalls, the body, SMTP steps, findings ---------------------------------------------------------
        var marks = grid[rows];
        marks[Gutter - 1] = new PlotCell("└", Ink.Axis);
        int Col(long t) => (int)Math.Round((t - p.From) / span * (cols - 1));
        foreach (var (from, to) in p.Bodies)
            for (int c = Math.Max(0, Col(from)); c <= Math.Min(cols - 1, Col(to)); c++) marks[Gutter + c] = new PlotCell("─", Ink.Body);
        foreach (var (from, to) in p.Stalls)
            for (int c = Math.Max(0, Col(from)); c <= Math.Min(cols - 1, Col(to)); c++) marks[Gutter + c] = new PlotCell("░", Ink.Stall);
        // Each step at its time or, when that cell already holds one, the next free cell to the right: a dialogue that
        // runs in a few milliseconds of a long flow still reads "GEMRD3" in order.
        var taken = new bool[cols];
        void Put(long t, string text, Ink ink)
        {
            if (t < p.From || t > p.To) return;
            int c = Math.Clamp(Col(t), 0, cols - 1);
            while (c < cols - 1 && taken[c]) c++;
            marks[Gutter + c] = new PlotCell(text, ink);
            taken[c] = true;
        }
        foreach (var m in p.Marks) Put(m.Time, m.Symbol.ToString(), Ink.Phase);
        foreach (var (t, ink) in p.Findings) Put(t, "!", ink);

        // ---- time axis -----------------------------------------------------------------------------------------------
        var axis = grid[rows + 1];
        string left = FlowRows.Offset(p.From - p.Origin), right = FlowRows.Offset(p.To - p.Origin);
        Write(axis, Gutter, left, Ink.Axis);
        Write(axis, width - right.Length, right, Ink.Axis);
        // Intermediate ticks where they fit.
        int tick = Math.Max(left.Length, right.Length) + 4;
        int ticks = Math.Min(8, (cols - tick) / (tick + 2));
        for (int i = 1; i < ticks; i++)
        {
            int c = cols * i / ticks;
            string label = FlowRows.Offset(p.From + (long)(span * i / ticks) - p.Origin);
            int at = Gutter + c - label.Length / 2;
            if (at > Gutter + left.Length + 1 && at + label.Length < width - right.Length - 1) Write(axis, at, label, Ink.Axis);
        }

        // ---- legend (and note) -----------------------------------------------------------------------------------------
        var legend = grid[rows + 2];
        int lx = 0;
        foreach (var (ink, text) in p.Legend)
        {
            if (lx + text.Length + 3 > width) continue;
            if (ink != Ink.None) { Write(legend, lx, Sample(ink), ink); lx += 2; }
            Write(legend, lx, text, Ink.None);
            lx += text.Length + 2;
        }
        if (p.Note is not null) Write(grid[rows + 3], 0, p.Note, Ink.Axis);
        return grid;
    }

    /// <summary>The glyph that stands for an ink in the legend.</summary>
    public static string Sample(Ink ink) => ink switch
    {
        Ink.Mss => "┄", Ink.Ceiling => "━", Ink.Median => "┈", Ink.Stall => "░", Ink.Body => "─", Ink.Phase => "G",
        Ink.Critical or Ink.Warning or Ink.Info => "!", _ => "⣿",
    };

    /// <summary>Which ink wins a cell shared by several: resends and SACK blocks over plain data over lines.</summary>
    private static int Priority(Ink ink) => ink switch
    {
        Ink.None => 0, Ink.Window => 1, Ink.Ack => 2, Ink.Goodput => 2, Ink.Data => 3, Ink.Throughput => 3, Ink.Rtt => 3,
        Ink.Sack => 4, Ink.Resent => 5, _ => 1,
    };

    private static void Label(PlotCell[] row, string text, Ink ink = Ink.Axis)
    {
        if (text.Length > Gutter - 1) text = text[..(Gutter - 1)];
        Write(row, Gutter - 1 - text.Length, text, ink);
        row[Gutter - 1] = new PlotCell("┤", Ink.Axis);
    }

    private static void Write(PlotCell[] row, int at, string text, Ink ink)
    {
        for (int i = 0; i < text.Length && at + i < row.Length; i++)
            if (at + i >= 0) row[at + i] = new PlotCell(text[i].ToString(), ink);
    }

    /// <summary>The grid as plain text lines (tests, README captures).</summary>
    public static string ToText(PlotCell[][] grid)
    {
        var sb = new StringBuilder();
        foreach (var row in grid)
        {
            foreach (var c in row) sb.Append(c.Text);
            sb.Append('\n');
        }
        return sb.ToString();
    }

    // ---- value labels --------------------------------------------------------------------------------------------------

    /// <summary>Bytes with a unit prefix: "1500", "22.7k", "3.1M".</summary>
    public static string Bytes(double b) => b switch
    {
        < 10_000 => b.ToString("0", Inv),
        < 1_000_000 => (b / 1000).ToString(b < 100_000 ? "0.0" : "0", Inv) + "k",
        < 1_000_000_000 => (b / 1e6).ToString(b < 100_000_000 ? "0.0" : "0", Inv) + "M",
        _ => (b / 1e9).ToString("0.0", Inv) + "G",
    };

    /// <summary>Bits per second: "800", "12k", "1.5M".</summary>
    public static string Bits(double b) => Bytes(b);

    public static string Millis(double ms) => ms < 10 ? ms.ToString("0.00", Inv) : ms < 1000 ? ms.ToString("0", Inv) : (ms / 1000).ToString("0.0", Inv) + "s";
}
