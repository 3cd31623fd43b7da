using System.Globalization;
using System.Text;
using PathProbe.Primitives;

namespace PathProbe.Dns;

/// <summary>
/// Domain names as people type them and as DNS carries them. A name given on the command line is turned into its
/// ASCII form (IDNA A-labels, "xn--", RFC 5891) before it is asked about; a name that comes from DNS data (MX, PTR,
/// NS, CNAME targets) must already be a host name in ASCII. Names are compared case-insensitively (RFC 4343).
/// </summary>
/// <remarks>
/// PathProbe runs with InvariantGlobalization: there, <see cref="IdnMapping"/> encodes Punycode but skips the
/// IDNA mapping step (an upper-case "Ü" would give another A-label than "ü"). So each label is lower-cased and
/// NFC-normalised here first; both work in invariant mode (full Unicode case mapping since .NET 6).
/// </remarks>
public static class HostNames
{
    public const int MaxNameLength = 253, MaxLabelLength = 63;

    private static readonly IdnMapping Idn = new() { AllowUnassigned = false, UseStd3AsciiRules = false };

    /// <summary>
    /// A name typed by a user (command line, envelope address, EHLO): its ASCII form, lower case, without the final
    /// dot. Refused with a one-line reason: spaces, control characters, backslash escapes, empty or long labels,
    /// characters outside letters, digits, '-' and '_', or an internationalized label IDNA rejects.
    /// </summary>
    public static bool TryToAscii(string? text, out string ascii, out string? error)
    {
        ascii = "";
        error = null;
        if (string.IsNullOrEmpty(text)) { error = "the name is empty"; return false; }
        string t = text.EndsWith('.') && text.Length > 1 ? text[..^1] : text;
        foreach (char c in t)
        {
            if (char.IsControl(c)) { error = $"it contains the control character U+{(int)c:X4}"; return false; }
            if (char.IsWhiteSpace(c)) { error = "it contains a space"; return false; }
            if (c == '\\') { error = "it contains a backslash (escapes such as \\032 are not names)"; return false; }
        }
        var labels = t.Split('.');
        var sb = new StringBuilder(t.Length + 8);
        foreach (var raw in labels)
        {
            if (raw.Length == 0) { error = "it has an empty label (two dots in a row, or a leading dot)"; return false; }
            string label;
            if (raw.All(char.IsAscii))
            {
                label = raw.ToLowerInvariant();
                if (label.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '-' or '_')))
                {
                    char bad = label.First(c => !(char.IsAsciiLetterOrDigit(c) || c is '-' or '_'));
                    error = $"it contains '{bad}' (a host name has letters, digits, '-' and '_')";
                    return false;
                }
                if (label.StartsWith("xn--", StringComparison.Ordinal) && !TryToUnicodeLabel(label, out _))
                {
                    error = $"'{label}' is not a valid IDNA A-label";
                    return false;
                }
            }
            else
            {
                try
                {
                    label = Idn.GetAscii(raw.ToLowerInvariant().Normalize(NormalizationForm.FormC));
                }
                catch (ArgumentException)
                {
                    error = $"the label '{SafeText.Clean(raw)}' cannot be converted to an IDNA A-label";
                    return false;
                }
            }
            if (label.Length > MaxLabelLength) { error = $"a label is {label.Length} characters long (at most {MaxLabelLength})"; return false; }
            if (sb.Length > 0) sb.Append('.');
            sb.Append(label);
        }
        if (sb.Length > MaxNameLength) { error = $"the name is {sb.Length} characters long (at most {MaxNameLength})"; return false; }
        ascii = sb.ToString();
        return true;
    }

    /// <summary>The Unicode form of an ASCII name (A-labels decoded), or the name itself when nothing decodes.</summary>
    public static string ToUnicode(string ascii)
    {
        if (ascii.IndexOf("xn--", StringComparison.OrdinalIgnoreCase) < 0) return ascii;
        var parts = ascii.Split('.');
        for (int i = 0; i < parts.Length; i++)
            if (parts[i].StartsWith("xn--", StringComparison.OrdinalIgnoreCase) && TryToUnicodeLabel(parts[i].ToLowerInvariant(), out var u))
                parts[i] = u;
        return string.Join('.', parts);
    }

    private static bool TryToUnicodeLabel(string label, out string unicode)
    {
        try { unicode = Idn.GetUnicode(label); return true; }
        catch (ArgumentException) { unicode = label; return false; }
    }

    /// <summary>"xn--bcher-kva.example (bücher.example)" for an internationalized name, else the name; terminal-safe.</summary>
    public static string Show(string ascii)
    {
        string u = ToUnicode(ascii);
        return string.Equals(u, ascii, StringComparison.OrdinalIgnoreCase) ? SafeText.Clean(ascii) : $"{SafeText.Clean(ascii)} ({SafeText.Clean(u)})";
    }

    /// <summary>
    /// Is a name from DNS data (presentation form, as DnsClient gives it: bytes outside printable ASCII as \DDD) a
    /// host name? Letters, digits, '-' and '_' in labels of 1..63 characters; no escapes, spaces or other
    /// punctuation. Mail software rejects anything else (e.g. Postfix's valid_hostname), and a name with control
    /// characters is also a way to smuggle terminal escapes into logs.
    /// </summary>
    public static bool IsHostName(string name, out string? why)
    {
        why = null;
        string t = name.EndsWith('.') && name.Length > 1 ? name[..^1] : name;
        if (t.Length == 0 || t == ".") { why = "it is the root"; return false; }
        if (t.Length > MaxNameLength) { why = $"it is {t.Length} characters long"; return false; }
        if (t.Contains('\\')) { why = "it contains bytes that are not printable ASCII (control characters or raw UTF-8)"; return false; }
        foreach (var label in t.Split('.'))
        {
            if (label.Length is 0 or > MaxLabelLength) { why = "it has an empty or over-long label"; return false; }
            foreach (char c in label)
            {
                if (c == ' ') { why = "it contains a space"; return false; }
                if (!(char.IsAsciiLetterOrDigit(c) || c is '-' or '_')) { why = $"it contains '{SafeText.Clean(c.ToString())}'"; return false; }
            }
        }
        return true;
    }

    /// <summary>True when the name can be put in a query as it is: printable ASCII without spaces or backslashes,
    /// labels of 1..63 characters, at most 253 characters. (SPF macros can expand to names with '+' or '=', which
    /// DNS allows.)</summary>
    public static bool IsQueryable(string name)
    {
        string t = name.EndsWith('.') && name.Length > 1 ? name[..^1] : name;
        if (t.Length is 0 or > MaxNameLength) return false;
        int label = 0;
        foreach (char c in t)
        {
            if (c == '.') { if (label == 0) return false; label = 0; continue; }
            if (c <= ' ' || c >= 0x7F || c == '\\') return false;
            if (++label > MaxLabelLength) return false;
        }
        return label > 0;
    }
}
