using PathProbe.Cli.Commands;
using PathProbe.Decoding;
using PathProbe.Findings;
using PathProbe.Findings.Kinds;
using PathProbe.Pipeline;
using PathProbe.Primitives;
using PathProbe.Tests.Analysis.Smtp;
using PathProbe.Tests.Support;

namespace PathProbe.Tests.Findings;

/// <summary>Live findings that grow: a stable id, opened / updated / closed, the final report with the final numbers.</summary>
public sealed class FindingLifecycleTests
{
    private static (Engine Engine, List<FindingEvent> Events, CaptureAnalysis Analysis, List<(long Time, List<FindingEvent> Batch)> Batches) Replay(string name)
    {
        var engine = new Engine(new AnalysisOptions { FindingEvents = true });
        var events = new List<FindingEvent>();
        var batches = new List<(long, List<FindingEvent>)>();
        using (var source = PathProbe.Capture.CaptureFile.Open(Path.Combine(TestPaths.Captures, name)))
            while (source.TryRead(out var frame))
            {
                engine.Process(frame);
                var batch = new List<FindingEvent>();
                if (engine.TakeFindingEvents(batch) > 0) { events.AddRange(batch); batches.Add((frame.Time.UnixNanoseconds, batch)); }
            }
        var a = engine.Complete(new InputSummary { Path = name });
        var last = new List<FindingEvent>();
        engine.TakeFindingEvents(last);
        events.AddRange(last);
        return (engine, events, a, batches);
    }

    [Fact]
    public void Capture_Incident_BlackHoleOpensOngoingGrowsAndClosesWithTheSameId()
    {
        var (_, events, a, batches) = Replay("smtp-mru1424-sender.pcap");
        var final = a.Findings.Single(f => f.Kind == FindingKind.MtuBlackhole);
        var mine = events.Where(e => e.Finding.Id == final.Id).ToList();
        Assert.All(mine, e => Assert.Equal(FindingKind.MtuBlackhole, e.Finding.Kind));
        Assert.Equal(FindingChange.Opened, mine[0].Change);
        Assert.True(mine[0].Finding.Ongoing);
        Assert.StartsWith("ONGOING: ", mine[0].Finding.Summary);
        // While the capture runs the numbers grow (each resend of the lost packet), with the same id.
        var resends = mine.Select(e => e.Finding.Verdict<BlackHoleVerdict>().Resends).ToList();
        Assert.True(resends.Distinct().Count() > 1, string.Join(",", resends));
        Assert.Contains(mine, e => e.Change == FindingChange.Closed);
        Assert.Same(final, mine[^1].Finding); // the final report has the final version (after closing, the flow's final numbers)
        Assert.False(final.Ongoing);
        Assert.Equal(8, final.Verdict<BlackHoleVerdict>().Resends);
        // It opened while the flow was still stalling: long before the capture ended.
        long opened = batches.First(b => b.Batch.Any(e => e.Finding.Id == final.Id)).Time;
        Assert.True(opened < a.Flows.Max(f => f.End.UnixNanoseconds) - 10_000_000_000L);
    }

