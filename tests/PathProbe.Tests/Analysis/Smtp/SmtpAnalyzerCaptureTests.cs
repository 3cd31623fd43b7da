using System.Text.Json;
using PathProbe.Analysis.Smtp;
using PathProbe.Capture;
using PathProbe.Flows;
using PathProbe.Pipeline;
using PathProbe.Reports;
using PathProbe.Tests.Support;

namespace PathProbe.Tests.Analysis.Smtp;

/// <summary>The bundled SMTP captures through the whole pipeline (FileAnalyzer → Engine → JSON report): what
/// <c>flows[].smtp</c> says and which SMTP findings come out.</summary>
public sealed class SmtpAnalyzerCaptureTests
{
    private sealed record Result(CaptureAnalysis Analysis, JsonElement Root)
    {
        public List<JsonElement> SmtpFlows => Root.GetProperty("flows").EnumerateArray()
            .Where(f => f.TryGetProperty("smtp", out _)).OrderBy(f => f.GetProperty("id").GetInt32()).ToList();

        public List<JsonElement> Findings(string kind) => Root.GetProperty("findings").EnumerateArray()
            .Where(f => f.GetProperty("kind").GetString() == kind).ToList();

        public List<JsonElement> SmtpFindings => Root.GetProperty("findings").EnumerateArray()
            .Where(f => f.GetProperty("kind").GetString()!.StartsWith("smtp-")).ToList();
    }

    private static Result Analyze(string name)
    {
        var a = FileAnalyzer.Analyze(Path.Combine(TestPaths.Captures, name));
        Assert.Null(a.Input.Error);
        var ms = new MemoryStream();
        JsonReport.Write(ms, new[] { a });
        return new Result(a, JsonDocument.Parse(ms.ToArray()).RootElement);
    }

    private static JsonElement Smtp(JsonElement flow) => flow.GetProperty("smtp");

    [Theory]
    [InlineData("smtp-healthy-ipv4.pcap")]
    [InlineData("smtp-healthy-ipv6.pcap")]
    public void Analyze_Healthy_OneAcceptedMailAndNoSmtpFindings(string name)
    {
        var r = Analyze(name);
        var flow = Assert.Single(r.SmtpFlows);
        var smtp = Smtp(flow);
        Assert.Equal("port", smtp.GetProperty("detectedBy").GetString());
        Assert.Equal("220 mx.example.test ESMTP Postfix", smtp.GetProperty("banner").GetString());
        Assert.Equal("closed", smtp.GetProperty("end").GetString());
        var tx = Assert.Single(smtp.GetProperty("transactions").EnumerateArray());
        Assert.Equal("accepted", tx.GetProperty("outcome").GetString());
        Assert.Equal(250, tx.GetProperty("finalReply").GetProperty("code").GetInt32());
        Assert.StartsWith("Ok: queued as ", tx.GetProperty("finalReply").GetProperty("text").GetString());
        // A 200,000-byte attachment, base64-encoded: the message is well over 200 kB.
        Assert.InRange(tx.GetProperty("messageBytes").GetInt64(), 270_000, 280_000);
        Assert.True(tx.GetProperty("dataToFinalReply").GetDouble() > 0);
        Assert.Empty(r.SmtpFindings);
        Assert.Equal(1, r.Root.GetProperty("stats").GetProperty("smtp").GetProperty("flows").GetInt32());
    }

    [Fact]
    public void Analyze_Pipelining_ThreeRecipientsEachWithItsReply()
    {
        var r = Analyze("smtp-pipelining-multi-rcpt.pcap");
        var smtp = Smtp(Assert.Single(r.SmtpFlows));
        var caps = smtp.GetProperty("capabilities");
        Assert.True(caps.GetProperty("pipelining").GetBoolean());
        Assert.True(caps.GetProperty("chunking").GetBoolean());
        Assert.Equal(10_240_000, caps.GetProperty("size").GetInt64());
        Assert.Equal("client.example.net", smtp.GetProperty("ehloName").GetString());
        var tx = Assert.Single(smtp.GetProperty("transactions").EnumerateArray());
        Assert.Equal("sender@example.net", tx.GetProperty("from").GetString());
        var rcpts = tx.GetProperty("recipients").EnumerateArray().ToList();
        Assert.Equal(new[] { "a@example.test", "b@example.test", "c@example.test" }, rcpts.Select(x => x.GetProperty("address").GetString()));
        Assert.All(rcpts, x => Assert.Equal(250, x.GetProperty("reply").GetInt32()));
        Assert.All(rcpts, x => Assert.Equal("2.1.5", x.GetProperty("enhancedCode").GetString()));
        // All five commands left in one segment and were answered by one segment: same send and reply times.
        var cmds = tx.GetProperty("commands").EnumerateArray().ToList();
        Assert.Equal(new[] { "MAIL", "RCPT", "RCPT", "RCPT", "DATA", "." }, cmds.Select(c => c.GetProperty("command").GetString()));
        Assert.Single(cmds.Take(5).Select(c => c.GetProperty("time").GetString()).Distinct());
        Assert.Equal(354, cmds[4].GetProperty("reply").GetProperty("code").GetInt32());
        Assert.Equal("accepted", tx.GetProperty("outcome").GetString());
        Assert.Empty(r.SmtpFindings);
    }

