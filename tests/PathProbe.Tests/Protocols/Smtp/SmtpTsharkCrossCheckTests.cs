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
/// <item>tshark numbers every TCP stream; connections with no SMTP rows are dropped on both sides, and the rest are
/// matched by their two ports.</item>
/// <item>tshark 4.0 decodes SMTP inside SOCKS tunnels, takes the server for the client inside an HTTP CONNECT tunnel
/// (no command or reply code comes out), and has no PROXY-protocol dissector: a connection only PathProbe decodes must
/// be behind an HTTP CONNECT or a PROXY header (<see cref="Analysis.Smtp.SmtpEngineTsharkCrossCheckTests"/>).</item>
/// </list>
/// </remarks>
public sealed class SmtpTsharkCrossCheckTests(ITestOutputHelper output)
{
    public static IEnumerable<object[]> Captures() =>
        TestPaths.BundledCaptures().Select(f => new object[] { Path.GetFileName(f) });

    /// <summary>One TCP stream's SMTP as tshark decoded it.</summary>
    internal sealed record TsharkStream(int Stream, ushort PortA, ushort PortB, List<string> Tokens)
    {
        public bool Is(ushort client, ushort server) => PortA == client && PortB == server || PortA == server && PortB == client;
    }

    [SkippableTheory]
    [MemberData(nameof(Captures))]
    public void Read_BundledCapture_SameCommandsAndRepliesAsTshark(string name)
    {
        string? tshark = TestPaths.Tool("tshark");
        if (tshark is null) throw new SkipException($"tshark is not installed (apt-get install tshark); cross-check not run");
        string path = Path.Combine(TestPaths.Captures, name);

        // The decoder alone (no detection): the connections to port 25.
        var actual = SmtpCaptureHarness.Read(path).Select(c => Tokens(c.Session)).Where(t => t.Count > 0).ToList();
        var exp = TsharkTokens(tshark, path).Where(t => t.PortA == 25 || t.PortB == 25).Select(t => t.Tokens).ToList();
        output.WriteLine($"{name}: {exp.Count} SMTP connection(s) to port 25 in tshark, {actual.Count} here");
        if (name.StartsWith("smtp-") && name != "smtp-proxies.pcap") Assert.NotEmpty(exp); // not a vacuous pass
        Assert.Equal(exp.Count, actual.Count);
        for (int i = 0; i < exp.Count; i++) Assert.Equal(exp[i], actual[i]);
    }

    /// <summary>tshark's SMTP commands and reply codes per TCP stream (streams without any dropped), normalised as
    /// described above, in stream order.</summary>
    internal static List<TsharkStream> TsharkTokens(string tshark, string path)
    {
        string tsv = TestPaths.RunTool(tshark, "-n", "-r", path, "-Y", "smtp", "-T", "fields", "-E", "occurrence=a", "-E", "aggregator=\u0001",
            "-e", "tcp.stream", "-e", "smtp.req.command", "-e", "smtp.req.parameter", "-e", "smtp.response.code", "-e", "tcp.srcport", "-e", "tcp.dstport");
        var expected = new SortedDictionary<int, TsharkStream>();
        foreach (var row in tsv.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var f = row.Split('\t');
            int stream = int.Parse(f[0]);
            if (!expected.TryGetValue(stream, out var st))
                expected[stream] = st = new TsharkStream(stream, ushort.Parse(f[4]), ushort.Parse(f[5]), new List<string>());
            var list = st.Tokens;
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

        return expected.Values.Where(t => t.Tokens.Count > 0).ToList();
    }

    /// <summary>The session's greeting, commands and replies as the same kind of tokens, in capture order.</summary>
    internal static List<string> Tokens(SmtpSession s)
    {
        var events = new List<(long time, int order, string token)>();
        int order = 0;
        if (s.Greeting is { } g) events.Add((g.Time.UnixNanoseconds, order++, "R " + g.Code));
        foreach (var cmd in s.Commands)
        {
            if (cmd.Kind is not (SmtpCommandKind.EndOfData or SmtpCommandKind.None)) events.Add((cmd.Time.UnixNanoseconds, order++, $"C {cmd.Verb} {cmd.Argument}".TrimEnd()));
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
