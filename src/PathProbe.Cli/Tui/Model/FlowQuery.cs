using System.Globalization;

namespace PathProbe.Cli.Tui.Model;

/// <summary>A column of the flow table: title, cell text, sort order (ascending), alignment and how much it matters when
/// the screen is narrow (0 always shown; higher numbers go first).</summary>
public sealed record FlowColumn(string Title, string Help, Func<FlowRow, long, string> Cell, Comparison<FlowRow> Compare, bool Right, int Priority, bool DescendingFirst = false);

/// <summary>The flow table's columns, numbers as the report writes them.</summary>
public static class FlowColumns
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    private static string Pair(long a, long b) => $"{FlowRows.N(a)}/{FlowRows.N(b)}";
    private static string Opt(int v) => v == 0 ? "-" : FlowRows.N(v);

    public static readonly FlowColumn[] All =
    [
        new("!", "worst finding (!! critical, ! warning, i info)", (r, _) => FlowRows.SeverityMarker(r.Severity), (a, b) => a.Severity.CompareTo(b.Severity), false, 0, DescendingFirst: true),
        new("#", "flow id (as in the report)", (r, _) => r.Id.ToString(Inv), (a, b) => a.Id.CompareTo(b.Id), true, 3),
        new("client", "client address:port", (r, _) => r.Client, (a, b) => string.CompareOrdinal(a.Client, b.Client), false, 0),
        new("server", "server address:port", (r, _) => r.Server, (a, b) => string.CompareOrdinal(a.Server, b.Server), false, 0),
        new("findings", "kinds of the findings on the flow", (r, _) => r.Kinds, (a, b) => string.CompareOrdinal(a.Kinds, b.Kinds), false, 1),
        new("app", "application (SMTP: EHLO name, sender → recipients)", (r, _) => r.Application.Length > 0 ? r.Application : r.Protocol, (a, b) => string.CompareOrdinal(a.Application, b.Application), false, 4),
        new("state", "how the flow ended (report's STATE)", (r, _) => r.State, (a, b) => string.CompareOrdinal(a.State, b.State), false, 2),
        new("start", "start, from the first packet of the capture", (r, first) => FlowRows.Offset(r.Start - first), (a, b) => a.Start.CompareTo(b.Start), true, 6),
        new("duration", "first to last packet", (r, _) => FlowRows.Duration(r.DurationNanos), (a, b) => a.DurationNanos.CompareTo(b.DurationNanos), true, 5, DescendingFirst: true),
        new("packets", "packets client→server/server→client", (r, _) => Pair(r.PacketsToServer, r.PacketsToClient), (a, b) => a.Packets.CompareTo(b.Packets), true, 7, DescendingFirst: true),
        new("bytes", "frame bytes client→server/server→client", (r, _) => $"{FlowRows.Bytes(r.BytesToServer)}/{FlowRows.Bytes(r.BytesToClient)}", (a, b) => a.Bytes.CompareTo(b.Bytes), true, 2, DescendingFirst: true),
        new("retx", "retransmissions client/server", (r, _) => r.RetransmissionsClient < 0 ? "-" : Pair(r.RetransmissionsClient, r.RetransmissionsServer), (a, b) => a.Retransmissions.CompareTo(b.Retransmissions), true, 1, DescendingFirst: true),
        new("rtt ms", "median RTT of the direction with more samples (report's RTT ms)", (r, _) => FlowRows.RttText(r.RttNanos), (a, b) => (double.IsNaN(a.RttMs) ? -1 : a.RttMs).CompareTo(double.IsNaN(b.RttMs) ? -1 : b.RttMs), true, 3, DescendingFirst: true),
        new("mss c/s", "MSS each side advertised", (r, _) => $"{Opt(r.MssClient)}/{Opt(r.MssServer)}", (a, b) => Math.Max(a.MssClient, a.MssServer).CompareTo(Math.Max(b.MssClient, b.MssServer)), true, 4),
        new("max seg c/s", "largest payload per direction", (r, _) => Pair(r.MaxSegmentClient, r.MaxSegmentServer), (a, b) => Math.Max(a.MaxSegmentClient, a.MaxSegmentServer).CompareTo(Math.Max(b.MaxSegmentClient, b.MaxSegmentServer)), true, 6, DescendingFirst: true),
        new("max ip c/s", "largest IP packet per direction", (r, _) => Pair(r.MaxIpClient, r.MaxIpServer), (a, b) => Math.Max(a.MaxIpClient, a.MaxIpServer).CompareTo(Math.Max(b.MaxIpClient, b.MaxIpServer)), true, 5, DescendingFirst: true),
    ];

    public static int IndexOf(string title) => Array.FindIndex(All, c => c.Title == title);
}