    [Fact]
    public void Capture_Incident_StallIsRaisedOngoingAndItsLiveLinesAreOpenChangeClose()
    {
        var (_, events, a, _) = Replay("smtp-mru1424-sender.pcap");
        var stall = a.Findings.Single(f => f.Kind == FindingKind.Stall);
        var mine = events.Where(e => e.Finding.Id == stall.Id).ToList();
        Assert.True(mine.Count >= 3, $"{mine.Count} events");
        Assert.True(mine[0].Finding.Ongoing);
        Assert.Equal(Severity.Critical, mine[0].Finding.Severity); // stuck now: critical while ongoing
        // Text mode prints only the notable ones: opened, and closed (resends alone change numbers, not the verdict).
        var lines = mine.Where(e => e.Notable).Select(e => CaptureCommand.FindingLine(e, new Timestamp(SmtpFrames.Base))).ToList();
        Assert.Contains(lines, l => l.Contains(" new #" + stall.Id + " [critical] stall: ONGOING: ", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains(" closed #" + stall.Id + " [critical] stall: no progress for 26.5 s", StringComparison.Ordinal));
        Assert.True(lines.Count < mine.Count, "updates with new numbers only are not printed");
        // NDJSON: every event of this finding carries the same id.
        var sw = new StringWriter();
        // As capture --ndjson writes them: its record feed into an NDJSON record writer.
        var feed = new PathProbe.Reports.Records.RecordFeed(new PathProbe.Reports.Records.RecordScope("test", "live"),
            new PathProbe.Reports.Records.NdjsonRecordWriter(sw), null);
        foreach (var e in mine) feed.FindingChanged(e);
        var ids = sw.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => System.Text.Json.JsonDocument.Parse(l).RootElement).Select(r => (r.GetProperty("id").GetInt32(), r.GetProperty("change").GetString())).ToList();
        Assert.All(ids, x => Assert.Equal(stall.Id, x.Item1));
        Assert.Equal("opened", ids[0].Item2);
        Assert.Contains(ids, x => x.Item2 == "closed");
    }

    [Fact]
    public void Engine_ServerSendsDuringTheStall_StillOneOutage()
    {
        // The client's message body is black-holed; 5 s in, the server gives up with a 421 (new data from the server,
        // which TCP counts as progress), and the client keeps resending until the capture ends 25 s after the data.
        var e = new Engine();
        var f = new SmtpFrames(e);
        f.Handshake();
        f.Server("220 mx.example.test ESMTP\r\n", 10);
        f.Client("EHLO client.example.net\r\n", 20);
        f.Server("250 mx.example.test\r\n", 30);
        f.Client("MAIL FROM:<a@example.net>\r\n", 40);
        f.Server("250 2.1.0 Ok\r\n", 50);
        f.Client("RCPT TO:<b@example.test>\r\n", 60);
        f.Server("250 2.1.5 Ok\r\n", 70);
        f.Client("DATA\r\n", 80);
        f.Server("354 go ahead\r\n", 90);
        uint seq = f.ClientSeq;
        long t = 100;
        f.ClientUnacked(1460, atMs: t);
        foreach (long gap in new long[] { 200, 400, 800, 1600 }) f.ClientUnacked(1460, seq, atMs: t += gap);
        f.NowMs = 5000;
        f.Send(false, TcpFlags.Ack | TcpFlags.Psh, f.ServerSeq, seq, "421 4.4.2 mx.example.test Error: timeout exceeded\r\n"u8);
        foreach (long at in new long[] { 6300, 12700, 25000 }) f.ClientUnacked(1460, seq, atMs: at);
        var a = e.Complete(new InputSummary { Path = "synthetic" });

        // The server's data is progress for TCP, but the client's data never moved: one outage, not two stalls (the
        // smtp-aborted finding holds this same verdict, SmtpAnalyzerTests checks that).
        var stall = Assert.Single(a.Findings, x => x.Kind == FindingKind.Stall).Verdict<StallVerdict>();
        Assert.Equal(StallEnd.CaptureEnded, stall.End);
        Assert.Equal(24_900_000_000L, stall.DurationNanos); // from the data at 100 ms to the end at 25 s
        Assert.Equal(7, stall.Series!.Resends);
        Assert.Contains("no progress for 24.9 s", a.Findings.Single(x => x.Kind == FindingKind.Stall).Summary);
    }

