using PathProbe.Cli.Tui.Model;
using PathProbe.Findings;
using Terminal.Gui.Drawing;
using Attr = Terminal.Gui.Drawing.Attribute;

namespace PathProbe.Cli.Tui.Views;

/// <summary>
/// Colours of the TUI, in one place. With <c>NO_COLOR</c> set (https://no-color.org) every attribute uses the
/// terminal's own colours (<see cref="Color.None"/>) and meaning is carried by text styles and glyphs instead: bold for
/// critical, underline for warnings, reverse for the selection, and marks such as "!!" and "×" that read without colour.
/// </summary>
public sealed class Theme
{
    public bool Mono { get; }

    public Theme(bool mono) => Mono = mono;

    /// <summary>NO_COLOR is honoured when it is set to anything (the spec says: present and not empty).</summary>
    public static Theme FromEnvironment() => new(!string.IsNullOrEmpty(Environment.GetEnvironmentVariable("NO_COLOR")));

    private static readonly Color Bg = Color.None;

    private Attr A(Color fg, TextStyle style = TextStyle.None) => Mono ? new Attr(Color.None, Bg, MonoStyle(style, fg)) : new Attr(fg, Bg, style);

    private static TextStyle MonoStyle(TextStyle style, Color fg) => style;

    /// <summary>The window's scheme: the terminal's colours; the focus and selection in reverse video.</summary>
    public Scheme Base => new()
    {
        Normal = new Attr(Color.None, Bg),
        Focus = new Attr(Color.None, Bg, TextStyle.Reverse),
        HotNormal = new Attr(Mono ? Color.None : Color.BrightCyan, Bg, TextStyle.Underline),
        HotFocus = new Attr(Color.None, Bg, TextStyle.Reverse | TextStyle.Underline),
        Active = new Attr(Color.None, Bg, TextStyle.Reverse | TextStyle.Bold),
        HotActive = new Attr(Color.None, Bg, TextStyle.Reverse | TextStyle.Bold | TextStyle.Underline),
        Highlight = new Attr(Color.None, Bg, TextStyle.Bold),
        Editable = new Attr(Color.None, Bg, TextStyle.Underline),
        ReadOnly = new Attr(Color.None, Bg),
        Disabled = new Attr(Mono ? Color.None : Color.DarkGray, Bg, Mono ? TextStyle.Faint : TextStyle.None),
    };

    public Attr Normal => new(Color.None, Bg);
    public Attr Dim => Mono ? new Attr(Color.None, Bg, TextStyle.Faint) : new Attr(Color.DarkGray, Bg);
    public Attr Bold => new(Color.None, Bg, TextStyle.Bold);
    public Attr Selected => new(Color.None, Bg, TextStyle.Reverse);
    public Attr Title => new(Color.None, Bg, TextStyle.Bold | TextStyle.Underline);
    public Attr Message => A(Color.BrightYellow, TextStyle.Bold);

    public Attr Severity(Severity s) => s switch
    {
        Findings.Severity.Critical => A(Color.BrightRed, TextStyle.Bold),
        Findings.Severity.Warning => A(Color.BrightYellow, Mono ? TextStyle.Underline : TextStyle.None),
        _ => A(Color.BrightCyan),
    };

    public Attr Severity(int s) => s < 0 ? Normal : Severity((Severity)s);

    public Attr Ink(Ink ink) => ink switch
    {
        Model.Ink.Axis => Dim,
        Model.Ink.Data => A(Color.BrightGreen),
        Model.Ink.Resent => A(Color.BrightRed, TextStyle.Bold),
        Model.Ink.Ack => A(Color.BrightYellow),
        Model.Ink.Window => A(Color.Cyan),
        Model.Ink.Sack => A(Color.BrightMagenta),
        Model.Ink.Mss => A(Color.BrightCyan),
        Model.Ink.Ceiling => A(Color.BrightMagenta, TextStyle.Bold),
        Model.Ink.Rtt => A(Color.BrightGreen),
        Model.Ink.Median => A(Color.BrightYellow),
        Model.Ink.Throughput => A(Color.BrightGreen),
        Model.Ink.Goodput => A(Color.BrightYellow),
        Model.Ink.Stall => A(Color.BrightRed),
        Model.Ink.Phase => A(Color.BrightCyan, TextStyle.Bold),
        Model.Ink.Body => A(Color.Cyan),
        Model.Ink.Critical => Severity(Findings.Severity.Critical),
        Model.Ink.Warning => Severity(Findings.Severity.Warning),
        Model.Ink.Info => Severity(Findings.Severity.Info),
        _ => Normal,
    };

    /// <summary>Without colour, plot cells that colour alone would tell apart get a glyph of their own: resent data "×",
    /// SACK blocks "s", the receive window "w".</summary>
    public string Glyph(PlotCell c)
    {
        if (!Mono || c.Text.Length != 1 || c.Text[0] < '\u2800' || c.Text[0] > '\u28ff') return c.Text;
        return c.Ink switch { Model.Ink.Resent => "×", Model.Ink.Sack => "s", Model.Ink.Window => "w", _ => c.Text };
    }
}