    [Fact]
    public void Analyze_StartTls_TlsNotedAndNoTransactionOrFinding()
    {
        var r = Analyze("smtp-starttls.pcap");
        var smtp = Smtp(Assert.Single(r.SmtpFlows));
        Assert.Equal("starttls", smtp.GetProperty("tls").GetString());
        Assert.True(smtp.GetProperty("capabilities").GetProperty("startTls").GetBoolean());
        Assert.NotEqual(JsonValueKind.Null, smtp.GetProperty("tlsStart").ValueKind);
        Assert.Empty(smtp.GetProperty("transactions").EnumerateArray());
        Assert.True(smtp.GetProperty("bytes").GetProperty("tlsC2s").GetInt64() > 0);
        Assert.Contains(smtp.GetProperty("commands").EnumerateArray(), c => c.GetProperty("command").GetString() == "STARTTLS" &&
            c.GetProperty("reply").GetProperty("code").GetInt32() == 220);
        // The client ends the TLS session with a RST: the mail was delivered (Postfix log), so no smtp-aborted.
        Assert.Empty(r.SmtpFindings);
    }

    [Fact]
    public void Analyze_Bdat_ThreeChunksCountedAsTheMessage()
    {
        var r = Analyze("smtp-bdat.pcap");
        var smtp = Smtp(Assert.Single(r.SmtpFlows));
        var tx = Assert.Single(smtp.GetProperty("transactions").EnumerateArray());
        Assert.Equal("bdat", tx.GetProperty("dataCommand").GetString());
        Assert.Equal(4693, tx.GetProperty("messageBytes").GetInt64()); // 2000 + 2000 + 693 (captures/README.md)
        Assert.Equal(3, tx.GetProperty("commands").EnumerateArray().Count(c => c.GetProperty("command").GetString() == "BDAT"));
        Assert.Equal("accepted", tx.GetProperty("outcome").GetString());
        Assert.Contains("4693 bytes queued", tx.GetProperty("finalReply").GetProperty("text").GetString());
        Assert.Empty(r.SmtpFindings);
    }

    [Fact]
    public void Analyze_421AtConnect_DeferralClassifiedAsRateLimit()
    {
        var r = Analyze("smtp-421-ratelimit.pcap");
        var flows = r.SmtpFlows;
        Assert.Equal(3, flows.Count);
        foreach (var f in flows.Take(2))
        {
            var tx = Assert.Single(Smtp(f).GetProperty("transactions").EnumerateArray());
            Assert.Equal("accepted", tx.GetProperty("outcome").GetString());
            Assert.Equal(5, tx.GetProperty("recipients").GetArrayLength());
        }
        var third = Smtp(flows[2]);
        Assert.StartsWith("421 4.7.0 mx.example.test Error: too many connections", third.GetProperty("banner").GetString());
        Assert.Empty(third.GetProperty("transactions").EnumerateArray());

        var d = Assert.Single(r.Findings("smtp-deferral"));
        Assert.Equal("warning", d.GetProperty("severity").GetString());
        Assert.Equal(flows[2].GetProperty("id").GetInt32(), Assert.Single(d.GetProperty("flows").EnumerateArray()).GetInt32());
        var ev = d.GetProperty("evidence");
        Assert.Equal("rate-limit", ev.GetProperty("classification").GetString());
        var reply = Assert.Single(ev.GetProperty("flows")[0].GetProperty("replies").EnumerateArray());
        Assert.Equal("greeting", reply.GetProperty("command").GetString());
        Assert.Equal(421, reply.GetProperty("code").GetInt32());
        Assert.Equal("4.7.0", reply.GetProperty("enhancedCode").GetString());
        Assert.Contains("rate limiting", d.GetProperty("summary").GetString());
        // The server's RST after QUIT (it had already said 421) is not an aborted mail.
        Assert.Empty(r.Findings("smtp-aborted"));
    }