    /// <summary>A flood of verdicts into one finding (connection attempts to one unreachable server): live output gets
    /// one event per finding per take, with its latest version, not one per verdict; past the finding's cap of 200
    /// verdicts only the count of those not listed grows, and the event of each take carries it.</summary>
    [Fact]
    public void Log_VerdictFlood_OneEventPerFindingPerTake()
    {
        var log = new FindingLog { RecordEvents = true };
        var server = new Endpoint(IpAddress.FromV4(0xCB00710A), 25); // 203.0.113.10
        ConnectTimeoutVerdict Attempt(int i) => new()
        {
            Syns = 3, FirstSyn = new Timestamp(i * 1_000_000L), LastSyn = new Timestamp(i * 1_000_000L + 3_000_000_000L), WaitedNanos = 5_000_000_000L,
            Flows = [new FlowFacts { Id = i + 1, Client = new Endpoint(IpAddress.FromV4(0xC6336400u + (uint)(i % 250)), (ushort)(1024 + i)), Server = server }],
        };
        var takes = new List<List<FindingEvent>>();
        for (int i = 0; i < 10_000; i++)
        {
            log.Raise(Attempt(i));
            if (i % 1_000 == 999) { var batch = new List<FindingEvent>(); log.TakeEvents(batch); takes.Add(batch); }
        }
        Assert.Equal(10, takes.Count);
        Assert.All(takes, t => Assert.Single(t));
        Assert.Equal(FindingChange.Opened, takes[0][0].Change);
        Assert.All(takes.Skip(1), t => Assert.Equal(FindingChange.Updated, t[0].Change));
        Assert.All(takes.Skip(1), t => Assert.False(t[0].Notable)); // only the count of attempts not listed grew
        var last = takes[^1][0].Finding;
        Assert.Same(log.Findings.Single(), last);
        Assert.Equal(200, last.Items.Count);
        Assert.Equal(9_800, last.ItemsNotListed);
        Assert.Equal(Enumerable.Range(1, 200), last.Flows); // the listed verdicts' flows, ascending
        Assert.Equal(10_000, log.Findings.Single().Version);
        var none = new List<FindingEvent>();
        Assert.Equal(0, log.TakeEvents(none)); // nothing changed since
        Assert.Empty(none);
    }

    private static ConnectTimeoutVerdict Timeout(int flow, bool ongoing) => new()
    {
        Syns = 3, FirstSyn = new Timestamp(1_000_000L * flow), LastSyn = new Timestamp(1_000_000L * flow + 3_000_000_000L), WaitedNanos = 5_000_000_000L,
        Ongoing = ongoing,
        Flows = [new FlowFacts { Id = flow, Client = new Endpoint(IpAddress.FromV4(0xC6336400u + (uint)flow), 40000), Server = new Endpoint(IpAddress.FromV4(0xCB00710A + (uint)flow), 25) }],
    };

    /// <summary>A finding that opens and closes between two takes (a stall of a fraction of a second, with the live
    /// output's tick at 0.5 s) is reported opened and then closed, so that a reader pairing the two (NDJSON, OTLP, the
    /// live text) sees it end; one that never was open (a verdict about something already over) is only opened; one
    /// that reopens and closes again between two takes is a notable update and then closed.</summary>
    [Fact]
    public void Log_OpenedAndClosedBetweenTakes_OpenedThenClosed()
    {
        var log = new FindingLog { RecordEvents = true };
        var h = log.Raise(Timeout(1, ongoing: true));
        log.Update(h, Timeout(1, ongoing: false));
        log.Raise(Timeout(2, ongoing: false));
        var events = new List<FindingEvent>();
        Assert.Equal(2, log.TakeEvents(events));

        Assert.Equal(new[] { (1, FindingChange.Opened), (1, FindingChange.Closed), (2, FindingChange.Opened) },
            events.Select(e => (e.Finding.Id, e.Change)));
        Assert.All(events, e => Assert.True(e.Notable));
        Assert.All(events, e => Assert.Equal(FindingState.Closed, e.Finding.State));
        var none = new List<FindingEvent>();
        Assert.Equal(0, log.TakeEvents(none));
        Assert.Empty(none);

        // Reopened (a new verdict, ongoing) and closed again before the next take: a notable update, then closed.
        h = log.Raise(Timeout(1, ongoing: true) with { FirstSyn = new Timestamp(9_000_000_000L) });
        log.Update(h, Timeout(1, ongoing: false) with { FirstSyn = new Timestamp(9_000_000_000L) });
        var reopened = new List<FindingEvent>();
        Assert.Equal(1, log.TakeEvents(reopened));
        Assert.Equal(new[] { FindingChange.Updated, FindingChange.Closed }, reopened.Select(e => e.Change));
        Assert.All(reopened, e => Assert.True(e.Notable));
        Assert.All(reopened, e => Assert.Equal(1, e.Finding.Id));

        // Opened in one take and closed in the next: the usual pair, one event each.
        var log2 = new FindingLog { RecordEvents = true };
        var h2 = log2.Raise(Timeout(3, ongoing: true));
        var first = new List<FindingEvent>();
        log2.TakeEvents(first);
        log2.Update(h2, Timeout(3, ongoing: false));
        var second = new List<FindingEvent>();
        log2.TakeEvents(second);
        Assert.Equal(FindingChange.Opened, Assert.Single(first).Change);
        Assert.Equal(FindingChange.Closed, Assert.Single(second).Change);
    }

