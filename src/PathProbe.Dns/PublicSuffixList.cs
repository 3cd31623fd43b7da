using System.Globalization;
using System.Text;

namespace PathProbe.Dns;

/// <summary>
/// The Public Suffix List (publicsuffix.org), for the organizational domain of RFC 7489 §3.2 that DMARC falls back
/// to (§6.6.3). Debian's <c>publicsuffix</c> package keeps the list current in
/// <see cref="SystemPath"/>; when it is not installed, the copy shipped inside PathProbe (<see cref="ShippedDate"/>)
/// is used. Both sections (ICANN and private domains) count, as in OpenDMARC.
/// </summary>
public sealed class PublicSuffixList
{
    public const string SystemPath = "/usr/share/publicsuffix/public_suffix_list.dat";
    /// <summary>Date of the list in src/PathProbe.Dns/Data (Debian publicsuffix 20230209.2326-1).</summary>
    public const string ShippedDate = "2023-02-09";
    private const string ResourceName = "PathProbe.Dns.public_suffix_list.dat";

    private readonly HashSet<string> _rules = new(StringComparer.OrdinalIgnoreCase);
    private readonly HashSet<string> _wildcards = new(StringComparer.OrdinalIgnoreCase); // "*.X" stored as "X"
    private readonly HashSet<string> _exceptions = new(StringComparer.OrdinalIgnoreCase); // "!X" stored as "X"

    /// <summary>Where the list came from, for reports ("/usr/share/publicsuffix/public_suffix_list.dat" or
    /// "the copy shipped with PathProbe, 2023-02-09").</summary>
    public string Source { get; }
    public int RuleCount => _rules.Count + _wildcards.Count + _exceptions.Count;

    private PublicSuffixList(string source) => Source = source;

    /// <summary>The system list when the file exists and reads, else the shipped copy.</summary>
    public static PublicSuffixList LoadDefault(string systemPath = SystemPath)
    {
        if (File.Exists(systemPath))
        {
            try
            {
                using var f = File.OpenRead(systemPath);
                var list = Load(f, systemPath);
                if (list.RuleCount > 0) return list;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        }
        return LoadShipped();
    }

    public static PublicSuffixList LoadShipped()
    {
        using var s = typeof(PublicSuffixList).Assembly.GetManifestResourceStream(ResourceName)
                      ?? throw new InvalidOperationException($"resource {ResourceName} is missing from the build");
        return Load(s, $"the copy shipped with PathProbe, {ShippedDate}");
    }

    /// <summary>Reads the list's format: one rule per line, "//" comments, "*." wildcards, "!" exceptions; rules
    /// in Unicode are kept in their A-label form.</summary>
    public static PublicSuffixList Load(Stream stream, string source)
    {
        var list = new PublicSuffixList(source);
        var idn = new IdnMapping();
        using var reader = new StreamReader(stream, Encoding.UTF8);
        string? line;
        while ((line = reader.ReadLine()) is not null)
        {
            // The rule is the text up to the first white space.
            string rule = line.Trim();
            int ws = rule.IndexOfAny([' ', '\t']);
            if (ws >= 0) rule = rule[..ws];
            if (rule.Length == 0 || rule.StartsWith("//", StringComparison.Ordinal)) continue;
            bool exception = rule[0] == '!';
            if (exception) rule = rule[1..];
            bool wildcard = rule.StartsWith("*.", StringComparison.Ordinal);
            if (wildcard) rule = rule[2..];
            if (!rule.All(char.IsAscii))
            {
                try { rule = idn.GetAscii(rule.ToLowerInvariant().Normalize(NormalizationForm.FormC)); }
                catch (ArgumentException) { continue; }
            }
            (exception ? list._exceptions : wildcard ? list._wildcards : list._rules).Add(rule.ToLowerInvariant());
        }
        return list;
    }

    /// <summary>The public suffix of an ASCII name (publicsuffix.org's algorithm; "*" when no rule matches).</summary>
    public string PublicSuffix(string asciiName)
    {
        var labels = asciiName.TrimEnd('.').ToLowerInvariant().Split('.');
        int n = labels.Length;
        string Suffix(int from) => string.Join('.', labels, from, n - from);
        // An exception rule prevails; the suffix is the rule without its leftmost label.
        for (int i = 0; i < n; i++)
            if (_exceptions.Contains(Suffix(i))) return i + 1 < n ? Suffix(i + 1) : labels[^1];
        // Otherwise the matching rule with the most labels ("*.X" matches one label in front of X).
        for (int i = 0; i < n; i++)
            if (_rules.Contains(Suffix(i)) || (i + 1 < n && _wildcards.Contains(Suffix(i + 1)))) return Suffix(i);
        return labels[^1];
    }

    /// <summary>The organizational domain (RFC 7489 §3.2): the public suffix plus one label; null when the name is
    /// itself a public suffix.</summary>
    public string? OrganizationalDomain(string asciiName)
    {
        string name = asciiName.TrimEnd('.').ToLowerInvariant();
        string suffix = PublicSuffix(name);
        if (name.Length <= suffix.Length) return null;
        string front = name[..(name.Length - suffix.Length - 1)];
        int dot = front.LastIndexOf('.');
        return (dot < 0 ? front : front[(dot + 1)..]) + "." + suffix;
    }
}