    [Fact]
    public void Analyze_552_RejectComparesMessageWithAdvertisedSize()
    {
        var r = Analyze("smtp-552-size.pcap");
        var smtp = Smtp(Assert.Single(r.SmtpFlows));
        Assert.Equal(100_000, smtp.GetProperty("capabilities").GetProperty("size").GetInt64());
        var tx = Assert.Single(smtp.GetProperty("transactions").EnumerateArray());
        Assert.Equal("rejected", tx.GetProperty("outcome").GetString());
        Assert.Equal(552, tx.GetProperty("finalReply").GetProperty("code").GetInt32());
        Assert.Equal("5.3.4", tx.GetProperty("finalReply").GetProperty("enhancedCode").GetString());
        Assert.Equal(JsonValueKind.Null, tx.GetProperty("declaredSize").ValueKind); // swaks sent no SIZE=
        long message = tx.GetProperty("messageBytes").GetInt64();
        Assert.True(message > 300_000, $"message {message}");

        var f = Assert.Single(r.Findings("smtp-reject"));
        var ev = f.GetProperty("evidence");
        Assert.Equal("size", ev.GetProperty("classification").GetString());
        var item = ev.GetProperty("flows")[0];
        Assert.Equal(100_000, item.GetProperty("advertisedSizeLimit").GetInt64());
        Assert.Equal(message, item.GetProperty("messageBytes").GetInt64()); // the flow's own number
        string summary = f.GetProperty("summary").GetString()!;
        Assert.Contains("552 5.3.4 Error: message file too big", summary);
        Assert.Contains("exceeds the advertised SIZE 100 kB", summary);
        Assert.Empty(r.Findings("smtp-aborted"));
        Assert.Empty(r.Findings("smtp-deferral"));
    }

    [Fact]
    public void Analyze_Mru1424Sender_MailStalledInDataIsAbortedWithTheStall()
    {
        var r = Analyze("smtp-mru1424-sender.pcap");
        var flows = r.SmtpFlows;
        Assert.Equal(2, flows.Count);
        Assert.Equal("accepted", Smtp(flows[0]).GetProperty("transactions")[0].GetProperty("outcome").GetString());
        var stalled = Smtp(flows[1]);
        Assert.Equal("stalled", stalled.GetProperty("end").GetString());
        var tx = stalled.GetProperty("transactions")[0];
        Assert.Equal("aborted", tx.GetProperty("outcome").GetString());
        Assert.Equal("data", tx.GetProperty("endPhase").GetString());
        Assert.Equal(JsonValueKind.Null, tx.GetProperty("finalReply").ValueKind);

        var f = Assert.Single(r.Findings("smtp-aborted"));
        Assert.Equal("critical", f.GetProperty("severity").GetString());
        Assert.Equal(flows[1].GetProperty("id").GetInt32(), f.GetProperty("flows")[0].GetInt32());
        var ev = f.GetProperty("evidence");
        var item = ev.GetProperty("flows")[0];
        Assert.Equal("data", item.GetProperty("position").GetProperty("phase").GetString());
        Assert.Equal("stalled", ev.GetProperty("tcpEnd").GetString());
        var stall = item.GetProperty("stall");
        Assert.Equal("rto-backoff", stall.GetProperty("stallKind").GetString());
        // Seq 93 was sent 9 times: once, once more with the first flight's resends, then 7 RTO resends
        // (captures/README.md): 8 resends, the same number as mtu-blackhole's and the flow's longest series.
        var series = stall.GetProperty("series");
        Assert.Equal(8, series.GetProperty("resends").GetInt32());
        Assert.Equal(8, flows[1].GetProperty("tcp").GetProperty("c2s").GetProperty("longestRetransmissionSeries").GetProperty("resends").GetInt32());
        Assert.Equal(1500, series.GetProperty("ipPacketSize").GetInt32());
        Assert.True(series.GetProperty("backoff").GetBoolean());
        string summary = f.GetProperty("summary").GetString()!;
        Assert.Contains("DATA after 354 (transaction 1, ", summary);
        Assert.Contains("TCP stalled for 26.5 s", summary);
        // The TCP stall finding is still there, for the same flow.
        Assert.Contains(r.Findings("stall"), s => s.GetProperty("flows")[0].GetInt32() == flows[1].GetProperty("id").GetInt32());
    }

