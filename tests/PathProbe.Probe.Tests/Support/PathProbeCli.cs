using System.Text.Json.Nodes;

namespace PathProbe.Probe.Tests.Support;

/// <summary>The real <c>pathprobe</c> (the built pathprobe.dll) run inside a namespace, as a user would.</summary>
internal static class PathProbeCli
{
    public static string Dll
    {
        get
        {
            string cli = Path.Combine(AppContext.BaseDirectory, "pathprobe.dll");
            Assert.True(File.Exists(cli), $"{cli} missing");
            return cli;
        }
    }

    public static (int Exit, string Stdout, string Stderr) Run(string ns, params string[] args) =>
        Shell.Run("ip", new[] { "netns", "exec", ns, Environment.ProcessPath!, "exec", Dll }.Concat(args), check: false, timeoutMs: 120_000);

    /// <summary><c>pathprobe probe ... --json</c> in <paramref name="ns"/>: exit status and the document.</summary>
    public static (int Exit, JsonObject Doc) Probe(string ns, params string[] args)
    {
        var (exit, stdout, stderr) = Run(ns, new[] { "probe" }.Concat(args).Append("--json").ToArray());
        Assert.True(stdout.TrimStart().StartsWith('{'), $"no JSON from pathprobe probe (exit {exit}): {stderr}{stdout}");
        var doc = JsonNode.Parse(stdout)!.AsObject();
        Assert.Equal("pathprobe.probe/1", (string?)doc["schema"]);
        return (exit, doc);
    }

    /// <summary><c>pathprobe analyze --json FILE</c>: the document.</summary>
    public static JsonObject Analyze(string file)
    {
        var (exit, stdout, stderr) = Shell.Run(Environment.ProcessPath!, ["exec", Dll, "analyze", "--json", "-q", file], check: false, timeoutMs: 60_000);
        Assert.True(exit is 0 or 1, $"analyze {file}: exit {exit}: {stderr}");
        return JsonNode.Parse(stdout)!.AsObject();
    }

    /// <summary>The fixes of a probe document or an <c>mtu-blackhole</c> finding's evidence.</summary>
    public static List<Fix> Fixes(JsonNode? fixes) =>
        fixes!.AsArray().Select(f => new Fix(
            (string)f!["at"]!, (string)f["tool"]!,
            f["commands"]!.AsArray().Select(c => (string)c!).ToList(),
            f["undo"]!.AsArray().Select(c => (string)c!).ToList(),
            (string)f["basis"]!)).ToList();
}

internal sealed record Fix(string At, string Tool, List<string> Commands, List<string> Undo, string Basis)
{
    public override string ToString() => $"{At}/{Tool}";
}
