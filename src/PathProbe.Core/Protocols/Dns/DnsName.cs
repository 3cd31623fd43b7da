namespace PathProbe.Protocols.Dns;

/// <summary>
/// Domain names between wire form (length-prefixed labels) and presentation form (RFC 1035 §5.1, RFC 4343):
/// dots between labels, <c>\.</c> and <c>\\</c> for those bytes inside a label, <c>\DDD</c> (decimal) for bytes
/// outside printable ASCII. Comparisons are ASCII case-insensitive (RFC 4343 §3); presentation strings are safe
/// to print (no control characters survive the escaping) but still pass them through SafeText for length.
/// </summary>
public static class DnsName
{
    /// <summary>Presentation form without the trailing dot; the root is ".".</summary>
    public static string ToText(ReadOnlySpan<byte> wire)
    {
        // Each byte is at most four characters (\DDD; a length byte is one dot), so this always fits.
        int max = Math.Max(4, 4 * wire.Length);
        Span<char> buf = max <= 1024 ? stackalloc char[1024] : new char[max];
        TryWriteText(wire, buf, out int n);
        return new string(buf[..n]);
    }

    /// <summary>Longest presentation form of a name: 255 wire bytes, every one escaped as \DDD.</summary>
    public const int MaxTextLength = 4 * DnsReader.MaxNameLength;

    /// <summary>One byte of a label in presentation form into <paramref name="dest"/> (room for 4): itself, or
    /// escaped as <c>\X</c> (the characters the zone-file syntax gives a meaning) or <c>\DDD</c> (outside printable
    /// ASCII). Returns the characters written.</summary>
    internal static int Escape(byte b, Span<char> dest)
    {
        if (b is (byte)'.' or (byte)'\\' or (byte)'"' or (byte)';' or (byte)'(' or (byte)')' or (byte)'@' or (byte)'$')
        {
            dest[0] = '\\'; dest[1] = (char)b;
            return 2;
        }
        if (b <= 0x20 || b >= 0x7F)
        {
            dest[0] = '\\';
            dest[1] = (char)('0' + b / 100); dest[2] = (char)('0' + b / 10 % 10); dest[3] = (char)('0' + b % 10);
            return 4;
        }
        dest[0] = (char)b;
        return 1;
    }

    /// <summary><see cref="ToText"/> into <paramref name="dest"/> (<see cref="MaxTextLength"/> characters always
    /// suffice) without allocating; false when it does not fit.</summary>
    public static bool TryWriteText(ReadOnlySpan<byte> wire, Span<char> dest, out int written)
    {
        written = 0;
        if (wire.Length == 0 || wire[0] == 0)
        {
            if (dest.Length < 1) return false;
            dest[0] = '.'; written = 1; return true;
        }
        int p = 0, w = 0;
        while (p < wire.Length && wire[p] != 0)
        {
            int n = wire[p];
            if (p + 1 + n > wire.Length) break;
            if (w > 0) { if (w >= dest.Length) return false; dest[w++] = '.'; }
            foreach (byte b in wire.Slice(p + 1, n))
            {
                if (dest.Length - w < 4) return false;
                w += Escape(b, dest[w..]);
            }
            p += 1 + n;
        }
        written = w;
        return true;
    }

    /// <summary><see cref="Equal(string?, string?)"/> of a name and presentation text in a span.</summary>
    public static bool Equal(string a, ReadOnlySpan<char> b) =>
        MemoryExtensions.Equals(Trim(a.AsSpan()), Trim(b), StringComparison.OrdinalIgnoreCase);

    private static ReadOnlySpan<char> Trim(ReadOnlySpan<char> s) =>
        s.Length > 1 && s[^1] == '.' && s[^2] != '\\' ? s[..^1] : s is "." ? ReadOnlySpan<char>.Empty : s;

