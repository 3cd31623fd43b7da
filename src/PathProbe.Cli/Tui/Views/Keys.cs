using Terminal.Gui.Input;

namespace PathProbe.Cli.Tui.Views;

/// <summary>Where a key works.</summary>
public enum KeyScope : byte { Everywhere, FlowList, FlowView, Graphs, Packets }

/// <summary>What a key does; <see cref="None"/> marks keys the focused table or text handles itself (listed for the help).</summary>
public enum KeyAct : byte
{
    None, Quit, Back, Help, Menu, Filter, SortNext, SortPrevious, SortReverse, Open, Pause, Write,
    Graph1, Graph2, Graph3, Graph4, Packets, FindingsTab, Transcript, ZoomIn, ZoomOut, PanLeft, PanRight, WholeFlow, Direction, CopyFilter,
}

/// <summary>A key, what it does and where: the one table the key handler dispatches from and the help lists.</summary>
public sealed record KeyEntry(Key[] Keys, string Label, string What, KeyScope Scope, KeyAct Act);

public static class KeyTable
{
    public static readonly KeyEntry[] All =
    [
        new([Key.Q.WithCtrl, Key.Q, Key.C.WithCtrl], "Ctrl+Q  q  Ctrl+C", "quit (exit status 1 when a critical finding is shown, as analyze)", KeyScope.Everywhere, KeyAct.Quit),
        new([Key.Esc, Key.Backspace], "Esc  Backspace", "back: close the panel, leave the flow view, clear the filter", KeyScope.Everywhere, KeyAct.Back),
        new([new Key('?'), Key.F1], "?  F1", "this help", KeyScope.Everywhere, KeyAct.Help),
        new([Key.F9], "F9", "the menu (or click it)", KeyScope.Everywhere, KeyAct.Menu),
        new([Key.P], "p", "pause the screen (capture and analysis go on); again to resume", KeyScope.Everywhere, KeyAct.Pause),
        new([Key.W], "w", "write the capture so far to pathprobe-YYYYMMDD-HHMMSS.pcapng here", KeyScope.Everywhere, KeyAct.Write),
        new([Key.Tab, Key.Tab.WithShift], "Tab  Shift+Tab", "next / previous pane (findings ↔ flows; graph, packets, detail)", KeyScope.Everywhere, KeyAct.None),
        new([], "↑ ↓ PgUp PgDn", "move in a table; scroll a text pane (the mouse wheel too)", KeyScope.Everywhere, KeyAct.None),
        new([], "Ctrl+Home Ctrl+End", "first / last row", KeyScope.Everywhere, KeyAct.None),

        new([Key.Enter], "Enter  double-click", "open the selected flow; on a finding: its flow, or list its flows when there are several", KeyScope.FlowList, KeyAct.Open),
        new([Key.F, new Key('/')], "f  /", "filter flows: host, port, application, finding kind, text", KeyScope.FlowList, KeyAct.Filter),
        new([Key.S], "s  (click a header)", "sort by the next column (click: by that column; again: reverse)", KeyScope.FlowList, KeyAct.SortNext),
        new([Key.S.WithShift], "S", "sort by the previous column", KeyScope.FlowList, KeyAct.SortPrevious),
        new([Key.R], "r", "reverse the sort order", KeyScope.FlowList, KeyAct.SortReverse),

        new([Key.D1], "1", "time-sequence graph (Stevens/tcptrace)", KeyScope.FlowView, KeyAct.Graph1),
        new([Key.D2], "2", "packet sizes against MSS and the path-MTU ceiling", KeyScope.FlowView, KeyAct.Graph2),
        new([Key.D3], "3", "throughput", KeyScope.FlowView, KeyAct.Graph3),
        new([Key.D4], "4", "RTT", KeyScope.FlowView, KeyAct.Graph4),
        new([Key.D5], "5", "packet list and the selected packet's headers and bytes", KeyScope.FlowView, KeyAct.Packets),
        new([Key.D6], "6", "the flow's findings", KeyScope.FlowView, KeyAct.FindingsTab),
        new([Key.D7], "7", "SMTP transcript", KeyScope.FlowView, KeyAct.Transcript),
        new([Key.Y], "y", "copy a Wireshark display filter for this flow (shown too)", KeyScope.FlowView, KeyAct.CopyFilter),

        new([new Key('+'), new Key('=')], "+  wheel up", "zoom in (at the pointer with the wheel)", KeyScope.Graphs, KeyAct.ZoomIn),
        new([new Key('-'), new Key('_')], "-  wheel down", "zoom out", KeyScope.Graphs, KeyAct.ZoomOut),
        new([Key.CursorLeft], "←  shift+wheel", "pan earlier", KeyScope.Graphs, KeyAct.PanLeft),
        new([Key.CursorRight], "→  shift+wheel", "pan later", KeyScope.Graphs, KeyAct.PanRight),
        new([Key.D0, Key.Home], "0  Home", "the whole flow", KeyScope.Graphs, KeyAct.WholeFlow),
        new([Key.D], "d", "direction: client→server ↔ server→client", KeyScope.Graphs, KeyAct.Direction),

        new([], "↑ ↓ (list)", "select a packet: its headers, SMTP line or DNS message and bytes show below", KeyScope.Packets, KeyAct.None),
    ];

    public static string ScopeName(KeyScope s) => s switch
    {
        KeyScope.Everywhere => "Everywhere",
        KeyScope.FlowList => "Flow list and findings",
        KeyScope.FlowView => "Flow view",
        KeyScope.Graphs => "Graphs (1-4)",
        _ => "Packets (5)",
    };

    /// <summary>The entry bound to <paramref name="key"/> in one of <paramref name="scopes"/>, or null.</summary>
    public static KeyEntry? Find(Key key, params KeyScope[] scopes)
    {
        foreach (var e in All)
        {
            if (Array.IndexOf(scopes, e.Scope) < 0 || e.Act == KeyAct.None) continue;
            foreach (var k in e.Keys) if (Same(k, key)) return e;
        }
        return null;
    }

    private static bool Same(Key a, Key b)
    {
        if (a.KeyCode == b.KeyCode) return true;
        // Printable keys may arrive with or without the shift modifier ('?' is Shift+/ on most layouts).
        return a.TryGetPrintableRune(out var ra) && b.TryGetPrintableRune(out var rb) && ra == rb && !a.IsCtrl && !b.IsCtrl && !a.IsAlt && !b.IsAlt;
    }
}
