using System.Text;
using Spectre.Console;

namespace PathProbe.Cli.Tui;

/// <summary>
/// Turns rendered lines into terminal output through Spectre.Console: each line is parsed as markup (all text in it
/// was escaped by <see cref="StyledLine"/>) and written to an in-memory console, and the frame goes to the terminal
/// in one write (cursor home, each line followed by erase-to-end-of-line), so nothing flickers and nothing scrolls.
/// </summary>
public sealed class TuiScreen
{
    private readonly StringWriter _buffer = new();
    private readonly IAnsiConsole _console;

    public TuiScreen(bool color, bool ansi = true)
    {
        _console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = ansi ? AnsiSupport.Yes : AnsiSupport.No,
            ColorSystem = color ? ColorSystemSupport.Standard : ColorSystemSupport.NoColors,
            Out = new AnsiConsoleOutput(_buffer),
            Interactive = InteractionSupport.No,
        });
    }

    /// <summary>NO_COLOR (https://no-color.org): any non-empty value turns colour off.</summary>
    public static bool ColorAllowed() => string.IsNullOrEmpty(Environment.GetEnvironmentVariable("NO_COLOR"));

    /// <summary>One line as the terminal receives it.</summary>
    public string RenderLine(StyledLine line, int width)
    {
        _buffer.GetStringBuilder().Clear();
        _console.Profile.Width = Math.Max(1, width);
        _console.Write(new Markup(line.ToMarkup()) { Overflow = Overflow.Crop });
        return _buffer.ToString().TrimEnd('\n', '\r');
    }

    /// <summary>The whole frame: cursor home, lines, erase the rest of the screen.</summary>
    public string Frame(IReadOnlyList<StyledLine> lines, int width)
    {
        var sb = new StringBuilder("\u001b[H");
        for (int i = 0; i < lines.Count; i++)
        {
            sb.Append(RenderLine(lines[i], width)).Append("\u001b[K");
            if (i < lines.Count - 1) sb.Append("\r\n");
        }
        return sb.Append("\u001b[J").ToString();
    }

    /// <summary>Plain text of the frame (tests; no colours, no escapes).</summary>
    public static string Plain(IReadOnlyList<StyledLine> lines, int width)
    {
        var screen = new TuiScreen(color: false, ansi: false);
        var sb = new StringBuilder();
        foreach (var l in lines) sb.Append(screen.RenderLine(l, width).TrimEnd()).Append('\n');
        return sb.ToString();
    }
}
