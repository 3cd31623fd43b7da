using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using PathProbe.Primitives;

namespace PathProbe.Cli.Commands;

/// <summary>
/// Options whose values are checked while parsing, shared by every command: a bad value is a usage error that names
/// the option, before anything is opened or analysed. Numbers are whole or finite (no NaN, no infinity, no
/// overflow), paths are never empty, and help shows real placeholders (FILE, IFACE, N, S, MB).
/// </summary>
internal static class CliOptions
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>A whole number in [<paramref name="min"/>, <paramref name="max"/>].</summary>
    public static Option<long> Integer(string name, string? alias, string helpName, string description, long min, long max, long? defaultValue = null)
    {
        var o = Create<long>(name, alias, helpName, description);
        o.CustomParser = r => ParseInteger(r, min, max);
        if (defaultValue is { } d) o.DefaultValueFactory = _ => d;
        return o;
    }

    /// <summary>A whole number in [<paramref name="min"/>, <paramref name="max"/>] that fits an int.</summary>
    public static Option<int> Int32(string name, string? alias, string helpName, string description, int min, int max, int? defaultValue = null)
    {
        var o = Create<int>(name, alias, helpName, description);
        o.CustomParser = r => (int)ParseInteger(r, min, max);
        if (defaultValue is { } d) o.DefaultValueFactory = _ => d;
        return o;
    }

    /// <summary>A finite decimal number in (<paramref name="minExclusive"/>, <paramref name="max"/>].</summary>
    public static Option<double> Number(string name, string? alias, string helpName, string description, double minExclusive, double max,
        string unit, double? defaultValue = null)
    {
        var o = Create<double>(name, alias, helpName, description);
        o.CustomParser = r => ParseNumber(r, minExclusive, max, unit);
        if (defaultValue is { } d) o.DefaultValueFactory = _ => d;
        return o;
    }

    /// <summary>A size in millions of bytes like tcpdump -C: fractions allowed (0.1 = 100,000 bytes), and the
    /// suffixes k, m, g for KiB, MiB, GiB as tcpdump 4.99 reads them. The value is in bytes.</summary>
    public static Option<long> Megabytes(string name, string? alias, string description, long maxBytes)
    {
        var o = Create<long>(name, alias, "MB", description);
        o.CustomParser = r =>
        {
            string text = r.Tokens[0].Value.Trim();
            double unit = 1_000_000;
            if (text.Length > 1 && char.IsLetter(text[^1]))
            {
                unit = char.ToLowerInvariant(text[^1]) switch { 'k' => 1024, 'm' => 1 << 20, 'g' => 1 << 30, _ => 0 };
                text = text[..^1];
            }
            if (unit == 0 || !double.TryParse(text, NumberStyles.Float, Inv, out double v) || !double.IsFinite(v))
                return Fail(r, $"'{Show(r)}' is not a size (millions of bytes, e.g. 100 or 0.5; or with k, m, g for KiB, MiB, GiB)");
            double bytes = Math.Round(v * unit);
            if (bytes < 1) return Fail(r, $"{Show(r)} is too small (at least 1 byte)");
            if (bytes > maxBytes) return Fail(r, $"{Show(r)} is too large (at most {maxBytes / 1e6:0.#} MB)");
            return (long)bytes;
        };
        return o;
    }

    /// <summary>One of a closed set of words (case-insensitive), e.g. --sort worst|id|bytes|start.</summary>
    public static Option<T> Choice<T>(string name, string? alias, string helpName, string description, IReadOnlyDictionary<string, T> choices, T defaultValue)
    {
        var o = Create<T>(name, alias, helpName, description);
        o.CustomParser = r =>
        {
            if (r.Tokens.Count == 0) return defaultValue; // read by name while not given (GetValue<object>("--x"))
            string text = r.Tokens[0].Value.Trim();
            foreach (var (word, value) in choices)
                if (string.Equals(word, text, StringComparison.OrdinalIgnoreCase)) return value;
            return Fail<T>(r, $"'{Show(r)}' is not one of {string.Join(", ", choices.Keys)}");
        };
        o.DefaultValueFactory = _ => defaultValue;
        return o;
    }

    /// <summary>A file to write: never empty, never a directory; "-" is standard output where <paramref name="allowDash"/>.</summary>
    public static Option<string?> OutputFile(string name, string? alias, string description, bool allowDash = false)
    {
        var o = Create<string?>(name, alias, "FILE", description);
        o.CustomParser = r =>
        {
            string path = r.Tokens[0].Value;
            if (path.Length == 0) return Fail<string?>(r, "needs a file name, not an empty string");
            if (path == "-" && allowDash) return path;
            if (Directory.Exists(path))
                return Fail<string?>(r, $"'{SafeText.Clean(path, 200)}' is a directory; give a file name (e.g. {SafeText.Clean(Path.Combine(path, "report.txt"), 200)})");
            string? dir = Path.GetDirectoryName(Path.GetFullPath(path));
            if (dir is not null && !Directory.Exists(dir))
                return Fail<string?>(r, $"cannot write '{SafeText.Clean(path, 200)}': the directory {SafeText.Clean(dir, 200)} does not exist");
            return path;
        };
        return o;
    }

    /// <summary>A plain string that must not be empty (an interface name, a host name).</summary>
    public static Option<string?> Text(string name, string? alias, string helpName, string description)
    {
        var o = Create<string?>(name, alias, helpName, description);
        o.CustomParser = r =>
        {
            string s = r.Tokens[0].Value;
            return s.Length == 0 ? Fail<string?>(r, "needs a value, not an empty string") : s;
        };
        return o;
    }

    private static Option<T> Create<T>(string name, string? alias, string helpName, string description)
    {
        var o = alias is null ? new Option<T>(name) : new Option<T>(name, alias);
        o.HelpName = helpName;
        o.Description = description;
        return o;
    }

    internal static long ParseInteger(ArgumentResult r, long min, long max)
    {
        string text = r.Tokens[0].Value.Trim();
        if (!long.TryParse(text, NumberStyles.AllowLeadingSign, Inv, out long v))
        {
            // "1e9" or "1000000000000000000000": say what is wrong rather than "not a number".
            if (double.TryParse(text, NumberStyles.Float, Inv, out double d) && double.IsFinite(d))
                return d > long.MaxValue || d < long.MinValue ? Fail(r, $"{Show(r)} is too large (at most {max.ToString("#,0", Inv)})")
                    : Fail(r, $"'{Show(r)}' is not a whole number");
            return Fail(r, $"'{Show(r)}' is not a whole number");
        }
        if (v < min) return Fail(r, $"{Show(r)} is too small (at least {min.ToString("#,0", Inv)})");
        if (v > max) return Fail(r, $"{Show(r)} is too large (at most {max.ToString("#,0", Inv)})");
        return v;
    }

    internal static double ParseNumber(ArgumentResult r, double minExclusive, double max, string unit)
    {
        string text = r.Tokens[0].Value.Trim();
        if (!double.TryParse(text, NumberStyles.Float, Inv, out double v) || double.IsNaN(v))
            return Fail(r, $"'{Show(r)}' is not a number of {unit}");
        if (v <= minExclusive) return Fail(r, $"{Show(r)} is too small (more than {minExclusive.ToString("0.###", Inv)} {unit})");
        if (double.IsInfinity(v) || v > max) return Fail(r, $"{Show(r)} is too large (at most {max.ToString("#,0.###", Inv)} {unit})");
        return v;
    }

    private static string Show(ArgumentResult r) => SafeText.Clean(r.Tokens[0].Value, 60);

    /// <summary>Adds "OPTION: message" as a parse error (the option's name first, as the user typed it).</summary>
    private static T Fail<T>(ArgumentResult r, string message)
    {
        string name = r.Parent is OptionResult o ? o.IdentifierToken?.Value ?? o.Option.Name : r.Argument.Name;
        r.AddError($"{name}: {message}");
        return default!;
    }

    private static long Fail(ArgumentResult r, string message) => Fail<long>(r, message);
}
