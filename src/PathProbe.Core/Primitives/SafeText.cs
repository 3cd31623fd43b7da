using System.Text;

namespace PathProbe.Primitives;

/// <summary>
/// Makes text that came from packets or files safe for a terminal: C0/C1 control characters (including ESC, so
/// no ANSI sequence survives), DEL, bidi overrides and invalid UTF-8 are replaced by visible escapes.
/// </summary>
public static class SafeText
{
    public static string Clean(string? s, int maxLength = 1024)
    {
        if (string.IsNullOrEmpty(s)) return s ?? "";
        bool clean = s.Length <= maxLength;
        if (clean)
            foreach (char c in s)
                if (IsUnsafe(c)) { clean = false; break; }
        if (clean) return s;

        var sb = new StringBuilder(Math.Min(s.Length, maxLength) + 16);
        foreach (char c in s)
        {
            if (sb.Length >= maxLength) { sb.Append('…'); break; }
            if (IsUnsafe(c)) sb.Append("\\x").Append(((int)c).ToString(c > 0xFF ? "x4" : "x2"));
            else sb.Append(c);
        }
        return sb.ToString();
    }

    /// <summary>Decodes bytes from the wire as UTF-8 (invalid sequences become U+FFFD) and cleans the result.</summary>
    public static string FromBytes(ReadOnlySpan<byte> bytes, int maxLength = 1024) =>
        Clean(Encoding.UTF8.GetString(bytes.Length > maxLength * 4 ? bytes[..(maxLength * 4)] : bytes), maxLength);

    /// <summary>A character <see cref="Clean"/> escapes.</summary>
    public static bool IsUnsafe(char c) =>
        c < 0x20 || (c >= 0x7F && c < 0xA0) || c is '\u200E' or '\u200F' || (c >= '\u202A' && c <= '\u202E') || (c >= '\u2066' && c <= '\u2069');
}
