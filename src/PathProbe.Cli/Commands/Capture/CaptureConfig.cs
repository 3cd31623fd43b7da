using System.CommandLine;
using System.CommandLine.Parsing;
using Microsoft.Extensions.Configuration;

namespace PathProbe.Cli.Commands.Capture;

/// <summary>
/// <c>capture --config FILE</c>: every capture flag as a key (Microsoft.Extensions.Configuration; INI, or JSON when the
/// name ends in .json). A key is the flag's long name without dashes (<c>interface</c>, <c>metrics-listen</c>); the
/// flags that only have a letter, as in tcpdump, have the names in <see cref="ShortFlagKeys"/>; the filter expression
/// is <c>filter</c>. The file's values become command-line tokens in front of the real ones and go through the same
/// parser and checks; a flag given on the command line wins over its key.
/// </summary>
internal static class CaptureConfig
{
    public const string FilterKey = "filter";

    /// <summary>Keys of the flags that have no long name (tcpdump's letters; keys are case-insensitive, so -w and -W
    /// need names).</summary>
    public static readonly IReadOnlyDictionary<string, string> ShortFlagKeys = new Dictionary<string, string>
    {
        ["-w"] = "write",
        ["-C"] = "file-size",
        ["-W"] = "file-count",
        ["-G"] = "rotate-seconds",
    };

    /// <summary>Flags that make no sense in a file: what to do instead of capturing, and the file itself.</summary>
    private static readonly HashSet<string> NotKeys = ["--list-interfaces", "--config", "--help", "--version"];

    /// <summary>Every flag of <paramref name="capture"/> with its key.</summary>
    public static IEnumerable<(Option Option, string Key)> Keys(Command capture)
    {
        foreach (var o in capture.Options)
        {
            if (NotKeys.Contains(o.Name) || o.Aliases.Any(NotKeys.Contains) || o.Name is "-h" or "-?") continue;
            string? key = o.Name.StartsWith("--", StringComparison.Ordinal) ? o.Name[2..]
                : o.Aliases.FirstOrDefault(a => a.StartsWith("--", StringComparison.Ordinal))?[2..];
            if (key is null && !ShortFlagKeys.TryGetValue(o.Name, out key)) continue; // a new letter-only flag: the test fails on it
            yield return (o, key);
        }
    }

    /// <summary>Reads <paramref name="file"/> and returns the arguments of the capture command with the file's values in
    /// front; null and <paramref name="error"/> when the file cannot be read or has a key no flag has.</summary>
    public static string[]? Merge(ParseResult parse, Command capture, Option configOption, string file, out string? error)
    {
        IConfiguration config;
        try
        {
            var builder = new ConfigurationBuilder();
            string full = Path.GetFullPath(file);
            if (full.EndsWith(".json", StringComparison.OrdinalIgnoreCase)) builder.AddJsonFile(full, optional: false);
            else builder.AddIniFile(full, optional: false);
            config = builder.Build();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or InvalidDataException
                                    or System.Text.Json.JsonException)
        {
            error = $"cannot read the config file '{Primitives.SafeText.Clean(file, 200)}': {Primitives.SafeText.Clean(e.Message, 300)}";
            return null;
        }

        var keys = Keys(capture).ToList();
        var known = new HashSet<string>(keys.Select(k => k.Key), StringComparer.OrdinalIgnoreCase) { FilterKey };
        foreach (var section in config.GetChildren())
            if (!known.Contains(section.Key))
            {
                error = $"unknown key '{Primitives.SafeText.Clean(section.Key, 80)}' in {Primitives.SafeText.Clean(file, 200)}; the keys are the capture flags' " +
                        $"long names ({string.Join(", ", keys.Select(k => k.Key).Order(StringComparer.Ordinal))}, {FilterKey})";
                return null;
            }

        var tokens = new List<string>();
        foreach (var (option, key) in keys)
        {
            string? value = config[key];
            if (value is null || parse.GetResult(option) is { Implicit: false }) continue; // the command line wins
            if (option.Arity.MaximumNumberOfValues == 0) // a switch (--json): true adds it
            {
                if (!bool.TryParse(value.Trim(), out bool on))
                {
                    error = $"{key} = {Primitives.SafeText.Clean(value, 40)} in {Primitives.SafeText.Clean(file, 200)}: write true or false";
                    return null;
                }
                if (on) tokens.Add(option.Name);
            }
            else
            {
                tokens.Add(option.Name);
                tokens.Add(value.Trim());
            }
        }

        // The command line's own tokens, less "--config FILE".
        var given = new List<string>();
        bool filterGiven = false, afterDoubleDash = false;
        var all = parse.Tokens;
        for (int i = 0; i < all.Count; i++)
        {
            var t = all[i];
            if (t.Type == TokenType.Command) continue;
            if (t.Type == TokenType.Option && (configOption.Name == t.Value || configOption.Aliases.Contains(t.Value))) { i++; continue; }
            if (t.Type == TokenType.DoubleDash) afterDoubleDash = true;
            if (t.Type == TokenType.Argument && (afterDoubleDash || IsFilterWord(parse, t))) filterGiven = true;
            given.Add(t.Value);
        }
        if (!filterGiven && config[FilterKey] is { Length: > 0 } filter)
        {
            given.Add("--");
            given.Add(filter.Trim());
        }
        error = null;
        return [.. tokens, .. given];
    }

    private static bool IsFilterWord(ParseResult parse, Token t)
    {
        foreach (var child in parse.CommandResult.Children)
            if (child is ArgumentResult a && a.Tokens.Contains(t)) return true;
        return false;
    }
}
