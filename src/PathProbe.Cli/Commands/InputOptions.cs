using System.CommandLine;
using System.CommandLine.Parsing;
using PathProbe.Capture;
using PathProbe.LibPcap;
using PathProbe.Pipeline;
using PathProbe.Primitives;

namespace PathProbe.Cli.Commands;

/// <summary>
/// How analyze and tui FILE are told what to read, tcpdump's way: files (positional or -r FILE, "-" for standard
/// input), then a filter expression, -c N, --since/--until, and --join/--no-join for several files.
/// <para>
/// Files and filter words share the positional arguments. The rule: every positional argument is a file while it
/// names an existing file (or is "-"); the first one that does not starts the filter, and everything after it is
/// filter. "--" ends the files explicitly: before it only files (each must exist), after it only the filter. A filter
/// word that looks like a file name (it has a '/' or a capture extension) is taken for a missing file.
/// </para>
/// </summary>
internal sealed class InputOptions
{
    private static readonly string[] CaptureExtensions = [".pcap", ".pcapng", ".cap", ".gz", ".dmp", ".ntar", ".erf"];

    private readonly Argument<string[]> _positional;
    public Option<string[]> Read { get; } = new("-r")
    {
        HelpName = "FILE",
        Description = "Read this capture file (repeatable; like tcpdump -r). '-' is standard input (gzip too).",
        AllowMultipleArgumentsPerToken = false,
        Arity = ArgumentArity.OneOrMore,
    };
    public Option<long> Count { get; } = CliOptions.Integer("--count", "-c", "N",
        "Stop after N packets of each input (those the filter and window keep; like tcpdump -c).", 1, long.MaxValue);
    public Option<TimeBound?> Since { get; } = Time("--since",
        "Analyse from this time on: ISO 8601 (2026-11-23T23:12:46Z, UTC unless it says otherwise), Unix seconds, or +30s / +2m / +1h after the input's first packet (like editcap -A).");
    public Option<TimeBound?> Until { get; } = Time("--until",
        "Analyse up to (not including) this time, written like --since (like editcap -B).");
    public Option<bool> Join { get; } = new("--join")
    {
        Description = "Read all files as one capture, merged by time like mergecap (pieces of one capture, e.g. split with editcap -c).",
    };
    public Option<bool> NoJoin { get; } = new("--no-join")
    {
        Description = "Never join files: each is a vantage point of its own, even a rotated set.",
    };

    private InputOptions(Argument<string[]> positional) => _positional = positional;

    /// <summary>Adds the input options to <paramref name="command"/>, which already has <paramref name="positional"/>.</summary>
    public static InputOptions AddTo(Command command, Argument<string[]> positional)
    {
        var o = new InputOptions(positional);
        command.Add(o.Read);
        command.Add(o.Count);
        command.Add(o.Since);
        command.Add(o.Until);
        command.Add(o.Join);
        command.Add(o.NoJoin);
        return o;
    }

    /// <summary>The file options given on the command line (for commands that also capture live, where they do not apply).</summary>
    public List<string> Given(ParseResult parse) =>
        new Option[] { Read, Count, Since, Until, Join, NoJoin }.Where(o => parse.GetResult(o) is { Implicit: false }).Select(o => o.Name).ToList();

    /// <summary>The positional argument of files and filter, with the description of the rule.</summary>
    public static Argument<string[]> Positional(string name, string what) => new(name)
    {
        Description = what + " Positional arguments are files while they name existing files ('-' is standard input); the first " +
                      "that does not starts the filter (tcpdump syntax, pcap-filter(7), applied as tcpdump -r FILE FILTER does). " +
                      "'--' separates files from the filter explicitly.",
        Arity = ArgumentArity.ZeroOrMore,
    };

    /// <summary>What the command line asked to read.</summary>
    internal sealed class Request
    {
        public required List<string> Files { get; init; }
        public string? Filter { get; init; }
        public long Count { get; init; }
        public TimeBound? Since { get; init; }
        public TimeBound? Until { get; init; }
        public JoinMode Join { get; init; }

        public bool HasSelection => Filter is not null || Count > 0 || Since is not null || Until is not null;
    }

