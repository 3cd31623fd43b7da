using System.Globalization;
using PathProbe.Cli.Tui.Model;
using PathProbe.Findings;
using Terminal.Gui.Input;
using Terminal.Gui.ViewBase;
using Terminal.Gui.Views;

namespace PathProbe.Cli.Tui.Views;

/// <summary>The tabs of the flow view.</summary>
public enum FlowTab : byte { Sequence, Sizes, Throughput, Rtt, Packets, Findings, Transcript }

/// <summary>
/// One flow: a title with its numbers, a tab strip, and the tab's content: one of the four graphs (with the flow's
/// findings and transcript beside it on a large screen), the packet list with the selected packet's detail, the
/// findings, or the SMTP transcript.
/// </summary>
public sealed class FlowPage : View
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;
    private readonly Theme _theme;
    private readonly Action<Action> _post;
    private readonly LinesView _title = new() { CanFocus = false, Wrap = false };
    private readonly TabStrip _tabs;
    private readonly PlotView _plot;
    private readonly LinesView _sideFindings = new();
    private readonly LinesView _sideTranscript = new();
    private readonly LinesView _findings = new();
    private readonly LinesView _transcript = new();
    private readonly TableView _packets;
    private readonly PacketTableSource _packetSource = new();
    private readonly LinesView _packetDetail = new();
    private CancellationTokenSource? _scan;
    private int _scannedFlow = -1;
    private PacketList? _packetList;
    private string _packetStatus = "";
    private long _detailRequest;

    public FlowPage(Theme theme, Action<Action> post)
    {
        _theme = theme;
        _post = post;
        CanFocus = true;
        _plot = new PlotView(theme) { CanFocus = true };
        _plot.WindowChanged += () => SetNeedsDraw();
        _plot.Source = BuildPlot;
        _tabs = new TabStrip(theme);
        _tabs.Selected += t => Show(t);
        _packets = new TableView { Table = _packetSource, FullRowSelect = true, MultiSelect = false, UseAllRowsForContentCalculation = false };
        _packets.CollectionNavigator = null;
        _packets.Style.AlwaysShowHeaders = true;
        _packets.Style.ShowVerticalCellLines = false;
        _packets.Style.ShowHorizontalHeaderOverline = false;
        _packets.Style.ShowVerticalHeaderLines = false;
        _packets.Style.ExpandLastColumn = true;
        _packets.ValueChanged += (_, _) => ShowPacket();
        Add(_title, _tabs, _plot, _sideFindings, _sideTranscript, _findings, _transcript, _packets, _packetDetail);
        Show(FlowTab.Sequence);
    }

    public FlowDetail? Detail { get; private set; }
    public FlowTab Tab { get; private set; }
    public bool ClientToServer { get; private set; } = true;
    public TimeWindow Window => _plot.Window;
    public PlotView Plot => _plot;
    public TableView PacketTable => _packets;
    public LinesView PacketDetail => _packetDetail;
    public PacketList? Packets => _packetList;
    /// <summary>Where the packets are read from (and the readable length when live).</summary>
    public Func<Task<(PacketStoreInfo Store, long Limit)?>>? PacketStore { get; set; }

    /// <summary>Shows <paramref name="d"/>; a new flow resets zoom, direction and the packet list.</summary>
    public void SetDetail(FlowDetail d)
    {
        bool newFlow = Detail?.Row.Id != d.Row.Id;
        Detail = d;
        if (newFlow)
        {
            Window.Reset();
            ClientToServer = d.ClientSendsMore;
            _scan?.Cancel();
            _packetList = null;
            _scannedFlow = -1;
            _packetSource.Packets = [];
            _packetDetail.SetLines([]);
            if (Tab == FlowTab.Packets) StartScan();
        }
        Refresh(keepScroll: !newFlow);
    }

    private void Refresh(bool keepScroll)
    {
        var d = Detail;
        if (d is null) return;
        _title.SetLines(TitleLines(d));
        _tabs.Labels =
        [
            "1 time-sequence", "2 sizes", "3 throughput", "4 RTT",
            $"5 packets{(_packetList is { } pl ? " (" + pl.Packets.Count.ToString(Inv) + ")" : "")}",
            $"6 findings ({d.Verdicts.Count})", $"7 transcript ({d.Transcript.Count})",
        ];
        _tabs.Current = Tab;
        _tabs.Note = Tab <= FlowTab.Rtt ? (ClientToServer ? "d: client→server" : "d: server→client") + (Window.Zoom > 1 ? $"  ×{Window.Zoom:0}" : "") : "";
        var findings = FindingLines(d.Verdicts);
        _findings.SetLines(findings, keepScroll);
        _sideFindings.SetLines(findings, keepScroll);
        var transcript = TranscriptLines(d);
        _transcript.SetLines(transcript, keepScroll);
        _sideTranscript.SetLines(transcript, keepScroll);
        _plot.Empty = d.NoTimeline ?? "";
        SetNeedsDraw();
    }

    private List<StyledLine> TitleLines(FlowDetail d)
    {
        var r = d.Row;
        var first = new StyledLine();
        if (r.Severity >= 0) first.Add(FlowRows.SeverityMarker(r.Severity) + " ", _theme.Severity(r.Severity));
        first.Add($"#{r.Id} {r.Protocol} ", _theme.Bold).Add($"{r.Client} → {r.Server}");
        if (r.Application.Length > 0) first.Add("  " + r.Application, _theme.Ink(Ink.Phase));
        var second = new StyledLine(
            $"{r.State} · {FlowRows.Duration(r.DurationNanos)} · packets {FlowRows.N(r.PacketsToServer)}/{FlowRows.N(r.PacketsToClient)} · " +
            $"bytes {FlowRows.Bytes(r.BytesToServer)}/{FlowRows.Bytes(r.BytesToClient)}" +
            (r.RetransmissionsClient >= 0 ? $" · retx {FlowRows.N(r.RetransmissionsClient)}/{FlowRows.N(r.RetransmissionsServer)} · RTT {FlowRows.RttText(r.RttMs)} ms" : "") +
            $" · MSS {(r.MssClient == 0 ? "-" : r.MssClient.ToString(Inv))}/{(r.MssServer == 0 ? "-" : r.MssServer.ToString(Inv))} · max IP {r.MaxIpClient}/{r.MaxIpServer}", _theme.Dim);
        return [first, second];
    }

    private List<StyledLine> FindingLines(IReadOnlyList<TuiVerdict> verdicts)
    {
        var lines = new List<StyledLine>();
        if (verdicts.Count == 0) { lines.Add(new StyledLine("no findings for this flow", _theme.Dim)); return lines; }
        foreach (var v in verdicts.OrderByDescending(v => v.Severity).ThenBy(v => v.Kind, StringComparer.Ordinal).ThenBy(v => v.Time))
        {
            lines.Add(new StyledLine().Add(FlowRows.SeverityMarker((int)v.Severity) + " " + v.SeverityName + " ", _theme.Severity(v.Severity)).Add(v.Kind, _theme.Bold)
                .Add("  " + FlowRows.Offset(v.Time - (Detail?.Start ?? v.Time)), _theme.Dim));
            lines.Add(new StyledLine("  " + v.Summary));
            if (v.Evidence.Length > 0) lines.Add(new StyledLine("  evidence: " + v.Evidence, _theme.Dim));
            if (v.Advice is not null) lines.Add(new StyledLine("  advice: " + v.Advice, _theme.Ink(Ink.Data)));
            lines.Add(new StyledLine(""));
        }
        return lines;
    }

    private List<StyledLine> TranscriptLines(FlowDetail d)
    {
        var lines = new List<StyledLine>();
        if (d.Transcript.Count == 0)
        {
            lines.Add(new StyledLine(d.Row.AppName == "smtp" ? "no SMTP dialogue decoded for this flow" : "not an SMTP flow", _theme.Dim));
            return lines;
        }
        foreach (var t in d.Transcript)
        {
            bool error = !t.FromClient && t.Text.Length > 0 && t.Text[0] is '4' or '5';
            lines.Add(new StyledLine().Add(FlowRows.Offset(t.Time - d.Start).PadLeft(9) + " ", _theme.Dim)
                .Add(t.FromClient ? "C: " : "S: ", _theme.Ink(t.FromClient ? Ink.Phase : Ink.Body))
                .Add(t.Text, error ? _theme.Severity(Severity.Critical) : null));
        }
        return lines;
    }

    private Plot? BuildPlot(int dotColumns)
    {
        var d = Detail;
        if (d is null || d.NoTimeline is not null || d.Points.Length == 0 || Tab > FlowTab.Rtt) return null;
        return Graphs.Build((GraphKind)Tab, d, ClientToServer, Window, dotColumns);
    }

    /// <summary>Switches to <paramref name="tab"/>.</summary>
    public void Show(FlowTab tab)
    {
        Tab = tab;
        bool graph = tab <= FlowTab.Rtt;
        _plot.Visible = graph;
        _findings.Visible = tab == FlowTab.Findings;
        _transcript.Visible = tab == FlowTab.Transcript;
        _packets.Visible = _packetDetail.Visible = tab == FlowTab.Packets;
        Layout2();
        if (tab == FlowTab.Packets && _scannedFlow != Detail?.Row.Id) StartScan();
        Refresh(keepScroll: true);
        (graph ? (View)_plot : tab == FlowTab.Packets ? _packets : tab == FlowTab.Findings ? _findings : _transcript).SetFocus();
    }

    protected override void OnViewportChanged(DrawEventArgs e)
    {
        base.OnViewportChanged(e);
        Layout2();
    }

    /// <summary>Places the subviews for the current tab and size (on a large screen the graph shares the page with
    /// the findings and the transcript).</summary>
    private (int W, int H, FlowTab Tab) _laidOut = (-1, -1, FlowTab.Sequence);

    private void Layout2()
    {
        int w = Viewport.Width, h = Viewport.Height;
        // Only when the size or the tab changed: setting a position marks the layout dirty, and a dirty layout redraws.
        if (_laidOut == (w, h, Tab)) return;
        _laidOut = (w, h, Tab);
        _title.X = 0; _title.Y = 0; _title.Width = Dim.Fill(); _title.Height = 2;
        _tabs.X = 0; _tabs.Y = 2; _tabs.Width = Dim.Fill(); _tabs.Height = 1;
        int top = 3, body = Math.Max(1, h - top);
        bool graph = Tab <= FlowTab.Rtt;
        bool side = graph && h >= 40 && w >= 120;
        _sideFindings.Visible = _sideTranscript.Visible = side;
        int plotHeight = side ? Math.Max(12, body * 3 / 5) : body;
        _plot.X = 0; _plot.Y = top; _plot.Width = Dim.Fill(); _plot.Height = plotHeight;
        if (side)
        {
            int half = w / 2;
            _sideFindings.X = 0; _sideFindings.Y = top + plotHeight; _sideFindings.Width = half - 1; _sideFindings.Height = body - plotHeight;
            _sideTranscript.X = half; _sideTranscript.Y = top + plotHeight; _sideTranscript.Width = w - half; _sideTranscript.Height = body - plotHeight;
        }
        foreach (var v in new View[] { _findings, _transcript }) { v.X = 0; v.Y = top; v.Width = Dim.Fill(); v.Height = body; }
        int listHeight = Math.Max(4, body * 2 / 5);
        _packets.X = 0; _packets.Y = top; _packets.Width = Dim.Fill(); _packets.Height = listHeight;
        _packetDetail.X = 0; _packetDetail.Y = top + listHeight; _packetDetail.Width = Dim.Fill(); _packetDetail.Height = Math.Max(1, body - listHeight);
        SetNeedsLayout();
    }

    /// <summary>Handles a flow-view key; false when it is not one.</summary>
    public bool Do(KeyAct act)
    {
        switch (act)
        {
            case KeyAct.Graph1: Show(FlowTab.Sequence); return true;
            case KeyAct.Graph2: Show(FlowTab.Sizes); return true;
            case KeyAct.Graph3: Show(FlowTab.Throughput); return true;
            case KeyAct.Graph4: Show(FlowTab.Rtt); return true;
            case KeyAct.Packets: Show(FlowTab.Packets); return true;
            case KeyAct.FindingsTab: Show(FlowTab.Findings); return true;
            case KeyAct.Transcript: Show(FlowTab.Transcript); return true;
        }
        if (Tab > FlowTab.Rtt) return false;
        switch (act)
        {
            case KeyAct.ZoomIn: Window.ZoomBy(2); break;
            case KeyAct.ZoomOut: Window.ZoomBy(0.5); break;
            case KeyAct.PanLeft: Window.PanBy(-0.25); break;
            case KeyAct.PanRight: Window.PanBy(0.25); break;
            case KeyAct.WholeFlow: Window.Reset(); break;
            case KeyAct.Direction: ClientToServer = !ClientToServer; break;
            default: return false;
        }
        Refresh(keepScroll: true);
        return true;
    }

    // ---- packets ------------------------------------------------------------------------------------------------------

    private void StartScan()
    {
        var d = Detail;
        if (d is null || PacketStore is null) return;
        _scan?.Cancel();
        var cancel = _scan = new CancellationTokenSource();
        _scannedFlow = d.Row.Id;
        _packetStatus = "reading the flow's packets…";
        _packetDetail.SetLines([new StyledLine(_packetStatus, _theme.Dim)]);
        var storeTask = PacketStore;
        Task.Run(async () =>
        {
            PacketList list;
            try
            {
                var store = await storeTask();
                if (store is null) list = new PacketList([], 0, false, "the packets of this input cannot be read again (no capture file)");
                else list = Model.PacketStore.Scan(store.Value.Store, d, store.Value.Limit, share => _post(() =>
                {
                    if (_packetList is null) _packetDetail.SetLines([new StyledLine($"reading the flow's packets… {share * 100:0}%", _theme.Dim)]);
                }), cancel.Token);
                list = list with { };
                var storeInfo = store?.Store;
                _post(() => { if (!cancel.IsCancellationRequested) PacketsRead(list, storeInfo); });
            }
            catch (OperationCanceledException) { }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                _post(() => PacketsRead(new PacketList([], 0, false, e.Message), null));
            }
        });
    }

    private PacketStoreInfo? _store;

    private void PacketsRead(PacketList list, PacketStoreInfo? store)
    {
        _packetList = list;
        _store = store;
        _packetSource.Packets = list.Packets;
        _packetSource.Origin = Detail?.Start ?? 0;
        _packets.Update();
        if (list.Packets.Count > 0) _packets.SetSelection(0, 0, false, null!);
        var status = new List<StyledLine>();
        if (list.Error is not null) status.Add(new StyledLine(list.Error, _theme.Severity(Severity.Warning)));
        if (list.Truncated) status.Add(new StyledLine($"the first {FlowRows.N(list.Packets.Count)} packets are listed", _theme.Dim));
        if (list.Packets.Count == 0 && list.Error is null) status.Add(new StyledLine("no packets of this flow found in the capture", _theme.Dim));
        if (status.Count > 0) _packetDetail.SetLines(status);
        else ShowPacket();
        Refresh(keepScroll: true);
    }

    private void ShowPacket()
    {
        if (_packetList is not { } list || _store is not { } store || Detail is not { } d) return;
        int row = _packets.Value?.SelectedCell.Y ?? -1;
        if (row < 0 || row >= list.Packets.Count) return;
        var entry = list.Packets[row];
        long request = ++_detailRequest;
        Task.Run(() =>
        {
            List<string> lines;
            try { lines = PacketDissector.Dissect(entry, Model.PacketStore.Read(store, entry), d); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { lines = [$"cannot read packet {entry.Number}: {e.Message}"]; }
            _post(() =>
            {
                if (request != _detailRequest) return;
                _packetDetail.SetLines(lines.Select(l => new StyledLine(l, l.StartsWith("Bytes:", StringComparison.Ordinal) || l.StartsWith('0') ? _theme.Dim : null)).ToList());
            });
        });
    }
}

