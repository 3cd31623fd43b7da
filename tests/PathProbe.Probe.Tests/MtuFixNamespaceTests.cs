using System.Diagnostics;
using System.Text.Json.Nodes;
using PathProbe.Probe.Tests.Support;
using Xunit.Abstractions;

namespace PathProbe.Probe.Tests;

/// <summary>
/// Issue 13 item 1: the fixes PathProbe prints for a black hole make the stalled mail go through. A real MRU black
/// hole (the router's interface toward the client has MTU 1400, the client sends 1500-byte packets), a real SMTP
/// server, swaks sending a mail with a 200 kB attachment. The stall is captured with tcpdump at the client and at the
/// server; <c>pathprobe analyze --json</c> of each capture gives the <c>mtu-blackhole</c> finding with its
/// <c>fixes</c>; every fix is applied on its own host only (sender: the client namespace, receiver: the server's,
/// router: the router's) with <c>sh -e</c>, the same mail is sent again and must be delivered, then the fix's undo
/// must leave the rules exactly as they were. At the end, with every fix undone, the mail stalls again.
/// </summary>
public sealed class MtuFixNamespaceTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("pathprobe-fix-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [SkippableTheory]
    [InlineData(4)]
    [InlineData(6)]
    public void AnalyzeFixes_AppliedOnTheirHost_DeliverTheStalledMailAndUndoCleanly(int ipVersion)
    {
        Requires.MailNamespaces("swaks", "tcpdump", "iptables", "ip6tables");
        bool v6 = ipVersion == 6;
        string server = v6 ? Topology.ServerV6 : Topology.ServerV4;
        using var net = new Topology(routerClientMtu: 1400);
        var mail = new MailServer(net, _dir);

        string atClient = Path.Combine(_dir, "client.pcap"), atServer = Path.Combine(_dir, "server.pcap");
        using (Capture(net, net.Client, net.ClientIf, atClient))
        using (Capture(net, net.Server, net.ServerIf, atServer))
            Assert.False(mail.Send(net, server, 5, out _), "the mail with the attachment should stall in the black hole");

        var fromSender = Hole(PathProbeCli.Analyze(atClient), "sender", server, v6 ? Topology.ClientV6 : Topology.ClientV4);
        var fromReceiver = Hole(PathProbeCli.Analyze(atServer), "receiver", server, v6 ? Topology.ClientV6 : Topology.ClientV4);

        // Each capture's own fixes (its vantage first), and the router's; for IPv4 every fix of both captures.
        var plan = new List<(string Capture, Fix Fix)>();
        foreach (var f in PathProbeCli.Fixes(fromSender["evidence"]!["fixes"]))
            if (!v6 || f.At != "receiver") plan.Add(("sender capture", f));
        foreach (var f in PathProbeCli.Fixes(fromReceiver["evidence"]!["fixes"]))
            if (!v6 || f.At == "receiver") plan.Add(("receiver capture", f));
        Assert.Equal(v6 ? 8 : 16, plan.Count);
        Assert.Contains(plan, p => p.Fix.At == "sender" && p.Fix.Tool == "nft");
        Assert.Contains(plan, p => p.Fix.At == "receiver" && p.Fix.Tool == "ip");
        Assert.Contains(plan, p => p.Fix.At == "router" && p.Fix.Tool == "iptables");

        foreach (var (capture, fix) in plan)
        {
            string ns = fix.At switch { "sender" => net.Client, "receiver" => net.Server, _ => net.Router };
            var watch = Stopwatch.StartNew();
            string before = Rules(ns, fix.Tool);
            Topology.Exec(ns, string.Join("\n", fix.Commands));
            Assert.NotEqual(before, Rules(ns, fix.Tool));
            bool delivered = mail.Send(net, server, 15, out var transcript);
            Assert.True(delivered, $"{fix} from the {capture} did not deliver the mail:\n{string.Join("\n", fix.Commands)}\n" +
                                   transcript[^Math.Min(800, transcript.Length)..]);
            Topology.Exec(ns, string.Join("\n", fix.Undo));
            Assert.Equal(before, Rules(ns, fix.Tool));
            output.WriteLine($"{fix,-18} ({capture}): delivered, undone, {watch.Elapsed.TotalSeconds:0.0} s");
        }

        Assert.False(mail.Send(net, server, 4, out _), "with every fix undone the mail should stall again");
    }

    /// <summary>The mtu-blackhole finding of an analysis, from the given vantage, about these two hosts.</summary>
    private JsonObject Hole(JsonObject analysis, string vantage, string receiver, string sender)
    {
        var hole = Assert.Single(analysis["findings"]!.AsArray(), f => (string?)f!["kind"] == "mtu-blackhole")!.AsObject();
        var ev = hole["evidence"]!;
        Assert.Equal(vantage, (string?)ev["vantage"]);
        Assert.Contains(sender, ev["senders"]!.AsArray().Select(a => (string?)a));
        Assert.Contains(receiver, ev["receivers"]!.AsArray().Select(a => (string?)a));
        var fixes = PathProbeCli.Fixes(ev["fixes"]);
        Assert.Equal(vantage, fixes[0].At); // the vantage's own fixes first
        Assert.Equal(string.Join(" && ", fixes[0].Commands), (string?)ev["fixCommand"]);
        Assert.Contains("pathprobe probe", (string?)hole["advice"]);
        output.WriteLine($"{vantage} capture: pathMtu {ev["pathMtu"]!.ToJsonString()}, fix: {fixes[0].Commands[^1]}");
        return hole;
    }

    /// <summary>What a fix of <paramref name="tool"/> changes, as the administrator would list it.</summary>
    private static string Rules(string ns, string tool) => tool switch
    {
        "nft" => Topology.Exec(ns, "nft list ruleset"),
        "iptables" => Topology.Exec(ns, "iptables -t mangle -S; ip6tables -t mangle -S"),
        _ => Topology.Exec(ns, "ip route show table all; ip -6 route show table all"),
    };

    /// <summary>tcpdump on <paramref name="itf"/> in <paramref name="ns"/> until disposed (SIGINT, then it writes the
    /// rest of the file).</summary>
    private IDisposable Capture(Topology net, string ns, string itf, string file)
    {
        var p = net.Start(ns, "tcpdump", "-i", itf, "-n", "-s", "256", "-U", "-w", file);
        var listening = new TaskCompletionSource();
        p.ErrorDataReceived += (_, e) => { if (e.Data?.Contains("listening on") == true) listening.TrySetResult(); };
        p.BeginErrorReadLine();
        Assert.True(listening.Task.Wait(10_000), "tcpdump did not start");
        return new Stop(() =>
        {
            Thread.Sleep(300);
            Shell.Run("kill", ["-INT", p.Id.ToString()], check: false);
            Assert.True(p.WaitForExit(10_000), "tcpdump did not stop");
            output.WriteLine($"captured {new FileInfo(file).Length} bytes at {ns}");
        });
    }

    private sealed class Stop(Action action) : IDisposable
    {
        public void Dispose() => action();
    }
}
