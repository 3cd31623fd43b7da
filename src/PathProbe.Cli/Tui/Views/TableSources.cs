using System.Globalization;
using PathProbe.Cli.Tui.Model;
using Terminal.Gui.Views;

namespace PathProbe.Cli.Tui.Views;

/// <summary>The flow table as a virtual <see cref="ITableSource"/>: cells are made only for the rows on screen, so
/// 100 000 flows cost one sort per change, not one string per cell.</summary>
public sealed class FlowTableSource(FlowQuery query) : ITableSource
{
    public long FirstTime { get; set; }
    public IReadOnlyList<FlowRow> Visible => query.Visible;

    public int Rows => query.Visible.Count;
    public int Columns => FlowColumns.All.Length;

    public string[] ColumnNames
    {
        get
        {
            var names = new string[FlowColumns.All.Length];
            for (int i = 0; i < names.Length; i++)
                names[i] = FlowColumns.All[i].Title + (i == query.SortColumn ? (query.Descending ? "▼" : "▲") : "");
            return names;
        }
    }

    public object this[int row, int col]
    {
        get
        {
            var rows = query.Visible;
            if (row < 0 || row >= rows.Count || col < 0 || col >= FlowColumns.All.Length) return "";
            return FlowColumns.All[col].Cell(rows[row], FirstTime);
        }
    }
}

/// <summary>The findings pane: one row per group of verdicts (kind + peer), worst first.</summary>
public sealed class VerdictGroupSource : ITableSource
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;
    public IReadOnlyList<VerdictGroup> Groups { get; set; } = [];

    public int Rows => Groups.Count;
    public int Columns => 6;
    public string[] ColumnNames => ["!", "severity", "finding", "peer", "flows", "what (latest)"];

    public object this[int row, int col]
    {
        get
        {
            if (row < 0 || row >= Groups.Count) return "";
            var g = Groups[row];
            return col switch
            {
                0 => FlowRows.SeverityMarker((int)g.Worst),
                1 => Findings.FindingKinds.SeverityName(g.Worst),
                2 => g.Verdicts.Count > 1 ? $"{g.Kind} ×{g.Verdicts.Count.ToString(Inv)}" : g.Kind,
                3 => g.Peer,
                4 => FlowList(g),
                _ => g.Verdicts[^1].Summary,
            };
        }
    }

    private static string FlowList(VerdictGroup g)
    {
        var ids = g.Flows.Take(6).Select(i => "#" + i.ToString(Inv)).ToList();
        int n = g.Flows.Count();
        return string.Join(" ", ids) + (n > ids.Count ? $" +{n - ids.Count}" : "");
    }
}

/// <summary>The packet list of one flow.</summary>
public sealed class PacketTableSource : ITableSource
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;
    public IReadOnlyList<PacketEntry> Packets { get; set; } = [];
    public long Origin { get; set; }

    public int Rows => Packets.Count;
    public int Columns => 6;
    public string[] ColumnNames => ["no.", "time", "dir", "ip len", "payload", "info"];

    public object this[int row, int col]
    {
        get
        {
            if (row < 0 || row >= Packets.Count) return "";
            var p = Packets[row];
            return col switch
            {
                0 => p.Number.ToString(Inv),
                1 => FlowRows.Offset(p.Time - Origin),
                2 => p.Icmp ? "icmp" : p.FromClient ? "c→s" : "s→c",
                3 => p.IpLength.ToString(Inv),
                4 => p.Payload.ToString(Inv),
                _ => PacketDissector.Info(p),
            };
        }
    }
}