/// <summary>A row of tab labels; a click selects one.</summary>
public sealed class TabStrip(Theme theme) : View
{
    private readonly List<(int From, int To)> _spans = new();
    public string[] Labels { get; set; } = [];
    public FlowTab Current { get; set; }
    public string Note { get; set; } = "";
    public event Action<FlowTab>? Selected;

    protected override bool OnDrawingContent(DrawContext? context)
    {
        _spans.Clear();
        Move(0, 0);
        int x = 0;
        for (int i = 0; i < Labels.Length; i++)
        {
            string text = $" {Labels[i]} ";
            SetAttribute(i == (int)Current ? theme.Selected : theme.Normal);
            AddStr(text);
            _spans.Add((x, x + text.Length));
            x += text.Length;
            SetAttribute(theme.Dim);
            AddStr("│");
            x++;
        }
        SetAttribute(theme.Dim);
        string note = " " + Note;
        AddStr(note.Length + x <= Viewport.Width ? note.PadRight(Viewport.Width - x) : new string(' ', Math.Max(0, Viewport.Width - x)));
        return true;
    }

    protected override bool OnMouseEvent(Mouse mouse)
    {
        if (!mouse.Flags.HasFlag(MouseFlags.LeftButtonClicked) || mouse.Position is not { } p) return false;
        for (int i = 0; i < _spans.Count; i++)
            if (p.X >= _spans[i].From && p.X < _spans[i].To) { Selected?.Invoke((FlowTab)i); return true; }
        return false;
    }
}