    /// <summary>
    /// Encodes a presentation-form name (trailing dot optional; "." or "" is the root) into wire form.
    /// Escapes <c>\X</c> and <c>\DDD</c> are understood. Empty labels, labels over 63 bytes, names over 255 bytes
    /// and characters above U+00FF (use the A-label form for IDNs) are refused with a status.
    /// </summary>
    public static DnsStatus Encode(string text, Span<byte> dest, out int written)
    {
        written = 0;
        if (text.Length == 0 || text == ".")
        {
            if (dest.Length < 1) return DnsStatus.BufferTooSmall;
            dest[0] = 0; written = 1; return DnsStatus.Ok;
        }
        Span<byte> buf = stackalloc byte[DnsReader.MaxNameLength + 1];
        int len = 0, labelStart = 0, labelLen = 0;
        int i = 0;
        buf[0] = 0; len = 1;
        while (i < text.Length)
        {
            char c = text[i++];
            int b;
            if (c == '.')
            {
                if (labelLen == 0) return DnsStatus.BadNameText;
                buf[labelStart] = (byte)labelLen;
                labelStart = len; labelLen = 0;
                if (len >= buf.Length) return DnsStatus.NameTooLong;
                buf[len++] = 0;
                if (i == text.Length) { len--; break; } // trailing dot: the slot becomes the root byte
                continue;
            }
            if (c == '\\')
            {
                if (i >= text.Length) return DnsStatus.BadNameText;
                if (char.IsAsciiDigit(text[i]))
                {
                    if (i + 3 > text.Length || !char.IsAsciiDigit(text[i + 1]) || !char.IsAsciiDigit(text[i + 2])) return DnsStatus.BadNameText;
                    b = (text[i] - '0') * 100 + (text[i + 1] - '0') * 10 + (text[i + 2] - '0');
                    if (b > 255) return DnsStatus.BadNameText;
                    i += 3;
                }
                else b = text[i++];
            }
            else b = c;
            if (b > 0xFF) return DnsStatus.BadNameText;
            if (++labelLen > DnsReader.MaxLabelLength) return DnsStatus.LabelTooLong;
            if (len >= buf.Length - 1) return DnsStatus.NameTooLong;
            buf[len++] = (byte)b;
        }
        if (labelLen > 0) { buf[labelStart] = (byte)labelLen; }
        if (len >= buf.Length) return DnsStatus.NameTooLong;
        buf[len++] = 0;
        if (len > DnsReader.MaxNameLength) return DnsStatus.NameTooLong;
        if (dest.Length < len) return DnsStatus.BufferTooSmall;
        buf[..len].CopyTo(dest);
        written = len;
        return DnsStatus.Ok;
    }

    /// <summary>True when the text is a name <see cref="Encode"/> accepts.</summary>
    public static bool IsValid(string text)
    {
        Span<byte> buf = stackalloc byte[DnsReader.MaxNameLength + 1];
        return Encode(text, buf, out _) == DnsStatus.Ok;
    }

    /// <summary>ASCII case-insensitive comparison of two presentation names, ignoring one trailing dot.</summary>
    public static bool Equal(string? a, string? b)
    {
        if (a is null || b is null) return a is null && b is null;
        return string.Equals(Trim(a), Trim(b), StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>Lower-case, no trailing dot: a stable cache or dictionary key.</summary>
    public static string Normalize(string name)
    {
        var t = Trim(name);
        return t.Length == 0 ? "." : t.ToLowerInvariant();
    }

    /// <summary>True when <paramref name="name"/> equals <paramref name="zone"/> or is below it.</summary>
    public static bool IsSubdomainOf(string name, string zone)
    {
        string n = Trim(name), z = Trim(zone);
        if (z.Length == 0) return true;
        if (n.Length == z.Length) return n.Equals(z, StringComparison.OrdinalIgnoreCase);
        return n.Length > z.Length && n[n.Length - z.Length - 1] == '.' && n.EndsWith(z, StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>Case-insensitive comparer for names (ignores a trailing dot).</summary>
    public static IEqualityComparer<string> Comparer { get; } = new NameComparer();

    private static string Trim(string s) => s.Length > 1 && s[^1] == '.' && (s.Length < 2 || s[^2] != '\\') ? s[..^1] : s == "." ? "" : s;

    private sealed class NameComparer : IEqualityComparer<string>
    {
        public bool Equals(string? x, string? y) => Equal(x, y);
        public int GetHashCode(string obj) => StringComparer.OrdinalIgnoreCase.GetHashCode(Trim(obj));
    }
}