/// <summary>What the filter dialog sets: every non-empty field must match (case-insensitive substrings; the port exactly).</summary>
public sealed record FlowFilter
{
    /// <summary>Client or server address contains this.</summary>
    public string Host { get; init; } = "";
    /// <summary>Client or server port equals this.</summary>
    public int? Port { get; init; }
    /// <summary>Application name or summary contains this ("smtp", an EHLO name, a sender).</summary>
    public string Application { get; init; } = "";
    /// <summary>One of the flow's finding kinds contains this ("mtu", "stall").</summary>
    public string Kind { get; init; } = "";
    /// <summary>Any cell contains this.</summary>
    public string Text { get; init; } = "";
    /// <summary>Only these flows (a findings group's), or null.</summary>
    public IReadOnlySet<int>? Flows { get; init; }
    /// <summary>What selected <see cref="Flows"/> (shown in the title).</summary>
    public string? FlowsLabel { get; init; }

    public static readonly FlowFilter None = new();
    public bool IsEmpty => Host.Length == 0 && Port is null && Application.Length == 0 && Kind.Length == 0 && Text.Length == 0 && Flows is null;

    public bool Matches(FlowRow r)
    {
        if (Flows is not null && !Flows.Contains(r.Id)) return false;
        if (Port is { } p && r.ClientPort != p && r.ServerPort != p) return false;
        if (Host.Length > 0 && !Has(r.ClientAddress, Host) && !Has(r.ServerAddress, Host) && !Has(r.Client, Host) && !Has(r.Server, Host)) return false;
        if (Application.Length > 0 && !Has(r.AppName, Application) && !Has(r.Application, Application)) return false;
        if (Kind.Length > 0 && !Has(r.Kinds, Kind)) return false;
        if (Text.Length > 0)
        {
            bool any = Has(r.Protocol, Text);
            foreach (var c in FlowColumns.All) if (any || (any = Has(c.Cell(r, r.Start), Text))) break;
            if (!any) return false;
        }
        return true;
    }

    private static bool Has(string s, string what) => s.Contains(what, StringComparison.OrdinalIgnoreCase);

    public override string ToString()
    {
        var parts = new List<string>();
        if (FlowsLabel is not null) parts.Add(FlowsLabel);
        if (Host.Length > 0) parts.Add("host " + Host);
        if (Port is { } p) parts.Add("port " + p.ToString(CultureInfo.InvariantCulture));
        if (Application.Length > 0) parts.Add("app " + Application);
        if (Kind.Length > 0) parts.Add("kind " + Kind);
        if (Text.Length > 0) parts.Add("text " + Text);
        return string.Join(", ", parts);
    }
}

/// <summary>Filtered and sorted view of a snapshot's rows: the order is computed once per (rows, filter, sort).</summary>
public sealed class FlowQuery
{
    private IReadOnlyList<FlowRow> _rows = [];
    private FlowRow[] _visible = [];
    private bool _dirty = true;

    public FlowFilter Filter { get; private set; } = FlowFilter.None;
    /// <summary>Column sorted by, and whether descending. The default is worst first.</summary>
    public int SortColumn { get; private set; }
    public bool Descending { get; private set; } = true;

    public void SetRows(IReadOnlyList<FlowRow> rows)
    {
        if (ReferenceEquals(rows, _rows)) return;
        _rows = rows;
        _dirty = true;
    }

    public void SetFilter(FlowFilter filter)
    {
        Filter = filter;
        _dirty = true;
    }

    /// <summary>Sorts by <paramref name="column"/>; the same column again reverses the order.</summary>
    public void SortBy(int column)
    {
        if (column < 0 || column >= FlowColumns.All.Length) return;
        if (column == SortColumn) Descending = !Descending;
        else { SortColumn = column; Descending = FlowColumns.All[column].DescendingFirst; }
        _dirty = true;
    }

    public IReadOnlyList<FlowRow> Visible
    {
        get
        {
            if (!_dirty) return _visible;
            var list = new List<FlowRow>(Filter.IsEmpty ? _rows.Count : 256);
            foreach (var r in _rows) if (Filter.IsEmpty || Filter.Matches(r)) list.Add(r);
            var a = list.ToArray();
            var cmp = FlowColumns.All[SortColumn].Compare;
            bool desc = Descending;
            bool bySeverity = SortColumn == 0;
            Array.Sort(a, (x, y) =>
            {
                int c = cmp(x, y);
                if (desc) c = -c;
                if (c != 0) return c;
                // Worst first ties: more retransmissions, more bytes; otherwise the flow id.
                if (bySeverity)
                {
                    c = y.Retransmissions.CompareTo(x.Retransmissions);
                    if (c == 0) c = y.Bytes.CompareTo(x.Bytes);
                    if (c != 0) return c;
                }
                return x.Id.CompareTo(y.Id);
            });
            _visible = a;
            _dirty = false;
            return _visible;
        }
    }
}