    /// <summary>Splits files from the filter and checks them. Returns null and a one-line message on a usage error.</summary>
    public Request? Resolve(ParseResult parse, out string? error)
    {
        error = null;
        var files = new List<string>(parse.GetValue(Read) ?? []);
        var (before, after, separated) = SplitAtDoubleDash(parse);
        if (before.Any(w => w.Length == 0) || files.Any(w => w.Length == 0)) { error = "FILE: an empty string is not a file name"; return null; }
        var filterWords = new List<string>();
        if (separated)
        {
            files.AddRange(before);
            filterWords.AddRange(after);
        }
        else
        {
            int i = 0;
            while (i < before.Count && IsInputFile(before[i])) files.Add(before[i++]);
            filterWords.AddRange(before.Skip(i));
        }

        foreach (string f in files)
        {
            if (f.Length == 0) { error = "a file name is empty"; return null; }
            if (InputStreams.IsStandardInput(f)) continue;
            if (Directory.Exists(f)) { error = $"'{Show(f)}' is a directory, not a capture file"; return null; }
            if (!File.Exists(f)) { error = Missing(f); return null; }
        }
        if (files.Count(InputStreams.IsStandardInput) > 1) { error = "standard input ('-') can be read only once"; return null; }

        if (filterWords.Count > 0 && LooksLikeFile(filterWords[0]))
        {
            error = Directory.Exists(filterWords[0]) ? $"'{Show(filterWords[0])}' is a directory, not a capture file" : Missing(filterWords[0]);
            return null;
        }
        string? filter = filterWords.Count == 0 ? null : string.Join(' ', filterWords);
        if (filter is not null && string.IsNullOrWhiteSpace(filter)) { error = "the filter is empty"; return null; }

        bool join = parse.GetValue(Join), noJoin = parse.GetValue(NoJoin);
        if (join && noJoin) { error = "--join and --no-join cannot be combined"; return null; }
        var since = parse.GetValue(Since);
        var until = parse.GetValue(Until);
        if (since is { } s && until is { } u && s.Relative == u.Relative && u.Nanoseconds <= s.Nanoseconds)
        {
            error = $"--until {Show(u.Text)} is not after --since {Show(s.Text)}: the window is empty";
            return null;
        }
        return new Request
        {
            Files = files, Filter = filter, Count = parse.GetValue(Count), Since = since, Until = until,
            Join = join ? JoinMode.Always : noJoin ? JoinMode.Never : JoinMode.Auto,
        };
    }

    /// <summary>
    /// The selection of a request, the filter compiled with libpcap. Null and a message when the filter does not
    /// compile or libpcap is missing (only a filter needs libpcap; reading files never does).
    /// </summary>
    public static PacketSelection? Selection(Request request, out string? error)
    {
        error = null;
        BpfFrameFilter? filter = null;
        if (request.Filter is { } expression)
        {
            filter = BpfFrameFilter.Create(expression, out error);
            if (filter is null)
            {
                // "src", a directory, is also a filter word: only when the filter fails does it become the likely mistake.
                string first = expression.Split(' ')[0];
                if (Directory.Exists(first)) error = $"'{Show(first)}' is a directory, not a capture file; as the start of a filter, {error}";
                else if (!File.Exists(first) && request.Files.Count == 0 && first.Contains('.'))
                    error = $"'{Show(first)}' is not a file, so it was read as the start of a filter, and {error}";
                return null;
            }
        }
        return new PacketSelection { Filter = filter, Count = request.Count, Since = request.Since, Until = request.Until };
    }

    /// <summary>A positional argument that names something to read: "-", or an existing file that is not a directory.</summary>
    private static bool IsInputFile(string s) => InputStreams.IsStandardInput(s) || (s.Length > 0 && File.Exists(s));

    private static bool LooksLikeFile(string word) =>
        word.Contains('/') || word.Contains('\\') || CaptureExtensions.Any(e => word.EndsWith(e, StringComparison.OrdinalIgnoreCase));

    private static string Missing(string path)
    {
        string full = Path.GetFullPath(path);
        string? dir = Path.GetDirectoryName(full);
        return dir is not null && !Directory.Exists(dir) ? $"'{Show(path)}' does not exist (no such directory)" : $"'{Show(path)}' does not exist";
    }

    /// <summary>The positional tokens before and after "--" (System.CommandLine gives them as one list).</summary>
    private (List<string> Before, List<string> After, bool Separated) SplitAtDoubleDash(ParseResult parse)
    {
        var before = new List<string>();
        var after = new List<string>();
        var tokens = parse.Tokens;
        int doubleDash = -1;
        for (int i = 0; i < tokens.Count; i++)
            if (tokens[i].Type == TokenType.DoubleDash) { doubleDash = i; break; }
        var result = parse.GetResult(_positional);
        if (result is null) return (before, after, doubleDash >= 0);
        foreach (var t in result.Tokens)
        {
            int index = -1;
            for (int i = 0; i < tokens.Count; i++)
                if (ReferenceEquals(tokens[i], t)) { index = i; break; }
            (doubleDash >= 0 && index > doubleDash ? after : before).Add(t.Value);
        }
        return (before, after, doubleDash >= 0);
    }

