using System.Text;
using Spectre.Console;

namespace PathProbe.Cli.Tui;

/// <summary>One screen line as styled runs, cropped to a width. Text is escaped for Spectre markup when the line is
/// turned into markup, so callers pass plain text (already cleaned with SafeText when it came from the network).</summary>
public sealed class StyledLine(int width)
{
    private readonly List<(string Text, string? Style)> _runs = new();
    public int Width { get; } = width;
    public int Length { get; private set; }

    public StyledLine Add(string text, string? style = null)
    {
        if (Length >= Width || text.Length == 0) return this;
        if (Length + text.Length > Width) text = Width - Length > 1 ? text[..(Width - Length - 1)] + "…" : text[..(Width - Length)];
        if (_runs.Count > 0 && _runs[^1].Style == style) _runs[^1] = (_runs[^1].Text + text, style);
        else _runs.Add((text, style));
        Length += text.Length;
        return this;
    }

    public StyledLine Pad(int column, string? style = null) => column > Length ? Add(new string(' ', column - Length), style) : this;

    public IReadOnlyList<(string Text, string? Style)> Runs => _runs;

    public string Plain
    {
        get
        {
            var sb = new StringBuilder(Length);
            foreach (var (t, _) in _runs) sb.Append(t);
            return sb.ToString();
        }
    }

    public string ToMarkup()
    {
        var sb = new StringBuilder(Length + 16);
        foreach (var (t, s) in _runs)
        {
            if (s is null) sb.Append(Markup.Escape(t));
            else sb.Append('[').Append(s).Append(']').Append(Markup.Escape(t)).Append("[/]");
        }
        return sb.ToString();
    }
}
