using System.Text.RegularExpressions;

namespace PathProbe.Tests.Support;

/// <summary>Report text for assertions: the text report wraps its lines to the terminal's width (80 when not a
/// terminal), so a phrase may span lines; <see cref="Flat"/> makes it one line of single spaces.</summary>
public static class TestText
{
    public static string Flat(string text) => Regex.Replace(text, @"\s+", " ");
}
