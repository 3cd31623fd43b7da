using PathProbe.Findings;

namespace PathProbe.Cli.Tui;

public enum TuiMode : byte { Flows, Findings, Flow }
public enum FlowSort : byte { Severity, Bytes, Retransmissions, Start }
public enum FlowPane : byte { Timeline, Findings, Transcript }

/// <summary>What the host does after a key.</summary>
public enum KeyAction : byte { None, Redraw, Quit, Write, OpenFlow }

/// <summary>
/// The UI state and its key handling, without a console: the host feeds it snapshots and keys and renders it with
/// <see cref="TuiView"/>. The flow list's order is cached per (snapshot, sort, filter), so 100 000 rows are sorted
/// once per snapshot, not per frame; the selection follows the flow id across live updates.
/// </summary>
public sealed class TuiApp
{
    private TuiSnapshot _snapshot;
    private FlowRow[] _visible = [];
    private (long Generation, FlowSort Sort, string Filter) _visibleKey = (-1, default, "");
    private List<FindingGroup>? _groups;
    private long _groupsGeneration = -1;

    public TuiApp(TuiSnapshot snapshot) => _snapshot = snapshot;

    public TuiSnapshot Snapshot => _snapshot;
    public TuiMode Mode { get; private set; } = TuiMode.Flows;
    public bool Help { get; private set; }
    public FlowSort Sort { get; private set; } = FlowSort.Severity;
    public string Filter { get; private set; } = "";
    /// <summary>Non-null while the filter is being typed.</summary>
    public string? FilterDraft { get; private set; }
    public int SelectedFlowId { get; private set; } = -1;
    public int ListTop { get; set; }
    /// <summary>Flow open in the flow view (-1 none).</summary>
    public int OpenFlowId { get; private set; } = -1;
    public FlowPane Focus { get; private set; } = FlowPane.Timeline;
    public int FindingsScroll { get; set; }
    public int TranscriptScroll { get; set; }
    /// <summary>Time zoom of the flow view (1 = the whole flow) and the visible window's start as a share of the flow.</summary>
    public double Zoom { get; private set; } = 1;
    public double Pan { get; private set; }
    public int GroupSelected { get; private set; }
    public int GroupTop { get; set; }
    public bool Paused { get; private set; }
    public string? Message { get; set; }
    /// <summary>Rows of the last rendered list (page size for PgUp/PgDn).</summary>
    public int PageRows { get; set; } = 10;

    /// <summary>Takes a new snapshot unless paused; a paused view still takes the detail of a flow just opened.</summary>
    public void Update(TuiSnapshot snapshot)
    {
        if (!Paused) { _snapshot = snapshot; return; }
        if (snapshot.Detail is { } d && d.Row.Id == OpenFlowId && _snapshot.Detail?.Row.Id != OpenFlowId)
            _snapshot = _snapshot with { Detail = d };
    }

    public IReadOnlyList<FlowRow> VisibleRows
    {
        get
        {
            var key = (_snapshot.Generation, Sort, Filter);
            if (key != _visibleKey)
            {
                _visible = FilterAndSort(_snapshot.Rows, Filter, Sort);
                _visibleKey = key;
            }
            return _visible;
        }
    }

    public int SelectedIndex
    {
        get
        {
            var rows = VisibleRows;
            if (rows.Count == 0) return -1;
            for (int i = 0; i < rows.Count; i++) if (rows[i].Id == SelectedFlowId) return i;
            SelectedFlowId = rows[0].Id;
            return 0;
        }
    }

    public static FlowRow[] FilterAndSort(IReadOnlyList<FlowRow> rows, string filter, FlowSort sort)
    {
        string f = filter.Trim().ToLowerInvariant();
        var list = new List<FlowRow>(f.Length == 0 ? rows.Count : 64);
        foreach (var r in rows) if (f.Length == 0 || r.SearchText.Contains(f, StringComparison.Ordinal)) list.Add(r);
        var a = list.ToArray();
        Comparison<FlowRow> cmp = sort switch
        {
            FlowSort.Bytes => (x, y) => y.Bytes != x.Bytes ? y.Bytes.CompareTo(x.Bytes) : x.Id.CompareTo(y.Id),
            FlowSort.Retransmissions => (x, y) => y.RetransmissionShare != x.RetransmissionShare ? y.RetransmissionShare.CompareTo(x.RetransmissionShare) : y.Bytes != x.Bytes ? y.Bytes.CompareTo(x.Bytes) : x.Id.CompareTo(y.Id),
            FlowSort.Start => (x, y) => x.Start != y.Start ? x.Start.CompareTo(y.Start) : x.Id.CompareTo(y.Id),
            // Worst first: severity, then retransmission share, then bytes.
            _ => (x, y) => y.Severity != x.Severity ? y.Severity.CompareTo(x.Severity)
                : y.RetransmissionShare != x.RetransmissionShare ? y.RetransmissionShare.CompareTo(x.RetransmissionShare)
                : y.Bytes != x.Bytes ? y.Bytes.CompareTo(x.Bytes) : x.Id.CompareTo(y.Id),
        };
        Array.Sort(a, cmp);
        return a;
    }

