using Terminal.Gui.Input;
using Terminal.Gui.ViewBase;
using Attr = Terminal.Gui.Drawing.Attribute;

namespace PathProbe.Cli.Tui.Views;

/// <summary>One line of a <see cref="LinesView"/>: runs of text, each with its attribute.</summary>
public sealed class StyledLine
{
    public List<(string Text, Attr? Attr)> Runs { get; } = new();

    public StyledLine() { }
    public StyledLine(string text, Attr? attr = null) => Runs.Add((text, attr));

    public StyledLine Add(string text, Attr? attr = null)
    {
        Runs.Add((text, attr));
        return this;
    }

    public string Text => string.Concat(Runs.Select(r => r.Text));
}

/// <summary>
/// A read-only, scrollable list of styled lines (findings, the SMTP transcript, a packet's detail): arrows, PgUp/PgDn,
/// Home/End and the mouse wheel scroll it; long lines are wrapped to the width. Text must already be clean.
/// </summary>
public sealed class LinesView : View
{
    private IReadOnlyList<StyledLine> _lines = [];
    private List<(StyledLine Line, int From, int To)> _wrapped = new();
    private int _wrappedWidth = -1;
    private int _top;

    public LinesView()
    {
        CanFocus = true;
        AddCommand(Command.Up, () => ScrollBy(-1));
        AddCommand(Command.Down, () => ScrollBy(1));
        AddCommand(Command.PageUp, () => ScrollBy(-Math.Max(1, Viewport.Height - 1)));
        AddCommand(Command.PageDown, () => ScrollBy(Math.Max(1, Viewport.Height - 1)));
        AddCommand(Command.Start, () => ScrollTo(0));
        AddCommand(Command.End, () => ScrollTo(int.MaxValue));
        KeyBindings.Add(Key.CursorUp, Command.Up);
        KeyBindings.Add(Key.CursorDown, Command.Down);
        KeyBindings.Add(Key.PageUp, Command.PageUp);
        KeyBindings.Add(Key.PageDown, Command.PageDown);
        KeyBindings.Add(Key.Home, Command.Start);
        KeyBindings.Add(Key.End, Command.End);
    }

    public Attr? DefaultAttr { get; set; }
    /// <summary>Wrap long lines (default) or cut them at the width (titles).</summary>
    public bool Wrap { get; set; } = true;
    /// <summary>First line on screen (after wrapping).</summary>
    public int Top => _top;
    public int LineCount => Wrapped().Count;

    public void SetLines(IReadOnlyList<StyledLine> lines, bool keepScroll = false)
    {
        _lines = lines;
        _wrappedWidth = -1;
        if (!keepScroll) _top = 0;
        SetNeedsDraw();
    }

    /// <summary>All text, one line per source line (tests).</summary>
    public string AllText => string.Join("\n", _lines.Select(l => l.Text));

    private bool? ScrollBy(int n) => ScrollTo(_top + n);

    private bool? ScrollTo(int top)
    {
        int max = Math.Max(0, Wrapped().Count - Viewport.Height);
        _top = Math.Clamp(top, 0, max);
        SetNeedsDraw();
        return true;
    }

    private List<(StyledLine Line, int From, int To)> Wrapped()
    {
        int width = Math.Max(1, Viewport.Width);
        if (_wrappedWidth == width) return _wrapped;
        _wrapped = new List<(StyledLine, int, int)>();
        foreach (var line in _lines)
        {
            int len = line.Text.Length;
            if (len <= width || !Wrap) { _wrapped.Add((line, 0, Math.Min(len, width))); continue; }
            for (int at = 0; at < len; at += width) _wrapped.Add((line, at, Math.Min(len, at + width)));
        }
        _wrappedWidth = width;
        return _wrapped;
    }

    protected override bool OnDrawingContent(DrawContext? context)
    {
        var wrapped = Wrapped();
        _top = Math.Clamp(_top, 0, Math.Max(0, wrapped.Count - Viewport.Height));
        var normal = DefaultAttr ?? GetAttributeForRole(Terminal.Gui.Drawing.VisualRole.Normal);
        for (int row = 0; row < Viewport.Height; row++)
        {
            Move(0, row);
            int x = 0;
            if (_top + row < wrapped.Count)
            {
                var (line, from, to) = wrapped[_top + row];
                int pos = 0;
                foreach (var (text, attr) in line.Runs)
                {
                    int start = Math.Max(from, pos), end = Math.Min(to, pos + text.Length);
                    if (end > start)
                    {
                        SetAttribute(attr ?? normal);
                        AddStr(text.Substring(start - pos, end - start));
                        x += end - start;
                    }
                    pos += text.Length;
                }
            }
            SetAttribute(normal);
            if (x < Viewport.Width) AddStr(new string(' ', Viewport.Width - x));
        }
        return true;
    }

    protected override bool OnMouseEvent(Mouse mouse)
    {
        if (mouse.Flags.HasFlag(MouseFlags.WheeledUp)) { ScrollBy(-3); return true; }
        if (mouse.Flags.HasFlag(MouseFlags.WheeledDown)) { ScrollBy(3); return true; }
        if (mouse.Flags.HasFlag(MouseFlags.LeftButtonClicked)) { SetFocus(); return true; }
        return false;
    }
}