    [Fact]
    public void Engine_Mru1424SenderBeforeTheEnd_PositionSaysDataAfter354WithBytesSent()
    {
        // What other detectors quote while the flow is still open (the live case): the stalled flow's position.
        var engine = new Engine();
        using (var source = CaptureFile.Open(Path.Combine(TestPaths.Captures, "smtp-mru1424-sender.pcap")))
            while (source.TryRead(out var frame)) engine.Process(frame);
        var flow = engine.Flows.LiveFlows.Single(f => f.ClientPort == 37672);
        var app = Assert.IsType<SmtpFlowState>(flow.App);
        Assert.Equal("data", app.Phase);
        long sent = app.Session.CurrentMessageBytes;
        Assert.Equal(15 * 1448 + 952, sent); // the first flight: 15 full segments and one of 952 bytes (captures/README.md)
        var position = app.Position;
        Assert.Equal(PathProbe.Protocols.Smtp.SmtpPhase.Data, position!.Phase);
        Assert.Equal(sent, position.Message!.Bytes);
        Assert.Equal("DATA after 354 (transaction 1, 22.7 kB of the message sent)", PathProbe.Findings.Kinds.SmtpWords.Position(position, null));
    }

    [Fact]
    public void Analyze_EverySmtpCapture_MailSectionListsEveryTransaction()
    {
        foreach (var name in new[] { "smtp-421-ratelimit.pcap", "smtp-552-size.pcap", "smtp-mru1424-sender.pcap" })
        {
            var a = FileAnalyzer.Analyze(Path.Combine(TestPaths.Captures, name));
            var sw = new StringWriter();
            TextReport.Write(sw, new[] { a }, new TextReport.Options { Width = 1000 });
            string text = sw.ToString();
            int mail = text.IndexOf("\nMail: ", StringComparison.Ordinal), findings = text.IndexOf("\nFindings", StringComparison.Ordinal);
            int flowTable = text.IndexOf("\nFlows (", StringComparison.Ordinal);
            Assert.True(findings > 0 && findings < mail && mail < flowTable, $"{name}: the findings come before the Mail section");
            var lines = text[mail..flowTable].Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => l.StartsWith("    ", StringComparison.Ordinal)).ToList();
            int txs = a.Flows.Where(f => f.App is SmtpFlowState).Sum(f => Math.Max(1, ((SmtpFlowState)f.App!).Session.Transactions.Count));
            Assert.Equal(txs, lines.Count);
            Assert.All(lines, l => Assert.Contains(" → 203.0.113.25:25  ", l));
        }
    }

    /// <summary>Sessions whose flows the report does not keep (beyond its flow limit) are counted on the Mail line,
    /// so its numbers add up to the SMTP flows decoded.</summary>
    [Fact]
    public void Analyze_ReportFlowLimit_MailLineCountsTheSessionsNotListed()
    {
        string capture = Path.Combine(TestPaths.Captures, "smtp-retrans-storm-blackhole.pcap");
        var options = new AnalysisOptions { Flows = new FlowTableOptions { MaxReportedFlows = 3 } };
        var a = FileAnalyzer.Analyze(AnalysisInput.One(capture), options, null);
        var sw = new StringWriter();
        TextReport.Write(sw, new[] { a }, new TextReport.Options { Width = 1000 });
        int listed = a.Flows.Count(f => f.App is SmtpFlowState);
        Assert.Equal(8, a.Smtp!.Flows);
        Assert.Equal(3, listed); // the report keeps 3 flows, all of them mail sessions
        Assert.Contains($"Mail: {listed} SMTP sessions", sw.ToString());
        Assert.Contains($"; {8 - listed} more sessions decoded but not listed (report limit of flows)", sw.ToString());
    }

    [Fact]
    public void Analyze_MruTimeout_PostfixTimeoutIsServerTimeoutTiedToTheStallAndTheBlackHole()
    {
        // Real Postfix (smtpd_timeout 10s) behind the MRU 1424 black hole: "421 4.4.2 ... Error: timeout exceeded".
        var r = Analyze("smtp-mru1424-timeout.pcap");
        var smtp = Smtp(Assert.Single(r.SmtpFlows));
        var tx = Assert.Single(smtp.GetProperty("transactions").EnumerateArray());
        Assert.Equal("deferred", tx.GetProperty("outcome").GetString());
        Assert.Equal("data", tx.GetProperty("endPhase").GetString());
        Assert.Equal("4.4.2", tx.GetProperty("finalReply").GetProperty("enhancedCode").GetString());
        var deferral = Assert.Single(r.Findings("smtp-deferral"));
        Assert.Equal("server-timeout", deferral.GetProperty("evidence").GetProperty("classification").GetString());
        var ev = deferral.GetProperty("evidence").GetProperty("flows")[0];   // schema 2: what the kind found, per flow
        Assert.Equal("server-timeout", ev.GetProperty("classification").GetString());
        Assert.True(ev.GetProperty("pathMtuBlackHole").GetBoolean());
        Assert.Equal("rto-backoff", ev.GetProperty("stall").GetProperty("stallKind").GetString());
        Assert.InRange(ev.GetProperty("stall").GetProperty("beforeReply").GetDouble(), 9.5, 10.5);
        Assert.Contains("see mtu-blackhole", deferral.GetProperty("summary").GetString());
        Assert.DoesNotContain("rate", deferral.GetProperty("advice").GetString()!.Replace("not a rate limit", ""));
        Assert.Single(r.Findings("mtu-blackhole"));
        // Where the session stopped, typed: the server's 421 cut the data short (phase "closing"), in words by the writers.
        Assert.Equal("closing", smtp.GetProperty("position").GetProperty("phase").GetString());
        var state = (SmtpFlowState)r.Analysis.Flows.Single(f => f.App is SmtpFlowState).App!;
        var position = Assert.IsType<PathProbe.Findings.SmtpPosition>(state.Position);
        Assert.True(position.CutShortBy421);
        Assert.Equal("DATA cut short by the server's 421 (transaction 1, 22.7 kB of the message sent; the server closed the session)",
            PathProbe.Findings.Kinds.SmtpWords.Position(position, PathProbe.Findings.FlowFacts.Of(r.Analysis.Flows[0])));
    }

    [Fact]
    public void Analyze_Proxies_FiveMailsThroughFourKindsOfProxy()
    {
        // Real tinyproxy (HTTP CONNECT), Dante (SOCKS 5 and 4), and PROXY v1/v2 headers to Postfix.
        var r = Analyze("smtp-proxies.pcap");
        var flows = r.SmtpFlows;
        Assert.Equal(5, flows.Count);
        Assert.All(flows, f => Assert.Equal("smtp", f.GetProperty("application").GetString()));
        Assert.Equal(new[] { "http-connect", "socks5", "socks4", "proxy-v1", "proxy-v2" },
            flows.Select(f => Smtp(f).GetProperty("proxy").GetProperty("kind").GetString()));
        Assert.Equal(new[] { "proxy", "proxy", "proxy", "proxy", "proxy" }, flows.Select(f => Smtp(f).GetProperty("detectedBy").GetString()));
        Assert.Equal(new[] { "203.0.113.25:25", "203.0.113.25:25", "203.0.113.25:25", null, null },
            flows.Select(f => Smtp(f).GetProperty("proxy").GetProperty("target").GetString()));
        Assert.Equal(new[] { null, null, null, "192.0.2.7:40512", "192.0.2.8:40513" },
            flows.Select(f => Smtp(f).GetProperty("proxy").GetProperty("source") is { ValueKind: JsonValueKind.Object } e
                ? $"{e.GetProperty("ip").GetString()}:{e.GetProperty("port").GetInt32()}" : null));
        Assert.All(flows, f =>
        {
            var tx = Assert.Single(Smtp(f).GetProperty("transactions").EnumerateArray());
            Assert.Equal("accepted", tx.GetProperty("outcome").GetString());
            Assert.StartsWith("Ok: queued as ", tx.GetProperty("finalReply").GetProperty("text").GetString());
            Assert.Equal(0, Smtp(f).GetProperty("anomalies").GetProperty("unknownCommands").GetInt32());
        });
        var stats = r.Root.GetProperty("stats").GetProperty("smtp");
        Assert.Equal(5, stats.GetProperty("flows").GetInt32());
        Assert.Equal(5, stats.GetProperty("flowsBehindProxy").GetInt32());
        Assert.Empty(r.SmtpFindings);
    }

    [Fact]
    public void Analyze_MruReceiver_LostBytesAreNotACaptureGap()
    {
        // At the receiver the 7,240 bytes before the one 1018-byte segment never arrived (the black hole): nobody
        // acknowledged them, so they are lost on the path, not missed by the capture.
        var r = Analyze("smtp-mru1424-receiver.pcap");
        var tx = Smtp(r.SmtpFlows[1]).GetProperty("transactions")[0];
        Assert.Equal(0, tx.GetProperty("captureGapBytes").GetInt64());
        Assert.True(tx.GetProperty("messageBytesApproximate").GetBoolean());
        var text = new StringWriter();
        TextReport.Write(text, new[] { r.Analysis });
        Assert.DoesNotContain("gap in capture", text.ToString());
    }
}
