using System.Buffers;
using PathProbe.Primitives;

namespace PathProbe.Protocols.Smtp;

/// <summary>Helpers that turn wire bytes of SMTP lines into kept, display-safe text.</summary>
internal static class SmtpText
{
    private static readonly SearchValues<byte> Odd = SearchValues.Create([0, .. Enumerable.Range(0x80, 0x80).Select(i => (byte)i)]);

    /// <summary>Where the first byte <see cref="CountOdd"/> counts is in <paramref name="line"/>, or -1.</summary>
    public static int FirstOdd(ReadOnlySpan<byte> line) => line.IndexOfAny(Odd);

    /// <summary>Counts NUL and non-ASCII bytes of a line.</summary>
    public static void CountOdd(ReadOnlySpan<byte> line, ref SmtpAnomalies a)
    {
        int i;
        while ((i = line.IndexOfAny(Odd)) >= 0)
        {
            if (line[i] == 0) a.NulBytes++; else a.NonAsciiBytes++;
            line = line[(i + 1)..];
        }
    }

    /// <summary>ASCII text for display: NUL dropped, each non-ASCII byte shown as '?', then <see cref="SafeText.Clean"/>
    /// (control characters escaped). SMTPUTF8 addresses thus lose their non-ASCII letters: the display never
    /// carries bytes an attacker chose beyond ASCII.</summary>
    public static string ToDisplay(ReadOnlySpan<byte> bytes, int maxLength)
    {
        if (bytes.Length > maxLength) bytes = bytes[..maxLength];
        if (bytes.IsEmpty) return "";
        Span<char> buf = bytes.Length <= 512 ? stackalloc char[bytes.Length] : new char[bytes.Length];
        return SafeText.Clean(new string(buf[..AsciiChars(bytes, buf)]), maxLength);
    }

    /// <summary>The characters <see cref="ToDisplay"/> shows for <paramref name="bytes"/> (NUL dropped, non-ASCII as
    /// '?'), written into <paramref name="into"/>; returns how many.</summary>
    private static int AsciiChars(ReadOnlySpan<byte> bytes, Span<char> into)
    {
        int n = 0;
        foreach (byte b in bytes)
        {
            if (b == 0) continue;
            into[n++] = b < 0x80 ? (char)b : '?';
        }
        return n;
    }

    /// <summary>
    /// <see cref="ToDisplay"/> for text that repeats across sessions (reply lines, enhanced codes, EHLO keywords): a
    /// text seen before is the same string, not a copy, so 18,000 sessions kept for a report hold one "2.0.0" and one
    /// "Ok" instead of 18,000 of each. The pool is per thread (parallel workers each have theirs) and bounded: texts of
    /// up to <see cref="SharedMaxLength"/> characters without characters to escape, at most <see cref="SharedMaxTexts"/>
    /// of them (the first seen); other texts are made as by <see cref="ToDisplay"/>. A hit allocates nothing.
    /// </summary>
    public static string Shared(ReadOnlySpan<byte> bytes, int maxLength, bool upper = false)
    {
        if (bytes.Length > maxLength) bytes = bytes[..maxLength];
        if (bytes.IsEmpty) return "";
        if (bytes.Length > SharedMaxLength) return upper ? ToDisplay(bytes, maxLength).ToUpperInvariant() : ToDisplay(bytes, maxLength);
        Span<char> buf = stackalloc char[SharedMaxLength];
        int n = AsciiChars(bytes, buf);
        var pool = upper ? t_upper ??= new(StringComparer.Ordinal) : t_pool ??= new(StringComparer.Ordinal);
        var lookup = pool.GetAlternateLookup<ReadOnlySpan<char>>();
        if (lookup.TryGetValue(buf[..n], out var known)) return known;
        var raw = new string(buf[..n]);
        var text = SafeText.Clean(raw, maxLength); // as ToDisplay
        // Only a text Clean left as it was goes into the pool: its display does not depend on the length limit (the
        // bytes were cut to the limit above), so the pooled text is right for every caller, whatever its limit.
        bool clean = ReferenceEquals(text, raw);
        if (upper) text = text.ToUpperInvariant();
        if (clean && pool.Count < SharedMaxTexts) pool[raw] = text;
        return text;
    }

