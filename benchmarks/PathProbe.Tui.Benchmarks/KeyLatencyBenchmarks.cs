using BenchmarkDotNet.Attributes;
using PathProbe.Cli.Tui;
using PathProbe.Cli.Tui.Model;
using PathProbe.Cli.Tui.Views;
using PathProbe.Findings;
using Terminal.Gui.App;
using Terminal.Gui.Drivers;
using Terminal.Gui.Input;
using Terminal.Gui.Testing;

namespace PathProbe.Tui.Benchmarks;

/// <summary>
/// Per-key latency of the flow table: one key through Terminal.Gui's input path (the headless ANSI driver at 200×60)
/// and the redraw it causes, with 1 000 and 100 000 flows. What a user feels after a key press, minus the terminal.
/// </summary>
[MemoryDiagnoser]
public class KeyLatencyBenchmarks
{
    [Params(1_000, 100_000)]
    public int Flows;

    private IApplication _app = null!;
    private MainWindow _window = null!;
    private SessionToken _token = null!;

    [GlobalSetup]
    public void Setup()
    {
        _app = Application.Create().Init(DriverRegistry.Names.ANSI);
        _app.Driver!.SetScreenSize(200, 60);
        _window = TuiHost.CreateWindow(_app, new Source(Snapshot(Flows)), new Theme(mono: false));
        _token = _app.Begin(_window)!;
        _window.FlowTable.SetFocus();
        _app.LayoutAndDraw();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _app.End(_token);
        _window.Dispose();
        _app.Dispose();
    }

    private void Press(Key key)
    {
        _app.InjectKey(key);
        _app.LayoutAndDraw();
    }

    /// <summary>↓ then ↑: two keys, the selection moves and the table redraws.</summary>
    [Benchmark]
    public void DownUp()
    {
        Press(Key.CursorDown);
        Press(Key.CursorUp);
    }

    /// <summary>PgDn then PgUp.</summary>
    [Benchmark]
    public void PageDownUp()
    {
        Press(Key.PageDown);
        Press(Key.PageUp);
    }

    /// <summary>End then Home: to the last of all flows and back.</summary>
    [Benchmark]
    public void EndHome()
    {
        Press(Key.End);
        Press(Key.Home);
    }

    /// <summary>'r': the whole table sorted again in the other order (the worst case of a key).</summary>
    [Benchmark]
    public void ReverseSort() => Press(Key.R);

    private static TuiSnapshot Snapshot(int n)
    {
        var rows = new FlowRow[n];
        var verdicts = new List<TuiVerdict>();
        for (int i = 0; i < n; i++)
        {
            bool bad = i % 100 == 0;
            rows[i] = new FlowRow
            {
                Id = i + 1, Protocol = "tcp", Client = $"198.51.100.{i % 256}:{1024 + i % 60000}", Server = "203.0.113.25:25",
                ClientAddress = $"198.51.100.{i % 256}", ServerAddress = "203.0.113.25", ClientPort = (ushort)(1024 + i % 60000), ServerPort = 25,
                AppName = "smtp", Application = $"smtp host{i}.example.net", State = bad ? "open" : "closed", Start = 1_790_000_000_000_000_000 + i * 1_000_000L,
                DurationNanos = 1_000_000L * (i % 5000), PacketsToServer = 10 + i % 97, PacketsToClient = 8 + i % 13, BytesToServer = 1000 + i * 7L % 100000,
                BytesToClient = 900, RetransmissionsClient = bad ? 8 : 0, RetransmissionsServer = 0, RttNanos = (long)((0.1 + i % 50) * 1e6),
                MssClient = 1460, MssServer = 1460, MaxSegmentClient = 1448, MaxSegmentServer = 138, MaxIpClient = 1500, MaxIpServer = 190,
                Severity = bad ? 2 : -1, Kinds = bad ? "mtu-blackhole" : "",
            };
            if (bad)
                verdicts.Add(new TuiVerdict
                {
                    Index = verdicts.Count, Kind = "mtu-blackhole", Severity = Severity.Critical, Flows = [i + 1], Time = rows[i].Start,
                    Summary = "path-MTU black hole toward 203.0.113.25", Evidence = "", Peer = "203.0.113.25",
                });
        }
        return new TuiSnapshot { Source = "synthetic", Rows = rows, Verdicts = verdicts, Packets = n * 20L, FirstTime = rows[0].Start, Generation = 1 };
    }

    private sealed class Source(TuiSnapshot snapshot) : ITuiSource
    {
        public TuiSnapshot Current => snapshot;
        public void RequestDetail(int flowId) { }
        public Task<string> WriteAsync(string path) => Task.FromResult("");
        public Task<long> ReadableLengthAsync() => Task.FromResult(long.MaxValue);
        public string? Error => null;
        public void Dispose() { }
    }
}