    /// <summary>Findings grouped by kind and peer (the server of the first flow they concern), worst first.</summary>
    public IReadOnlyList<FindingGroup> Groups
    {
        get
        {
            if (_groups is not null && _groupsGeneration == _snapshot.Generation) return _groups;
            var peers = new Dictionary<int, string>();
            foreach (var r in _snapshot.Rows) peers[r.Id] = r.ServerAddress;
            _groups = _snapshot.Findings
                .GroupBy(f => (Kind: f.Name, Peer: f.Flows.Count > 0 && peers.TryGetValue(f.Flows[0], out var p) ? p : "-"))
                .Select(g => new FindingGroup(g.Key.Kind, g.Key.Peer, g.Max(f => f.Severity), g.ToList()))
                .OrderByDescending(g => g.Worst).ThenByDescending(g => g.Findings.Count).ThenBy(g => g.Kind, StringComparer.Ordinal).ThenBy(g => g.Peer, StringComparer.Ordinal)
                .ToList();
            _groupsGeneration = _snapshot.Generation;
            return _groups;
        }
    }

    public KeyAction Handle(ConsoleKeyInfo key)
    {
        Message = null;
        if (FilterDraft is not null) return HandleFilterKey(key);
        if (key.Key == ConsoleKey.C && (key.Modifiers & ConsoleModifiers.Control) != 0) return KeyAction.Quit;
        if (Help)
        {
            Help = false;
            return key.KeyChar == 'q' ? KeyAction.Quit : KeyAction.Redraw;
        }
        switch (key.KeyChar)
        {
            case 'q': return KeyAction.Quit;
            case '?': Help = true; return KeyAction.Redraw;
            case '/': FilterDraft = Filter; return KeyAction.Redraw;
            case 's': Sort = (FlowSort)(((int)Sort + 1) % 4); return KeyAction.Redraw;
            case 'p': Paused = !Paused; return KeyAction.Redraw;
            case 'w': return KeyAction.Write;
            case '+' or '=' when Mode == TuiMode.Flow: SetZoom(Zoom * 2); return KeyAction.Redraw;
            case '-' or '_' when Mode == TuiMode.Flow: SetZoom(Zoom / 2); return KeyAction.Redraw;
        }
        return Mode switch
        {
            TuiMode.Flows => ListKey(key),
            TuiMode.Findings => FindingsKey(key),
            _ => FlowKey(key),
        };
    }

    private KeyAction HandleFilterKey(ConsoleKeyInfo key)
    {
        switch (key.Key)
        {
            case ConsoleKey.Enter: Filter = FilterDraft!; FilterDraft = null; ListTop = 0; return KeyAction.Redraw;
            case ConsoleKey.Escape: FilterDraft = null; return KeyAction.Redraw;
            case ConsoleKey.Backspace:
                if (FilterDraft!.Length > 0) FilterDraft = FilterDraft[..^1];
                return KeyAction.Redraw;
        }
        if (key.Key == ConsoleKey.C && (key.Modifiers & ConsoleModifiers.Control) != 0) return KeyAction.Quit;
        if (!char.IsControl(key.KeyChar) && FilterDraft!.Length < 100) FilterDraft += key.KeyChar;
        return KeyAction.Redraw;
    }

