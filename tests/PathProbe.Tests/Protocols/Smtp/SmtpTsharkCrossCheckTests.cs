using PathProbe.Protocols.Smtp;
using PathProbe.Tests.Support;
using Xunit.Abstractions;

namespace PathProbe.Tests.Protocols.Smtp;

/// <summary>
/// Commands, parameters and reply codes per connection against tshark's SMTP dissector, on every bundled capture.
/// </summary>
/// <remarks>
/// Normalisation, because the two decoders report differently:
/// <list type="bullet">
/// <item>tshark prints one row per packet; several replies (or commands) in one packet come as comma-joined
/// occurrences, and a multi-line reply may report its code once per line (tshark 4.0 reports it once, other versions
/// per line). Both sides are therefore compared as one interleaved list of "C verb param" and "R code" tokens in
/// capture order, with runs of the same reply code collapsed into one.</item>
/// <item>tshark shows no command for the end of DATA (our "."): it is left out. Message body packets are rows with
/// neither field and are dropped.</item>
/// <item>tshark numbers every TCP stream; connections with no SMTP rows are dropped on both sides before comparing.</item>
/// </list>
/// </remarks>
public sealed class SmtpTsharkCrossCheckTests(ITestOutputHelper output)
{
    public static IEnumerable<object[]> Captures() =>
        TestPaths.BundledCaptures().Select(f => new object[] { Path.GetFileName(f) });

    [SkippableTheory]
    [MemberData(nameof(Captures))]
    public void Read_BundledCapture_SameCommandsAndRepliesAsTshark(string name)
    {
        string? tshark = TestPaths.Tool("tshark");
        if (tshark is null) throw new SkipException($"tshark is not installed (apt-get install tshark); cross-check not run");
        string path = Path.Combine(TestPaths.Captures, name);

        var actual = SmtpCaptureHarness.Read(path).Select(c => Tokens(c.Session)).Where(t => t.Count > 0).ToList();
        var exp = TsharkTokens(tshark, path);
        output.WriteLine($"{name}: {exp.Count} SMTP connection(s) in tshark, {actual.Count} here");
        if (name.StartsWith("smtp-")) Assert.NotEmpty(exp); // not a vacuous pass
        Assert.Equal(exp.Count, actual.Count);
        for (int i = 0; i < exp.Count; i++) Assert.Equal(exp[i], actual[i]);
    }

    /// <summary>tshark's SMTP commands and reply codes per TCP stream (streams without any dropped), normalised as
    /// described above.</summary>
    internal static List<List<string>> TsharkTokens(string tshark, string path)
    {
        string tsv = TestPaths.RunTool(tshark, "-n", "-r", path, "-Y", "smtp", "-T", "fields", "-E", "occurrence=a", "-E", "aggregator=\u0001",
            "-e", "tcp.stream", "-e", "smtp.req.command", "-e", "smtp.req.parameter", "-e", "smtp.response.code");
        var expected = new SortedDictionary<int, List<string>>();
        foreach (var row in tsv.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var f = row.Split('\t');
            var list = expected.TryGetValue(int.Parse(f[0]), out var l) ? l : expected[int.Parse(f[0])] = new List<string>();
            var cmds = f[1].Length == 0 ? [] : f[1].Split('\u0001');
            var pars = f[2].Length == 0 ? [] : f[2].Split('\u0001');
            for (int i = 0; i < cmds.Length; i++)
            {
                string token = $"C {cmds[i]} {(i < pars.Length ? pars[i] : "")}".TrimEnd();
                // tshark 4.0 takes the first four letters as the verb and splits STARTTLS into "STAR" + "TLS";
                // PathProbe reads the whole verb (RFC 3207). Compare the command as it was sent.
                list.Add(token == "C STAR TLS" ? "C STARTTLS" : token);
            }
            foreach (var code in f[3].Length == 0 ? [] : f[3].Split('\u0001')) Add(list, "R " + code);
        }

        return expected.Values.Where(t => t.Count > 0).ToList();
    }

    /// <summary>The session's greeting, commands and replies as the same kind of tokens, in capture order.</summary>
    internal static List<string> Tokens(SmtpSession s)
    {
        var events = new List<(long time, int order, string token)>();
        int order = 0;
        if (s.Greeting is { } g) events.Add((g.Time.UnixNanoseconds, order++, "R " + g.Code));
        foreach (var cmd in s.Commands)
        {
            if (cmd.Verb is not ("." or "")) events.Add((cmd.Time.UnixNanoseconds, order++, $"C {cmd.Verb} {cmd.Argument}".TrimEnd()));
            if (cmd.Intermediate is { } im && im != cmd.Reply) events.Add((im.Time.UnixNanoseconds, order++, "R " + im.Code));
            if (cmd.Reply is { } r) events.Add((r.Time.UnixNanoseconds, order++, "R " + r.Code));
        }
        var list = new List<string>();
        foreach (var e in events.OrderBy(e => e.time).ThenBy(e => e.order)) Add(list, e.token);
        return list;
    }

    private static void Add(List<string> list, string token)
    {
        if (token.StartsWith('R') && list.Count > 0 && list[^1] == token) return; // runs of one reply code collapse
        list.Add(token);
    }
}