    /// <summary>The same for parallel workers' findings (live capture with --threads): the merged log knows that a
    /// worker's finding was open, and their events are the one log's.</summary>
    [Fact]
    public void Merge_FindingOpenInAWorker_EverOpenInTheMergedLog()
    {
        var a = new FindingLog { TrackKeys = true };
        var b = new FindingLog { TrackKeys = true };
        a.Position = new RaiseKey(1, 0, 0, 0);
        var h = a.Raise(Timeout(1, ongoing: true));
        a.Update(h, Timeout(1, ongoing: false));
        b.Position = new RaiseKey(2, 0, 0, 0);
        b.Raise(Timeout(2, ongoing: false));
        var merged = FindingLog.Merge([a, b], v => v, id => id, recordEvents: false);

        Assert.Equal(2, merged.Findings.Count);
        Assert.True(merged.OpenSinceTake(0));
        Assert.False(merged.OpenSinceTake(1));
        var events = new List<FindingEvent>();
        for (int i = 0; i < merged.Findings.Count; i++) FindingLog.AddEvents(null, merged.Findings[i], merged.OpenSinceTake(i), events);
        Assert.Equal(new[] { FindingChange.Opened, FindingChange.Closed, FindingChange.Opened }, events.Select(e => e.Change));

        // Once taken, the workers' logs count from there: nothing was open since.
        a.MarkTaken();
        b.MarkTaken();
        var again = FindingLog.Merge([a, b], v => v, id => id, recordEvents: false);
        Assert.False(again.OpenSinceTake(0));
        Assert.False(again.OpenSinceTake(1));
    }

    /// <summary>A black hole's resends give its verdict new numbers without a new version each: it is published when
    /// read, when a flow of it closes, once per second of capture time and at the end. The storm capture's 8 senders
    /// resend dozens of times within seconds; the finding has fewer versions than resends, and the same final numbers.</summary>
    [Fact]
    public void Analyze_BlackHoleStorm_FewerVersionsThanResends()
    {
        var a = FileAnalyzer.Analyze(Path.Combine(TestPaths.Captures, "smtp-retrans-storm-blackhole.pcap"));
        var hole = a.Findings.Single(f => f.Kind == FindingKind.MtuBlackhole);
        var v = hole.Verdict<BlackHoleVerdict>();
        Assert.True(v.Flows.Count >= 8, $"{v.Flows.Count} flows");
        Assert.True(hole.Version < v.Resends, $"version {hole.Version}, {v.Resends} resends");
        long seconds = (a.Flows.Max(f => f.End.UnixNanoseconds) - a.Flows.Min(f => f.Start.UnixNanoseconds)) / 1_000_000_000 + 1;
        Assert.True(hole.Version <= seconds + 2 * v.Flows.Count + 2, $"version {hole.Version} over {seconds} s and {v.Flows.Count} flows");
    }
}
