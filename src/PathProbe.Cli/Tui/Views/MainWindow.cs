using System.Collections.Concurrent;
using System.Globalization;
using PathProbe.Cli.Tui.Model;
using PathProbe.Findings;
using Terminal.Gui.App;
using Terminal.Gui.Drawing;
using Terminal.Gui.Input;
using Terminal.Gui.ViewBase;
using Terminal.Gui.Views;

namespace PathProbe.Cli.Tui.Views;

/// <summary>
/// The whole screen: menu, a header with the capture's numbers, the findings pane (verdicts grouped by kind and peer)
/// above the flow table, or one flow's page; a message line and the status bar. Reads only snapshots from its source;
/// <see cref="Tick"/> (a 100 ms timer in the app, called directly by tests) takes a new one and runs work that
/// background tasks handed back.
/// </summary>
public sealed class MainWindow : Window
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;
    private readonly ITuiSource _source;
    private readonly Theme _theme;
    private readonly ConcurrentQueue<Action> _posted = new();
    private readonly MenuBar _menu;
    private readonly LinesView _header = new() { CanFocus = false, Wrap = false };
    private readonly View _listPage = new() { CanFocus = true };
    private readonly LinesView _findingsTitle = new() { CanFocus = false, Wrap = false };
    private readonly TableView _groups;
    private readonly VerdictGroupSource _groupSource = new();
    private readonly LinesView _flowsTitle = new() { CanFocus = false, Wrap = false };
    private readonly TableView _flows;
    private readonly FlowQuery _query = new();
    private readonly FlowTableSource _flowSource;
    private readonly FlowPage _flowPage;
    private readonly LinesView _help = new();
    private readonly View _filterPanel = new() { CanFocus = true };
    private readonly TextField _fHost = new(), _fPort = new(), _fApp = new(), _fKind = new(), _fText = new();
    private readonly View _textPanel = new() { CanFocus = true };
    private readonly LinesView _textPanelLines = new();
    private readonly TextField _textPanelField = new() { ReadOnly = true };
    private readonly LinesView _messageLine = new() { CanFocus = false, Wrap = false };
    private readonly StatusBar _status;
    private TuiSnapshot _snapshot;
    private long _shownGeneration = -1;
    private string? _message;
    private Task<string>? _writing;
    private View? _panel;

    public MainWindow(ITuiSource source, Theme theme)
    {
        _source = source;
        _theme = theme;
        _snapshot = source.Current;
        BorderStyle = LineStyle.None;
        Title = "PathProbe";
        SetScheme(theme.Base);
        _flowSource = new FlowTableSource(_query);
        _flowPage = new FlowPage(theme, Post) { X = 0, Y = 2, Width = Dim.Fill(), Height = Dim.Fill(2), Visible = false };
        _flowPage.PacketStore = PacketStoreAsync;

        _menu = new MenuBar();
        _menu.Add(new MenuBarItem("_File",
        [
            new MenuItem { Title = "_Write capture so far", HelpText = "w", Action = () => Do(KeyAct.Write) },
            new MenuItem { Title = "_Quit", HelpText = "Ctrl+Q", Action = () => Do(KeyAct.Quit) },
        ]));
        _menu.Add(new MenuBarItem("_View",
        [
            new MenuItem { Title = "_Flows and findings", HelpText = "Esc", Action = ShowList },
            new MenuItem { Title = "F_ilter flows…", HelpText = "f", Action = () => Do(KeyAct.Filter) },
            new MenuItem { Title = "_Clear filter", Action = () => SetFilter(FlowFilter.None) },
            new MenuItem { Title = "_Pause / resume", HelpText = "p", Action = () => Do(KeyAct.Pause) },
        ]));
        _menu.Add(new MenuBarItem("_Sort", FlowColumns.All.Select((c, i) => new MenuItem
        {
            Title = c.Title == "!" ? "severity (worst first)" : c.Title, HelpText = c.Help, Action = () => SortBy(i),
        }).ToArray()));
        _menu.Add(new MenuBarItem("F_low",
        [
            new MenuItem { Title = "_Open selected flow", HelpText = "Enter", Action = () => Do(KeyAct.Open) },
            new MenuItem { Title = "_1 Time-sequence graph", Action = () => FlowAct(KeyAct.Graph1) },
            new MenuItem { Title = "_2 Packet sizes", Action = () => FlowAct(KeyAct.Graph2) },
            new MenuItem { Title = "_3 Throughput", Action = () => FlowAct(KeyAct.Graph3) },
            new MenuItem { Title = "_4 RTT", Action = () => FlowAct(KeyAct.Graph4) },
            new MenuItem { Title = "_5 Packets", Action = () => FlowAct(KeyAct.Packets) },
            new MenuItem { Title = "_6 Findings", Action = () => FlowAct(KeyAct.FindingsTab) },
            new MenuItem { Title = "_7 SMTP transcript", Action = () => FlowAct(KeyAct.Transcript) },
            new MenuItem { Title = "_Direction", HelpText = "d", Action = () => FlowAct(KeyAct.Direction) },
            new MenuItem { Title = "Copy _Wireshark filter", HelpText = "y", Action = () => FlowAct(KeyAct.CopyFilter) },
        ]));
        _menu.Add(new MenuBarItem("_Help", [new MenuItem { Title = "_Keys", HelpText = "?", Action = () => Do(KeyAct.Help) }]));

        _header.X = 0; _header.Y = 1; _header.Width = Dim.Fill(); _header.Height = 1;
        _listPage.X = 0; _listPage.Y = 2; _listPage.Width = Dim.Fill(); _listPage.Height = Dim.Fill(2);

        _groups = NewTable(_groupSource);
        _groups.Style.GetOrCreateColumnStyle(0).ColorGetter = a => SeverityScheme(a.RowIndex < _groupSource.Groups.Count ? (int)_groupSource.Groups[a.RowIndex].Worst : -1);
        _groups.Style.GetOrCreateColumnStyle(1).ColorGetter = a => SeverityScheme(a.RowIndex < _groupSource.Groups.Count ? (int)_groupSource.Groups[a.RowIndex].Worst : -1);
        _groups.Style.GetOrCreateColumnStyle(3).MaxWidth = 30;
        _groups.Style.GetOrCreateColumnStyle(4).MaxWidth = 24;
        _groups.Accepting += (_, e) => { OpenGroup(); e.Handled = true; };
        _groups.ValueChanged += (_, _) => GroupHint();
        _groups.HasFocusChanged += (_, _) => GroupHint();

        _flows = NewTable(_flowSource);
        _flows.Style.GetOrCreateColumnStyle(0).ColorGetter = a => SeverityScheme(a.RowIndex < _flowSource.Visible.Count ? _flowSource.Visible[a.RowIndex].Severity : -1);
        _flows.Accepting += (_, e) => { OpenSelected(); e.Handled = true; };
        _flows.Activating += (_, e) =>
        {
            // A click on a header sorts by that column (again: reverses), as in a spreadsheet. The table activates on
            // the button's release and again on the click synthesised from it: one sort per click.
            if (e.Context?.Binding is not MouseBinding { MouseEvent: { } mouse } || mouse.Position is not { } pos) return;
            if (!mouse.Flags.HasFlag(MouseFlags.LeftButtonReleased) && !mouse.Flags.HasFlag(MouseFlags.LeftButtonClicked)) return;
            _flows.ScreenToCell(pos, out int? header);
            if (header is not { } col) return;
            e.Handled = true;
            long now = Environment.TickCount64;
            if (_lastHeaderClick.Column == col && now - _lastHeaderClick.Time < 400) return;
            _lastHeaderClick = (col, now);
            SortBy(col);
        };
        foreach (var (i, width) in new[] { (2, 22), (3, 22), (4, 26), (5, 34), (6, 12) }) _flows.Style.GetOrCreateColumnStyle(i).MaxWidth = width;
        _listPage.Add(_findingsTitle, _groups, _flowsTitle, _flows);

        _help.X = 0; _help.Y = 2; _help.Width = Dim.Fill(); _help.Height = Dim.Fill(2); _help.Visible = false;
        BuildFilterPanel();
        _textPanel.X = 0; _textPanel.Y = 2; _textPanel.Width = Dim.Fill(); _textPanel.Height = Dim.Fill(2); _textPanel.Visible = false;
        _textPanelField.X = 0; _textPanelField.Y = 0; _textPanelField.Width = Dim.Fill(); _textPanelField.Height = 1;
        _textPanelLines.X = 0; _textPanelLines.Y = 2; _textPanelLines.Width = Dim.Fill(); _textPanelLines.Height = Dim.Fill();
        _textPanel.Add(_textPanelField, _textPanelLines);

        _messageLine.X = 0; _messageLine.Y = Pos.AnchorEnd(2); _messageLine.Width = Dim.Fill(); _messageLine.Height = 1;
        _status = new StatusBar(
        [
            new Shortcut(Key.Q.WithCtrl, "Quit", () => Do(KeyAct.Quit)),
            new Shortcut(Key.F1, "Help", () => Do(KeyAct.Help)),
            new Shortcut(Key.Esc, "Back", () => Do(KeyAct.Back)),
            new Shortcut(Key.F, "Filter", () => Do(KeyAct.Filter)),
            new Shortcut(Key.Enter, "Open", () => Do(KeyAct.Open)),
            new Shortcut(Key.P, "Pause", () => Do(KeyAct.Pause)),
            new Shortcut(Key.W, "Write", () => Do(KeyAct.Write)),
        ]);
        foreach (var s in _status.SubViews.OfType<Shortcut>()) s.BindKeyToApplication = false;
        // The menu and the status bar have schemes of their own: give them the theme's (NO_COLOR included).
        _menu.SetScheme(theme.Base);
        _status.SetScheme(theme.Base);
        foreach (var item in _menu.SubViews.OfType<MenuBarItem>())
        {
            item.PopoverMenu?.SetScheme(theme.Base);
            item.PopoverMenu?.Root?.SetScheme(theme.Base);
        }
        Add(_menu, _header, _listPage, _flowPage, _help, _filterPanel, _textPanel, _messageLine, _status);
        HelpLines();
        Refresh();
    }

    /// <summary>The snapshot on screen.</summary>
    public TuiSnapshot Snapshot => _snapshot;
    public bool Paused { get; private set; }
    public bool FlowOpen => _flowPage.Visible;
    public FlowPage FlowPage => _flowPage;
    public TableView FlowTable => _flows;
    public TableView GroupTable => _groups;
    public FlowQuery Query => _query;
    public string? Message => _message;
    /// <summary>Set when the user asked to quit.</summary>
    public bool QuitRequested { get; private set; }
    /// <summary>Exit status for what was shown: 1 with a critical finding on screen, as analyze; else 0.</summary>
    public int ExitStatus => _snapshot.Verdicts.Any(v => v.Severity == Severity.Critical) ? Program.ExitCritical : Program.ExitOk;

    private TableView NewTable(ITableSource source)
    {
        // Column widths from the rows on screen, not from every row: 100,000 flows cost what a screenful costs.
        var t = new TableView { Table = source, FullRowSelect = true, MultiSelect = false, UseAllRowsForContentCalculation = false };
        t.CollectionNavigator = null;
        t.Style.AlwaysShowHeaders = true;
        t.Style.ShowVerticalCellLines = false;
        t.Style.ShowVerticalHeaderLines = false;
        t.Style.ShowHorizontalHeaderOverline = false;
        t.Style.ExpandLastColumn = true;
        // Home/End go to the first/last row, as in a list (the table's default is the first/last column).
        t.KeyBindings.Remove(Key.Home);
        t.KeyBindings.Add(Key.Home, Command.Start);
        t.KeyBindings.Remove(Key.End);
        t.KeyBindings.Add(Key.End, Command.End);
        return t;
    }

    private Scheme? SeverityScheme(int severity) => severity < 0 ? null : new Scheme(_theme.Base)
    {
        Normal = _theme.Severity(severity),
        Focus = _theme.Severity(severity) with { Style = _theme.Severity(severity).Style | TextStyle.Reverse },
    };

    /// <summary>Runs <paramref name="action"/> on the UI thread at the next tick (background tasks report back here).</summary>
    public void Post(Action action) => _posted.Enqueue(action);

    /// <summary>The UI's heartbeat: work handed back by tasks, a finished write, and the latest snapshot unless paused.</summary>
    public void Tick()
    {
        while (_posted.TryDequeue(out var a)) a();
        if (_writing is { IsCompleted: true })
        {
            SetMessage(_writing.IsCompletedSuccessfully ? _writing.Result : $"could not write: {_writing.Exception?.InnerException?.Message}");
            _writing = null;
        }
        var current = _source.Current;
        if (current.Generation != _shownGeneration)
        {
            if (!Paused) { _snapshot = current; Refresh(); }
            else if (_flowPage.Visible && current.Detail is { } d && d.Row.Id == _flowPage.Detail?.Row.Id && _flowPage.Detail is null)
                _flowPage.SetDetail(d);
        }
        if (_flowPage.Visible && _snapshot.Detail is { } detail && (_flowPage.Detail is null || !ReferenceEquals(_flowPage.Detail, detail)) && detail.Row.Id == _openFlow)
            _flowPage.SetDetail(detail);
    }

    private int _openFlow = -1;
    private int _pane = -1;
    private (int Column, long Time) _lastHeaderClick = (-1, 0);

    private void Refresh()
    {
        _shownGeneration = _snapshot.Generation;
        var s = _snapshot;
        _header.SetLines([HeaderLine(s)]);
        // Findings pane: groups, worst first; keep the selected group.
        var selectedGroup = SelectedGroup();
        _groupSource.Groups = s.Groups;
        _groups.Update();
        if (selectedGroup is not null)
        {
            int i = s.Groups.ToList().FindIndex(g => g.Kind == selectedGroup.Kind && g.Peer == selectedGroup.Peer);
            if (i >= 0 && i != (_groups.Value?.SelectedCell.Y ?? -1)) _groups.SetSelection(0, i, false, null!);
        }
        else if (s.Groups.Count > 0) _groups.SetSelection(0, 0, false, null!);
        // Flow table: keep the selected flow selected across updates.
        int selectedFlow = SelectedFlowId();
        _query.SetRows(s.Rows);
        _flowSource.FirstTime = s.FirstTime;
        _flows.Update();
        if (selectedFlow >= 0) SelectFlow(selectedFlow);
        else if (_query.Visible.Count > 0) _flows.SetSelection(0, 0, false, null!);
        LayoutList();
        TitleLines();
        UpdateMessageLine();
        SetNeedsDraw();
    }

    private StyledLine HeaderLine(TuiSnapshot s)
    {
        var line = new StyledLine().Add("PathProbe ", _theme.Bold).Add(s.Source + "  ");
        line.Add($"{FlowRows.N(s.Packets)} packets");
        if (s.Live)
        {
            line.Add($"  {s.PacketsPerSecond.ToString("#,0", Inv)} pkt/s");
            line.Add(s.Drops < 0 ? "  drops ?" : $"  {FlowRows.N(s.Drops)} dropped", s.Drops > 0 ? _theme.Severity(Severity.Critical) : null);
        }
        line.Add($"  {FlowRows.N(s.Rows.Count)} flows  ");
        int crit = s.Count(Severity.Critical), warn = s.Count(Severity.Warning), info = s.Count(Severity.Info);
        line.Add($"{crit} critical", crit > 0 ? _theme.Severity(Severity.Critical) : _theme.Dim).Add(" ")
            .Add($"{warn} warning", warn > 0 ? _theme.Severity(Severity.Warning) : _theme.Dim).Add(" ")
            .Add($"{info} info", _theme.Dim);
        line.Add($"  {FlowRows.Duration(s.ElapsedNanos)}");
        if (s.Running) line.Add(s.Live ? "  capturing" : "  analysing…", _theme.Ink(Ink.Data));
        if (Paused) line.Add("  PAUSED", _theme.Selected);
        return line;
    }

    private void TitleLines()
    {
        var s = _snapshot;
        _findingsTitle.SetLines([new StyledLine().Add($"Findings ({s.Verdicts.Count} in {s.Groups.Count} group{(s.Groups.Count == 1 ? "" : "s")} by kind and peer)", _theme.Title)
            .Add(s.Groups.Count > 0 ? "  Enter: its flow (or its flows)" : "", _theme.Dim)]);
        var visible = _query.Visible.Count;
        var title = new StyledLine().Add($"Flows ({(_query.Filter.IsEmpty ? FlowRows.N(s.Rows.Count) : FlowRows.N(visible) + " of " + FlowRows.N(s.Rows.Count))})", _theme.Title);
        var col = FlowColumns.All[_query.SortColumn];
        title.Add($"  sorted by {(col.Title == "!" ? "severity" : col.Title)} {(_query.Descending ? "▼" : "▲")}", _theme.Dim);
        if (!_query.Filter.IsEmpty) title.Add("  filter: ").Add(_query.Filter.ToString(), _theme.Message).Add("  (Esc clears)", _theme.Dim);
        _flowsTitle.SetLines([title]);
    }

    /// <summary>Places the findings pane and the flow table, and shows the columns that fit the width by priority.</summary>
    private void LayoutList()
    {
        int h = Math.Max(6, _listPage.Viewport.Height > 0 ? _listPage.Viewport.Height : (App?.Screen.Height ?? 24) - 4);
        int w = Math.Max(20, _listPage.Viewport.Width > 0 ? _listPage.Viewport.Width : App?.Screen.Width ?? 80);
        int groups = _snapshot.Groups.Count;
        int pane = groups == 0 ? 3 : Math.Min(groups + 3, Math.Max(4, h * 35 / 100));
        if (pane != _pane)
        {
            // Only when the split moves: setting a position marks the layout dirty, and a dirty layout redraws.
            _pane = pane;
            _findingsTitle.X = 0; _findingsTitle.Y = 0; _findingsTitle.Width = Dim.Fill(); _findingsTitle.Height = 1;
            _groups.X = 0; _groups.Y = 1; _groups.Width = Dim.Fill(); _groups.Height = pane - 1;
            _flowsTitle.X = 0; _flowsTitle.Y = pane; _flowsTitle.Width = Dim.Fill(); _flowsTitle.Height = 1;
            _flows.X = 0; _flows.Y = pane + 1; _flows.Width = Dim.Fill(); _flows.Height = Dim.Fill();
        }

        // Columns by priority while they fit (widths as the table draws them: content up to each column's maximum).
        var order = Enumerable.Range(0, FlowColumns.All.Length).OrderBy(i => FlowColumns.All[i].Priority).ThenBy(i => i).ToList();
        int used = 0;
        var show = new bool[FlowColumns.All.Length];
        foreach (int i in order)
        {
            int cw = EstimatedWidth(i) + 1;
            if (FlowColumns.All[i].Priority > 0 && used + cw > w) continue;
            show[i] = true;
            used += cw;
        }
        bool changed = false;
        for (int i = 0; i < show.Length; i++)
        {
            var style = _flows.Style.GetOrCreateColumnStyle(i);
            if (style.Visible != show[i]) { style.Visible = show[i]; changed = true; }
        }
        if (changed) _flows.SetNeedsDraw();
    }

    private int EstimatedWidth(int column)
    {
        var col = FlowColumns.All[column];
        int max = _flows.Style.GetColumnStyleIfAny(column)?.MaxWidth is int m and > 0 and < 100 ? m : 24;
        int width = col.Title.Length + 1;
        var rows = _flowSource.Visible;
        for (int r = 0; r < Math.Min(rows.Count, 200); r++) width = Math.Max(width, col.Cell(rows[r], _flowSource.FirstTime).Length);
        return Math.Min(width, max);
    }

    protected override void OnViewportChanged(DrawEventArgs e)
    {
        base.OnViewportChanged(e);
        LayoutList();
    }

    private VerdictGroup? SelectedGroup()
    {
        int row = _groups.Value?.SelectedCell.Y ?? -1;
        return row >= 0 && row < _groupSource.Groups.Count ? _groupSource.Groups[row] : null;
    }

    private int SelectedFlowId()
    {
        int row = _flows.Value?.SelectedCell.Y ?? -1;
        var rows = _flowSource.Visible;
        return row >= 0 && row < rows.Count ? rows[row].Id : -1;
    }

    private void SelectFlow(int id)
    {
        var rows = _flowSource.Visible;
        for (int i = 0; i < rows.Count; i++)
            if (rows[i].Id == id)
            {
                if ((_flows.Value?.SelectedCell.Y ?? -1) != i) _flows.SetSelection(0, i, false, null!);
                _flows.EnsureCursorIsVisible();
                return;
            }
    }

    // ---- keys ---------------------------------------------------------------------------------------------------------

    /// <summary>The app's key hook (before any view): a key of <see cref="KeyTable"/> for the current screen does its
    /// action; keys typed into a text field stay there (Esc and Enter excepted).</summary>
    public bool HandleKey(Key key)
    {
        var focused = MostFocused;
        if (focused is TextField && key == Key.C.WithCtrl) return false; // copy, not quit
        bool typing = focused is TextField { ReadOnly: false };
        if (typing && key != Key.Esc && key != Key.Enter && key != Key.Q.WithCtrl) return false;
        if (_menu.IsOpen() && key != Key.Q.WithCtrl) return false;
        if (_panel == _filterPanel && key == Key.Enter) { ApplyFilterPanel(); return true; }
        var scopes = _panel is not null ? [KeyScope.Everywhere]
            : _flowPage.Visible ? _flowPage.Tab <= FlowTab.Rtt ? [KeyScope.Everywhere, KeyScope.FlowView, KeyScope.Graphs] : new[] { KeyScope.Everywhere, KeyScope.FlowView, KeyScope.Packets }
            : new[] { KeyScope.Everywhere, KeyScope.FlowList };
        var entry = KeyTable.Find(key, scopes);
        if (entry is null) return false;
        // On a table, Backspace is "back" only when nothing else uses it; Enter on the findings pane opens its group.
        return Do(entry.Act);
    }

    /// <summary>Does what a key, a menu item or a status-bar click asked.</summary>
    public bool Do(KeyAct act)
    {
        switch (act)
        {
            case KeyAct.Quit:
                QuitRequested = true;
                App?.RequestStop(this);
                return true;
            case KeyAct.Back: return Back();
            case KeyAct.Help: ShowPanel(_help); return true;
            case KeyAct.Menu: return false; // the menu bar's own key opens it
            case KeyAct.Pause:
                Paused = !Paused;
                SetMessage(Paused ? "paused: the screen holds still; capture and analysis go on (p resumes)" : "resumed");
                if (!Paused) { _shownGeneration = -1; Tick(); } else Refresh();
                return true;
            case KeyAct.Write: Write(); return true;
            case KeyAct.Filter: ShowFilterPanel(); return true;
            case KeyAct.SortNext: SortBy((_query.SortColumn + 1) % FlowColumns.All.Length); return true;
            case KeyAct.SortPrevious: SortBy((_query.SortColumn + FlowColumns.All.Length - 1) % FlowColumns.All.Length); return true;
            case KeyAct.SortReverse: SortBy(_query.SortColumn); return true;
            case KeyAct.Open:
                if (_groups.HasFocus) OpenGroup(); else OpenSelected();
                return true;
            case KeyAct.CopyFilter: CopyFilter(); return true;
            default: return FlowAct(act);
        }
    }

    private bool FlowAct(KeyAct act)
    {
        if (!_flowPage.Visible)
        {
            if (act is KeyAct.Graph1 or KeyAct.Graph2 or KeyAct.Graph3 or KeyAct.Graph4 or KeyAct.Packets or KeyAct.FindingsTab or KeyAct.Transcript && OpenSelected())
                return _flowPage.Do(act);
            return false;
        }
        if (act == KeyAct.CopyFilter) { CopyFilter(); return true; }
        return _flowPage.Do(act);
    }

    private bool Back()
    {
        if (_panel is not null) { ClosePanel(); return true; }
        if (_flowPage.Visible) { ShowList(); return true; }
        if (!_query.Filter.IsEmpty) { SetFilter(FlowFilter.None); return true; }
        SetMessage("Ctrl+Q or q quits");
        return true;
    }

    private void SortBy(int column)
    {
        int selected = SelectedFlowId();
        _query.SortBy(column);
        _flows.Update();
        if (selected >= 0) SelectFlow(selected);
        TitleLines();
        SetNeedsDraw();
    }

    private void SetFilter(FlowFilter filter)
    {
        int selected = SelectedFlowId();
        _query.SetFilter(filter);
        _flows.Update();
        if (selected >= 0) SelectFlow(selected);
        if (_query.Visible.Count > 0 && (_flows.Value?.SelectedCell.Y ?? -1) >= _query.Visible.Count) _flows.SetSelection(0, 0, false, null!);
        LayoutList();
        TitleLines();
        SetNeedsDraw();
    }

    // ---- flows -------------------------------------------------------------------------------------------------------

    private bool OpenSelected()
    {
        int id = SelectedFlowId();
        if (id < 0) { SetMessage(_query.Visible.Count == 0 ? "no flow to open" : "select a flow first"); return false; }
        Open(id);
        return true;
    }

    /// <summary>Opens the flow view of <paramref name="flowId"/>.</summary>
    public void Open(int flowId)
    {
        _openFlow = flowId;
        _source.RequestDetail(flowId);
        _snapshot = _snapshot.Detail?.Row.Id == flowId ? _snapshot : _source.Current.Detail?.Row.Id == flowId ? _source.Current : _snapshot;
        _listPage.Visible = false;
        _flowPage.Visible = true;
        if ((_snapshot.Detail ?? _source.Current.Detail) is { } d && d.Row.Id == flowId) _flowPage.SetDetail(d);
        else SetMessage($"flow #{flowId}: loading…");
        _flowPage.Show(FlowTab.Sequence);
        UpdateMessageLine();
        SetNeedsDraw();
    }

    private void ShowList()
    {
        ClosePanel();
        _openFlow = -1;
        _source.RequestDetail(-1);
        _flowPage.Visible = false;
        _listPage.Visible = true;
        _flows.SetFocus();
        UpdateMessageLine();
        SetNeedsDraw();
    }

    private void OpenGroup()
    {
        if (SelectedGroup() is not { } g) return;
        var flows = g.Flows.ToHashSet();
        if (flows.Count == 0) { ShowText($"{g.Kind} {g.Peer}", g.Verdicts.SelectMany(VerdictText).ToList()); return; }
        if (flows.Count == 1) { Open(flows.First()); return; }
        SetFilter(FlowFilter.None with { Flows = flows, FlowsLabel = $"{g.Kind} toward {g.Peer}" });
        _flows.SetSelection(0, 0, false, null!);
        _flows.SetFocus();
        SetMessage(flows.Count == 1 ? "Enter opens the flow; Esc shows all flows" : $"{flows.Count} flows of {g.Kind} toward {g.Peer}; Esc shows all flows");
    }

    private IEnumerable<StyledLine> VerdictText(TuiVerdict v)
    {
        yield return new StyledLine().Add($"{v.SeverityName} ", _theme.Severity(v.Severity)).Add(v.Kind, _theme.Bold);
        yield return new StyledLine("  " + v.Summary);
        if (v.Evidence.Length > 0) yield return new StyledLine("  evidence: " + v.Evidence, _theme.Dim);
        if (v.Advice is not null) yield return new StyledLine("  advice: " + v.Advice);
    }

    private void GroupHint()
    {
        if (_groups.HasFocus && SelectedGroup() is { } g) SetMessage($"{g.Kind} toward {g.Peer}: {g.Verdicts[^1].Summary}", sticky: false);
        else UpdateMessageLine();
    }

    // ---- panels -------------------------------------------------------------------------------------------------------

    private void ShowPanel(View panel)
    {
        _panel = panel;
        _listPage.Visible = false;
        _flowPage.Visible = false;
        _help.Visible = panel == _help;
        _filterPanel.Visible = panel == _filterPanel;
        _textPanel.Visible = panel == _textPanel;
        panel.SetFocus();
        UpdateMessageLine();
        SetNeedsDraw();
    }

    private void ClosePanel()
    {
        if (_panel is null) return;
        _panel.Visible = false;
        _panel = null;
        bool flow = _openFlow >= 0;
        _flowPage.Visible = flow;
        _listPage.Visible = !flow;
        (flow ? (View)_flowPage : _flows).SetFocus();
        UpdateMessageLine();
        SetNeedsDraw();
    }

    private void HelpLines()
    {
        var lines = new List<StyledLine> { new("Keys (Esc closes this help)", _theme.Title) };
        foreach (var scope in Enum.GetValues<KeyScope>())
        {
            lines.Add(new StyledLine(""));
            lines.Add(new StyledLine(KeyTable.ScopeName(scope), _theme.Bold));
            foreach (var e in KeyTable.All.Where(e => e.Scope == scope))
                lines.Add(new StyledLine().Add("  " + e.Label.PadRight(24), _theme.Ink(Ink.Phase)).Add(e.What));
        }
        lines.Add(new StyledLine(""));
        lines.Add(new StyledLine("Mouse", _theme.Bold));
        lines.Add(new StyledLine("  click a row to select it, double-click to open; click a column header to sort; click the menu and the tabs;"));
        lines.Add(new StyledLine("  the wheel scrolls tables and text, and zooms a graph at the pointer (shift+wheel pans)."));
        lines.Add(new StyledLine(""));
        lines.Add(new StyledLine("Graph time axis", _theme.Bold));
        lines.Add(new StyledLine("  G greeting  E EHLO/HELO  T STARTTLS  A AUTH  M MAIL  R RCPT  D DATA (or BDAT)  3 the 354  ─ the message body"));
        lines.Add(new StyledLine("  . end of data  F final reply  Q QUIT  ! a finding (its severity's colour)  ░ a stall, as the stall finding measured it"));
        lines.Add(new StyledLine("  Time-sequence: data sent at its sequence numbers (retransmissions red, × without colour), the ACK line, the"));
        lines.Add(new StyledLine("  receive-window line (ACK + window) and SACK blocks, as in tcptrace and Wireshark's Stevens graph."));
        lines.Add(new StyledLine("  Sizes: the largest IP packet of each point; ┄ the MSS as a packet (MSS + IP + TCP headers of the flow); ━ the"));
        lines.Add(new StyledLine("  path-MTU ceiling of an mtu-blackhole finding: a black hole shows as full-size packets resent on or above it."));
        _help.SetLines(lines);
    }

    private void BuildFilterPanel()
    {
        _filterPanel.X = 0; _filterPanel.Y = 2; _filterPanel.Width = Dim.Fill(); _filterPanel.Height = Dim.Fill(2); _filterPanel.Visible = false;
        var title = new Label { X = 0, Y = 0, Text = "Filter flows: every field you fill must match (Enter applies, Esc cancels, Tab moves)" };
        var fields = new (string Label, TextField Field, string Hint)[]
        {
            ("Host", _fHost, "client or server address contains, e.g. 203.0.113.25 or 2001:db8::"),
            ("Port", _fPort, "client or server port equals, e.g. 25"),
            ("Application", _fApp, "application contains, e.g. smtp, an EHLO name, a sender"),
            ("Finding kind", _fKind, "a finding kind contains, e.g. mtu, stall, smtp-"),
            ("Text", _fText, "any cell contains"),
        };
        _filterPanel.Add(title);
        for (int i = 0; i < fields.Length; i++)
        {
            var (label, field, hint) = fields[i];
            int y = 2 + i * 2;
            _filterPanel.Add(new Label { X = 0, Y = y, Text = label });
            field.X = 14; field.Y = y; field.Width = 40;
            _filterPanel.Add(field, new Label { X = 56, Y = y, Text = hint });
        }
        var apply = new Button { X = 14, Y = 13, Text = "_Apply" };
        apply.Accepting += (_, e) => { ApplyFilterPanel(); e.Handled = true; };
        var clear = new Button { X = 26, Y = 13, Text = "C_lear" };
        clear.Accepting += (_, e) => { foreach (var f in new[] { _fHost, _fPort, _fApp, _fKind, _fText }) f.Text = ""; SetFilter(FlowFilter.None); ClosePanel(); e.Handled = true; };
        var cancel = new Button { X = 38, Y = 13, Text = "_Cancel" };
        cancel.Accepting += (_, e) => { ClosePanel(); e.Handled = true; };
        _filterPanel.Add(apply, clear, cancel);
    }

    private void ShowFilterPanel()
    {
        var f = _query.Filter;
        _fHost.Text = f.Host; _fPort.Text = f.Port?.ToString(Inv) ?? ""; _fApp.Text = f.Application; _fKind.Text = f.Kind; _fText.Text = f.Text;
        ShowPanel(_filterPanel);
        _fHost.SetFocus();
    }

    private void ApplyFilterPanel()
    {
        string port = _fPort.Text.Trim();
        if (port.Length > 0 && (!int.TryParse(port, NumberStyles.None, Inv, out int p) || p > 65535))
        {
            SetMessage($"port '{SafeText(port)}' is not a number from 0 to 65535");
            return;
        }
        var filter = new FlowFilter
        {
            Host = _fHost.Text.Trim(), Port = port.Length > 0 ? int.Parse(port, Inv) : null, Application = _fApp.Text.Trim(),
            Kind = _fKind.Text.Trim(), Text = _fText.Text.Trim(),
        };
        ClosePanel();
        if (_openFlow >= 0) ShowList();
        SetFilter(filter);
        SetMessage(filter.IsEmpty ? "filter cleared" : $"{FlowRows.N(_query.Visible.Count)} flows match");
    }

    private static string SafeText(string s) => PathProbe.Primitives.SafeText.Clean(s, 60);

    private void ShowText(string title, List<StyledLine> lines, string? field = null)
    {
        _textPanelField.Visible = field is not null;
        _textPanelField.Text = field ?? "";
        _textPanelLines.Y = field is null ? 0 : 2;
        lines.Insert(0, new StyledLine(title + "  (Esc closes)", _theme.Title));
        _textPanelLines.SetLines(lines);
        ShowPanel(_textPanel);
        if (field is not null) { _textPanelField.SetFocus(); _textPanelField.SelectAll(); }
    }

    // ---- actions ------------------------------------------------------------------------------------------------------

    private void CopyFilter()
    {
        var d = _flowPage.Visible ? _flowPage.Detail : null;
        if (d is null) { SetMessage("open a flow first (Enter)"); return; }
        string filter = d.WiresharkFilter;
        bool copied = false;
        try
        {
            // The system clipboard when there is one (xclip/xsel/wl-copy, macOS, WSL); Terminal.Gui's in-process
            // stand-in is no clipboard for the user.
            copied = App?.Clipboard is { IsSupported: true } c && c is not Terminal.Gui.Drivers.FakeClipboard && c.TrySetClipboardData(filter);
        }
        catch (Exception e) when (e is IOException or InvalidOperationException or NotSupportedException or System.ComponentModel.Win32Exception) { copied = false; }
        // OSC 52 as well: the terminal (xterm, tmux with set-clipboard, kitty, iTerm2, Windows Terminal) sets its own
        // clipboard, which is the one that matters over SSH; a terminal that does not know it ignores it.
        App?.Driver?.WriteRaw("\u001b]52;c;" + Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(filter)) + "\u0007");
        ShowText("Wireshark display filter for this flow", [
            new StyledLine(copied ? "copied to the system clipboard and sent to the terminal's (OSC 52); also selected above"
                : "sent to the terminal's clipboard (OSC 52) where the terminal allows it; no system clipboard here: select the line above with the mouse (Shift+drag in most terminals)", _theme.Dim),
            new StyledLine(""),
            new StyledLine("It selects the flow's packets in both directions and the ICMP errors that quote them, whatever tcp.stream number Wireshark gives it."),
        ], filter);
        SetMessage("Wireshark filter: " + filter);
    }

    private void Write()
    {
        if (_writing is { IsCompleted: false }) { SetMessage("still writing the previous file"); return; }
        string path = Path.GetFullPath($"pathprobe-{DateTime.Now.ToString("yyyyMMdd-HHmmss", Inv)}.pcapng");
        SetMessage($"writing {path}…");
        _writing = _source.WriteAsync(path);
    }

    private async Task<(PacketStoreInfo Store, long Limit)?> PacketStoreAsync()
    {
        var store = _source.Current.Store;
        if (store is null) return null;
        long limit = await _source.ReadableLengthAsync();
        return (store, limit);
    }

    private void SetMessage(string text, bool sticky = true)
    {
        if (sticky) { _message = text; _messageUntil = Environment.TickCount64 + MessageMilliseconds; }
        _messageLine.SetLines([new StyledLine(text, _theme.Message)]);
    }

    /// <summary>How long a message ("wrote FILE ...") stays before the hint returns: live snapshots refresh the screen
    /// ten times a second, and a message shown for one refresh cannot be read.</summary>
    private const long MessageMilliseconds = 5_000;
    private long _messageUntil;

    private void UpdateMessageLine()
    {
        if (_message is not null)
        {
            _messageLine.SetLines([new StyledLine(_message, _theme.Message)]);
            if (Environment.TickCount64 >= _messageUntil) _message = null;
            return;
        }
        string hint = _panel == _help ? "Esc: back"
            : _panel is not null ? "Esc: back"
            : _flowPage.Visible ? "1-4 graphs  5 packets  6 findings  7 transcript  +/- ←→ zoom/pan  d direction  y Wireshark filter  Esc back"
            : _snapshot.Status ?? "Enter open  f filter  s/S/r sort (or click a header)  Tab findings↔flows  ? keys";
        _messageLine.SetLines([new StyledLine(hint, _snapshot.Status is not null && !_flowPage.Visible && _panel is null ? _theme.Message : _theme.Dim)]);
    }
}