    private KeyAction ListKey(ConsoleKeyInfo key)
    {
        var rows = VisibleRows;
        int i = SelectedIndex;
        switch (key.Key)
        {
            case ConsoleKey.Tab: Mode = TuiMode.Findings; return KeyAction.Redraw;
            case ConsoleKey.Enter:
                if (i < 0) return KeyAction.None;
                return Open(rows[i].Id);
            case ConsoleKey.Escape when Filter.Length > 0: Filter = ""; return KeyAction.Redraw;
        }
        int n = Move(key, i, rows.Count);
        if (n == i || n < 0) return KeyAction.None;
        SelectedFlowId = rows[n].Id;
        return KeyAction.Redraw;
    }

    private KeyAction FindingsKey(ConsoleKeyInfo key)
    {
        var groups = Groups;
        switch (key.Key)
        {
            case ConsoleKey.Tab or ConsoleKey.Escape: Mode = TuiMode.Flows; return KeyAction.Redraw;
            case ConsoleKey.Enter:
                if (GroupSelected < groups.Count && groups[GroupSelected].Findings[0].Flows.Count > 0)
                    return Open(groups[GroupSelected].Findings[0].Flows[0]);
                return KeyAction.None;
        }
        int n = Move(key, Math.Min(GroupSelected, groups.Count - 1), groups.Count);
        if (n < 0 || n == GroupSelected) return KeyAction.None;
        GroupSelected = n;
        return KeyAction.Redraw;
    }

    private KeyAction FlowKey(ConsoleKeyInfo key)
    {
        switch (key.Key)
        {
            case ConsoleKey.Escape or ConsoleKey.Backspace: Mode = TuiMode.Flows; return KeyAction.Redraw;
            case ConsoleKey.Tab: Focus = (FlowPane)(((int)Focus + 1) % 3); return KeyAction.Redraw;
            case ConsoleKey.LeftArrow: SetPan(Pan - 0.25 / Zoom); return KeyAction.Redraw;
            case ConsoleKey.RightArrow: SetPan(Pan + 0.25 / Zoom); return KeyAction.Redraw;
        }
        if (Focus == FlowPane.Timeline)
        {
            switch (key.Key)
            {
                case ConsoleKey.Home: SetPan(0); return KeyAction.Redraw;
                case ConsoleKey.End: SetPan(1); return KeyAction.Redraw;
                case ConsoleKey.UpArrow: SetZoom(Zoom * 2); return KeyAction.Redraw;
                case ConsoleKey.DownArrow: SetZoom(Zoom / 2); return KeyAction.Redraw;
            }
            return KeyAction.None;
        }
        int page = Math.Max(1, PageRows / 2);
        int delta = key.Key switch
        {
            ConsoleKey.UpArrow => -1, ConsoleKey.DownArrow => 1, ConsoleKey.PageUp => -page, ConsoleKey.PageDown => page,
            ConsoleKey.Home => -1_000_000, ConsoleKey.End => 1_000_000, _ => 0,
        };
        if (delta == 0) return KeyAction.None;
        // Clamped to the content when rendered.
        if (Focus == FlowPane.Findings) FindingsScroll = Math.Max(0, (int)Math.Min(1_000_000L, (long)FindingsScroll + delta));
        else TranscriptScroll = Math.Max(0, (int)Math.Min(1_000_000L, (long)TranscriptScroll + delta));
        return KeyAction.Redraw;
    }

    private KeyAction Open(int flowId)
    {
        OpenFlowId = flowId;
        SelectedFlowId = flowId;
        Mode = TuiMode.Flow;
        Focus = FlowPane.Timeline;
        FindingsScroll = TranscriptScroll = 0;
        Zoom = 1;
        Pan = 0;
        return KeyAction.OpenFlow;
    }

    private int Move(ConsoleKeyInfo key, int i, int count)
    {
        if (count == 0) return -1;
        int n = key.Key switch
        {
            ConsoleKey.UpArrow => i - 1,
            ConsoleKey.DownArrow => i + 1,
            ConsoleKey.PageUp => i - PageRows,
            ConsoleKey.PageDown => i + PageRows,
            ConsoleKey.Home => 0,
            ConsoleKey.End => count - 1,
            _ => i,
        };
        return Math.Clamp(n, 0, count - 1);
    }

    private void SetZoom(double z)
    {
        Zoom = Math.Clamp(z, 1, 4096);
        SetPan(Pan);
    }

    private void SetPan(double p) => Pan = Math.Clamp(p, 0, 1 - 1 / Zoom);
}

/// <summary>Findings of one kind toward one peer.</summary>
public sealed record FindingGroup(string Kind, string Peer, Severity Worst, IReadOnlyList<Finding> Findings);