    private static Option<TimeBound?> Time(string name, string description) => new(name)
    {
        HelpName = "TIME",
        Description = description,
        CustomParser = r =>
        {
            var t = TimeBound.Parse(r.Tokens[0].Value, out string? error);
            if (t is null) r.AddError($"{name}: {error}");
            return t;
        },
    };

    private static string Show(string s) => SafeText.Clean(s, 200);
}

/// <summary>
/// A tcpdump filter expression run on frames read from files: one <see cref="BpfFilter"/> per link type, compiled
/// when the first frame of that type arrives. Frames of a link type the expression does not compile for are not
/// analysed, and the report says how many.
/// </summary>
internal sealed class BpfFrameFilter : IFrameFilter, IDisposable
{
    private readonly Dictionary<int, (BpfFilter? Program, string? Error)> _programs = new();
    private readonly Dictionary<int, long> _refused = new();
    private int _lastLinkType = int.MinValue;
    private BpfFilter? _last;

    private BpfFrameFilter(string expression) => Expression = expression;

    public string Expression { get; }

    /// <summary>Checks that the expression compiles (for Ethernet, raw IP or Linux cooked frames; the others are
    /// compiled when met). Null and a one-line message when it does not, or when libpcap is missing.</summary>
    public static BpfFrameFilter? Create(string expression, out string? error)
    {
        error = null;
        var f = new BpfFrameFilter(expression);
        string? first = null;
        foreach (int linkType in new[] { LinkTypes.Ethernet, 101, 113 })
        {
            try
            {
                f._programs[linkType] = (BpfFilter.Compile(expression, linkType), null);
                return f;
            }
            catch (PcapException e) when (e.Kind == PcapErrorKind.LibraryMissing)
            {
                error = $"a filter needs libpcap: {e.Message}; files without a filter do not need it";
                return null;
            }
            catch (PcapException e)
            {
                first ??= e.Message;
                f._programs[linkType] = (null, e.Message);
            }
        }
        f.Dispose();
        error = $"the filter does not compile: {SafeText.Clean(first, 300)}; filter: {SafeText.Clean(expression, 300)} (tcpdump syntax, see pcap-filter(7))";
        return null;
    }

    public bool Matches(in RawFrame frame)
    {
        int key = frame.LinkType;
        // BSD loopback's address family is in the byte order of the host that captured; libpcap compiles a savefile
        // of the other byte order with the family swapped, and so do we, telling the order from the value itself
        // (families are small numbers).
        if (key == LinkTypes.Null && frame.Data.Length >= 4 && (BitConverter.ToUInt32(frame.Data) & 0xFFFF0000) != 0) key = SwappedNull;
        if (key != _lastLinkType)
        {
            _lastLinkType = key;
            _last = Program(key);
        }
        if (_last is null)
        {
            _refused[frame.LinkType] = _refused.GetValueOrDefault(frame.LinkType) + 1;
            return false;
        }
        return _last.Matches(frame.Data, frame.OriginalLength);
    }

    /// <summary>The program key of BSD loopback frames from a host of the other byte order.</summary>
    private const int SwappedNull = -1;

    public IReadOnlyList<string> TakeProblems()
    {
        var problems = _refused.Select(kv => $"{kv.Value:#,0} frames of link type {LinkTypes.Name(kv.Key)} were not analysed: the filter " +
                                             $"does not compile for it ({SafeText.Clean(_programs.GetValueOrDefault(kv.Key).Error ?? _programs.GetValueOrDefault(SwappedNull).Error, 200)})").ToList();
        _refused.Clear();
        return problems;
    }

    private BpfFilter? Program(int key)
    {
        if (_programs.TryGetValue(key, out var p)) return p.Program;
        try { p = (key == SwappedNull ? BpfFilter.Compile(Expression, LinkTypes.Null, swapped: true) : BpfFilter.Compile(Expression, key), null); }
        catch (PcapException e) { p = (null, e.Message); }
        _programs[key] = p;
        return p.Program;
    }

    public void Dispose()
    {
        foreach (var p in _programs.Values) p.Program?.Dispose();
        _programs.Clear();
    }
}