    internal const int SharedMaxLength = 64;
    internal const int SharedMaxTexts = 4096;
    [ThreadStatic] private static Dictionary<string, string>? t_pool, t_upper;

    public static ReadOnlySpan<byte> TrimStart(ReadOnlySpan<byte> s)
    {
        int i = 0;
        while (i < s.Length && (s[i] == (byte)' ' || s[i] == (byte)'\t')) i++;
        return s[i..];
    }

    public static ReadOnlySpan<byte> Trim(ReadOnlySpan<byte> s)
    {
        s = TrimStart(s);
        int e = s.Length;
        while (e > 0 && (s[e - 1] == (byte)' ' || s[e - 1] == (byte)'\t')) e--;
        return s[..e];
    }

    /// <summary>First space-separated token.</summary>
    public static ReadOnlySpan<byte> Token(ReadOnlySpan<byte> s, out ReadOnlySpan<byte> rest)
    {
        s = TrimStart(s);
        int sp = s.IndexOfAny((byte)' ', (byte)'\t');
        if (sp < 0) { rest = default; return s; }
        rest = TrimStart(s[(sp + 1)..]);
        return s[..sp];
    }

    public static bool StartsWithIgnoreCase(ReadOnlySpan<byte> s, ReadOnlySpan<byte> asciiUpperPrefix)
    {
        if (s.Length < asciiUpperPrefix.Length) return false;
        for (int i = 0; i < asciiUpperPrefix.Length; i++)
            if (ToUpper(s[i]) != asciiUpperPrefix[i]) return false;
        return true;
    }

    public static bool EqualsIgnoreCase(ReadOnlySpan<byte> s, ReadOnlySpan<byte> asciiUpper) =>
        s.Length == asciiUpper.Length && StartsWithIgnoreCase(s, asciiUpper);

    /// <summary>Whether the bytes are exactly the ASCII characters of <paramref name="s"/>.</summary>
    public static bool EqualsAscii(ReadOnlySpan<byte> bytes, string s)
    {
        if (bytes.Length != s.Length) return false;
        for (int i = 0; i < bytes.Length; i++)
            if (bytes[i] != s[i]) return false;
        return true;
    }

    public static byte ToUpper(byte b) => b is >= (byte)'a' and <= (byte)'z' ? (byte)(b - 32) : b;

    /// <summary>Parses a non-negative decimal; false when empty, not all digits, or over 18 digits.</summary>
    public static bool TryParseDecimal(ReadOnlySpan<byte> s, out long value)
    {
        value = 0;
        if (s.IsEmpty || s.Length > 18) return false;
        foreach (byte b in s)
        {
            if (b is < (byte)'0' or > (byte)'9') return false;
            value = value * 10 + (b - '0');
        }
        return true;
    }

    /// <summary>RFC 3463 enhanced status code "class.subject.detail" at the start of reply text (class 2, 4 or 5;
    /// subject and detail 1 to 3 digits), followed by a space or the end. Returns its length, or 0.</summary>
    public static int EnhancedCodeLength(ReadOnlySpan<byte> text)
    {
        if (text.Length < 5 || text[0] is not ((byte)'2' or (byte)'4' or (byte)'5') || text[1] != (byte)'.') return 0;
        int i = 2;
        for (int part = 0; part < 2; part++)
        {
            int start = i;
            while (i < text.Length && i - start < 4 && text[i] is >= (byte)'0' and <= (byte)'9') i++;
            int digits = i - start;
            if (digits is < 1 or > 3) return 0;
            if (part == 0)
            {
                if (i >= text.Length || text[i] != (byte)'.') return 0;
                i++;
            }
        }
        return i == text.Length || text[i] == (byte)' ' ? i : 0;
    }
}
