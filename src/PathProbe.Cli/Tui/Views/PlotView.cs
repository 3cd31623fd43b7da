using PathProbe.Cli.Tui.Model;
using Terminal.Gui.Input;
using Terminal.Gui.ViewBase;

namespace PathProbe.Cli.Tui.Views;

/// <summary>
/// Draws one of a flow's graphs (<see cref="Graphs"/>) in braille cells and lets the mouse zoom and pan it: the wheel
/// zooms in and out around the time under the pointer, shift+wheel or the horizontal wheel pans, a click focuses it.
/// Keys are handled by the flow page (they apply to all four graphs).
/// </summary>
public sealed class PlotView(Theme theme) : View
{
    private Plot? _plot;

    /// <summary>Builds the plot for a width in dot columns; null when there is nothing to draw.</summary>
    public Func<int, Plot?>? Source { get; set; }
    public TimeWindow Window { get; } = new();
    /// <summary>Raised when the mouse changed the window.</summary>
    public event Action? WindowChanged;
    /// <summary>Text drawn when there is no plot.</summary>
    public string Empty { get; set; } = "";
    /// <summary>The plot last drawn (tests).</summary>
    public Plot? Last => _plot;

    protected override bool OnDrawingContent(DrawContext? context)
    {
        _plot = Source?.Invoke(PlotRenderer.DotColumns(Viewport.Width));
        if (_plot is null)
        {
            SetAttribute(theme.Dim);
            for (int row = 0; row < Viewport.Height; row++)
                AddStr(0, row, (row == 0 ? Empty : "").PadRight(Viewport.Width));
            return true;
        }
        var grid = PlotRenderer.Render(_plot, Viewport.Width, Viewport.Height);
        for (int row = 0; row < Math.Min(grid.Length, Viewport.Height); row++)
        {
            Move(0, row);
            var cells = grid[row];
            for (int col = 0; col < Math.Min(cells.Length, Viewport.Width); col++)
            {
                SetAttribute(theme.Ink(cells[col].Ink));
                AddStr(theme.Glyph(cells[col]));
            }
        }
        return true;
    }

    protected override bool OnMouseEvent(Mouse mouse)
    {
        var f = mouse.Flags;
        double anchor = 0.5;
        if (mouse.Position is { } pos) anchor = Math.Clamp((pos.X - PlotRenderer.Gutter) / (double)Math.Max(1, Viewport.Width - PlotRenderer.Gutter), 0, 1);
        bool shift = f.HasFlag(MouseFlags.Shift);
        if (f.HasFlag(MouseFlags.WheeledLeft) || (shift && f.HasFlag(MouseFlags.WheeledUp))) { Window.PanBy(-0.2); Changed(); return true; }
        if (f.HasFlag(MouseFlags.WheeledRight) || (shift && f.HasFlag(MouseFlags.WheeledDown))) { Window.PanBy(0.2); Changed(); return true; }
        if (f.HasFlag(MouseFlags.WheeledUp)) { Window.ZoomBy(2, anchor); Changed(); return true; }
        if (f.HasFlag(MouseFlags.WheeledDown)) { Window.ZoomBy(0.5, anchor); Changed(); return true; }
        if (f.HasFlag(MouseFlags.LeftButtonClicked)) { SetFocus(); return true; }
        return false;
    }

    private void Changed()
    {
        SetNeedsDraw();
        WindowChanged?.Invoke();
    }
}
