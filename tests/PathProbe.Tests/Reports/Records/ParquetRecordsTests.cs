using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using DuckDB.NET.Data;
using PathProbe.Tests.Support;
using Xunit.Abstractions;

namespace PathProbe.Tests.Reports.Records;

/// <summary>
/// --parquet (issue 20 item 3), read back with DuckDB.NET (a test-only dependency): on every bundled capture the
/// Parquet tables hold the NDJSON's records; the README's fleet queries, run on the files of two "servers", give the
/// rows the records say they should; a capture killed with SIGKILL leaves complete, readable files.
/// </summary>
public sealed partial class ParquetRecordsTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("pathprobe-parquet-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    public static IEnumerable<object[]> Captures() => TestPaths.BundledCaptures().Select(f => new object[] { Path.GetFileName(f) });

    private static DuckDBConnection Duck()
    {
        var c = new DuckDBConnection("Data Source=:memory:");
        c.Open();
        return c;
    }

    private static long Scalar(DuckDBConnection c, string sql)
    {
        using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        return Long(cmd.ExecuteScalar());
    }

    /// <summary>DuckDB's sum() is a HUGEINT (BigInteger).</summary>
    private static long Long(object? v) => v is System.Numerics.BigInteger b ? (long)b : Convert.ToInt64(v);

    private static List<object?[]> Rows(DuckDBConnection c, string sql)
    {
        using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        using var r = cmd.ExecuteReader();
        var rows = new List<object?[]>();
        while (r.Read())
        {
            var row = new object?[r.FieldCount];
            for (int i = 0; i < row.Length; i++) row[i] = r.IsDBNull(i) ? null : r.GetValue(i);
            rows.Add(row);
        }
        return rows;
    }

    private static string Glob(string dir, string table) => Path.Combine(dir, table, "*.parquet").Replace("'", "''");

    private static long Count(DuckDBConnection c, string dir, string table) =>
        Directory.Exists(Path.Combine(dir, table)) && Directory.EnumerateFiles(Path.Combine(dir, table), "*.parquet").Any()
            ? Scalar(c, $"SELECT count(*) FROM read_parquet('{Glob(dir, table)}')") : 0;

    [Theory]
    [MemberData(nameof(Captures))]
    public void AnalyzeParquet_BundledCapture_CountsEqualNdjson(string name)
    {
        string path = Path.Combine(TestPaths.Captures, name);
        var records = NdjsonRecordsTests.Records(path);
        var (exit, _, err) = NdjsonRecordsTests.Run("analyze", "--parquet", _dir, "-q", path);
        Assert.True(exit is 0 or 1, err);
        Assert.Empty(Directory.EnumerateFiles(_dir, "*.tmp", SearchOption.AllDirectories)); // every file finished
        using var duck = Duck();
        int Of(string type) => records.Count(r => (string)r["type"]! == type);
        Assert.Equal(Of("flow"), Count(duck, _dir, "flows"));
        Assert.Equal(Of("finding"), Count(duck, _dir, "findings"));
        Assert.Equal(Of("smtp"), Count(duck, _dir, "smtp"));
        Assert.Equal(Of("dns"), Count(duck, _dir, "dns"));
        if (Of("flow") == 0) return;
        // The same values: packets summed, the uids, host and capture id on every row, times as timestamps.
        long packets = records.Where(r => (string)r["type"]! == "flow").Sum(r => (long)r["packets_c2s"]! + (long)r["packets_s2c"]!);
        Assert.Equal(packets, Scalar(duck, $"SELECT sum(packets_c2s + packets_s2c) FROM read_parquet('{Glob(_dir, "flows")}')"));
        string captureId = (string)records[0]["capture_id"]!;
        Assert.Equal(Of("flow"), Scalar(duck, $"SELECT count(DISTINCT uid) FROM read_parquet('{Glob(_dir, "flows")}') WHERE capture_id = '{captureId}' AND host IS NOT NULL"));
        var first = records.First(r => (string)r["type"]! == "flow");
        var start = DateTimeOffset.Parse((string)first["start"]!).ToUnixTimeMilliseconds() * 1000;
        Assert.Equal(start / 1000, Scalar(duck, $"SELECT epoch_ms(\"start\") FROM read_parquet('{Glob(_dir, "flows")}') WHERE uid = '{first["uid"]}'"));
        // A time filter keeps every row at or after the earliest start (the row groups' statistics are right).
        var earliest = records.Where(r => (string)r["type"]! == "flow").Min(r => DateTimeOffset.Parse((string)r["start"]!))!;
        Assert.Equal(Of("flow"), Scalar(duck, $"SELECT count(*) FROM read_parquet('{Glob(_dir, "flows")}') WHERE \"start\" >= TIMESTAMPTZ '{earliest.UtcDateTime.AddMilliseconds(-1):yyyy-MM-dd HH:mm:ss.fff}+00'"));
        if (Of("finding") > 0)
        {
            // Evidence is JSON text DuckDB can read; flows and uids are space-separated.
            var f = records.First(r => (string)r["type"]! == "finding");
            Assert.Equal(((JsonArray)f["uids"]!).Count, Scalar(duck,
                $"SELECT len(string_split(uids, ' ')) FROM read_parquet('{Glob(_dir, "findings")}') WHERE id = {f["id"]}"));
            Assert.Equal(1, Scalar(duck, $"SELECT count(*) FROM read_parquet('{Glob(_dir, "findings")}') WHERE id = {f["id"]} AND json_valid(evidence)"));
        }
    }

    [Fact]
    public void AnalyzeParquet_DirectoryCannotBeCreated_IsAUsageErrorSayingWhatToDo()
    {
        string file = Path.Combine(_dir, "a-file");
        File.WriteAllText(file, "");
        var (exit, _, err) = NdjsonRecordsTests.Run("analyze", "-q", "--parquet", Path.Combine(file, "sub"), Path.Combine(TestPaths.Captures, "smtp-bdat.pcap"));
        Assert.Equal(PathProbe.Cli.Program.ExitUsage, exit);
        Assert.Contains("--parquet: cannot create the directory", err);
        Assert.Contains("name a directory you can write to", err);
    }

    /// <summary>The SQL blocks of README.md marked "-- pathprobe-query: NAME".</summary>
    private static string ReadmeQuery(string name)
    {
        string readme = File.ReadAllText(Path.Combine(TestPaths.RepoRoot, "README.md"));
        foreach (Match m in SqlBlock().Matches(readme))
            if (m.Groups[1].Value.Contains($"-- pathprobe-query: {name}\n")) return m.Groups[1].Value;
        throw new InvalidOperationException($"README.md has no ```sql block marked -- pathprobe-query: {name}");
    }

    [GeneratedRegex("```sql\n(.*?)```", RegexOptions.Singleline)]
    private static partial Regex SqlBlock();

    /// <summary>Runs a README query on the archive under <paramref name="root"/> (for /srv/pathprobe), with "since"
    /// set to <paramref name="since"/> instead of the README's now() - INTERVAL.</summary>
    private static List<object?[]> RunReadmeQuery(DuckDBConnection duck, string name, string root, DateTimeOffset? since)
    {
        string sql = ReadmeQuery(name).Replace("/srv/pathprobe", root.Replace("'", "''"));
        var statements = sql.Split(";\n").Select(s => s.Trim()).Where(s => s.Length > 0 && !s.Split('\n').All(l => l.TrimStart().StartsWith("--"))).ToList();
        Assert.StartsWith("SET VARIABLE since", statements[0].Split('\n').First(l => !l.StartsWith("--")));
        using (var cmd = duck.CreateCommand())
        {
            cmd.CommandText = since is { } s ? $"SET VARIABLE since = TIMESTAMPTZ '{s.UtcDateTime:yyyy-MM-dd HH:mm:ss}+00'" : statements[0];
            cmd.ExecuteNonQuery();
        }
        return Rows(duck, string.Join(";\n", statements.Skip(1)));
    }

    /// <summary>Two servers' archives (mx1, mx2: two analyze runs with their own --host), queried together with the
    /// README's queries; the expected rows come from the NDJSON records of the same runs.</summary>
    [Fact]
    public void ReadmeFleetQueries_TwoServers_GiveTheRowsTheRecordsSay()
    {
        string C(string n) => Path.Combine(TestPaths.Captures, n);
        var servers = new Dictionary<string, string[]>
        {
            ["mx1.example.net"] = [C("smtp-mru1424-sender.pcap"), C("smtp-mru1424-timeout.pcap"), C("smtp-552-size.pcap")],
            ["mx2.example.net"] = [C("smtp-retrans-storm-blackhole.pcap"), C("smtp-mru1424-receiver.pcap"), C("smtp-mru1424-timeout.pcap")],
        };
        var all = new List<JsonObject>();
        foreach (var (host, files) in servers)
        {
            string dir = Path.Combine(_dir, host); // one folder per server, as the README's archive layout
            var (exit, _, err) = NdjsonRecordsTests.Run(["analyze", "-q", "--host", host, "--parquet", dir, .. files]);
            Assert.True(exit is 0 or 1, err);
            all.AddRange(NdjsonRecordsTests.Records(["--host", host, .. files]));
        }
        var times = all.Where(r => r["time"] is not null).Select(r => DateTimeOffset.Parse((string)r["time"]!)).ToList();
        var since = times.Min().AddDays(-1);
        using var duck = Duck();

        // Which peers had black holes (this week), and from which servers.
        var expectedHoles = all.Where(r => (string)r["type"]! == "finding" && (string)r["kind"]! == "mtu-blackhole")
            .GroupBy(r => (string)r["peer"]!).OrderByDescending(g => g.Select(r => (string)r["host"]!).Distinct().Count()).ThenBy(g => g.Key, StringComparer.Ordinal)
            .Select(g => (Peer: g.Key, Servers: string.Join(", ", g.Select(r => (string)r["host"]!).Distinct().Order(StringComparer.Ordinal)), Count: (long)g.Count()))
            .ToList();
        Assert.True(expectedHoles.Count >= 2, "the test data should hold black holes toward two peers");
        Assert.Contains(expectedHoles, h => h.Servers == "mx1.example.net, mx2.example.net"); // one peer seen from both
        var holes = RunReadmeQuery(duck, "blackhole-peers", _dir, since);
        output.WriteLine(string.Join("\n", holes.Select(r => string.Join(" | ", r))));
        Assert.Equal(expectedHoles.Select(h => h.Peer), holes.Select(r => (string)r[0]!));
        Assert.Equal(expectedHoles.Select(h => h.Servers), holes.Select(r => (string)r[1]!));
        Assert.Equal(expectedHoles.Select(h => h.Count), holes.Select(r => Long(r[4])));
        // The time filter works: nothing after the last record.
        Assert.Empty(RunReadmeQuery(duck, "blackhole-peers", _dir, times.Max().AddDays(1)));
        // As written (now() - 7 days) it runs too.
        RunReadmeQuery(duck, "blackhole-peers", _dir, null);

        // Deferrals by provider and class per day.
        var expectedDeferrals = all.Where(r => (string)r["type"]! == "smtp" && (string)r["outcome"]! == "deferred")
            .GroupBy(r => (Day: DateTimeOffset.Parse((string)r["time"]!).UtcDateTime.Date, Provider: (string?)r["provider"] ?? (string?)r["recipient_domain"], Class: (string)r["class"]!))
            .Select(g => (g.Key.Day, g.Key.Provider, g.Key.Class, Deferrals: (long)g.Count(), Servers: (long)g.Select(r => (string)r["host"]!).Distinct().Count()))
            .OrderBy(x => x.Day).ThenByDescending(x => x.Deferrals).ThenBy(x => x.Provider, StringComparer.Ordinal).ThenBy(x => x.Class, StringComparer.Ordinal).ToList();
        Assert.NotEmpty(expectedDeferrals);
        Assert.Contains(expectedDeferrals, d => d.Servers == 2);
        var deferrals = RunReadmeQuery(duck, "deferrals-per-day", _dir, since);
        output.WriteLine(string.Join("\n", deferrals.Select(r => string.Join(" | ", r))));
        Assert.Equal(expectedDeferrals.Count, deferrals.Count);
        for (int i = 0; i < deferrals.Count; i++)
        {
            Assert.Equal(DateOnly.FromDateTime(expectedDeferrals[i].Day), deferrals[i][0] is DateOnly d ? d : DateOnly.FromDateTime(Convert.ToDateTime(deferrals[i][0])));
            Assert.Equal(expectedDeferrals[i].Provider, (string?)deferrals[i][1]);
            Assert.Equal(expectedDeferrals[i].Class, (string?)deferrals[i][2]);
            Assert.Equal(expectedDeferrals[i].Deferrals, Long(deferrals[i][3]));
            Assert.Equal(expectedDeferrals[i].Servers, Long(deferrals[i][4]));
        }
    }

    /// <summary>
    /// A live capture on loopback with the rotation forced to one second and a four-flow table (each new connection
    /// evicts the oldest, whose records are then written), killed with SIGKILL: every finished *.parquet file is
    /// complete and readable by DuckDB, and the flow records are unique. Root only (libpcap on lo).
    /// </summary>
    [SkippableFact]
    public void Capture_KilledWithSigkill_LeavesReadableFinishedFiles()
    {
        Skip.IfNot(Environment.UserName == "root", "live capture on lo needs root (CAP_NET_RAW)");
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        using var stopServer = new CancellationTokenSource();
        var server = Task.Run(async () =>
        {
            while (!stopServer.IsCancellationRequested)
            {
                using var s = await listener.AcceptSocketAsync(stopServer.Token);
                var buffer = new byte[512];
                while (await s.ReceiveAsync(buffer) > 0) { }
                s.Shutdown(SocketShutdown.Both);
            }
        });

        string dir = Path.Combine(_dir, "live");
        var psi = CliProcess.Start(["capture", "-i", "lo", "--parquet", dir, "--parquet-rotate", "1", "--max-flows", "4",
            "--host", "kill-test", "--duration", "60", $"tcp port {port}"]);
        using var capture = Process.Start(psi)!;
        var stderr = capture.StandardError.ReadToEndAsync();
        var stdout = capture.StandardOutput.ReadToEndAsync();
        try
        {
            // Wait until libpcap is capturing (the "capturing on" line comes after the handle is open).
            Thread.Sleep(1500);
            Assert.False(capture.HasExited, $"capture exited early: {(capture.HasExited ? stderr.Result : "")}");
            var deadline = Stopwatch.StartNew();
            int connections = 0;
            while (deadline.Elapsed < TimeSpan.FromSeconds(20) && connections < 400)
            {
                using (var c = new TcpClient())
                {
                    c.Connect(IPAddress.Loopback, port);
                    var stream = c.GetStream();
                    stream.Write("EHLO test\r\n"u8);
                    c.Client.Shutdown(SocketShutdown.Send);
                    stream.ReadAtLeast(new byte[1], 1, throwOnEndOfStream: false); // the server's FIN
                }
                connections++;
                Thread.Sleep(20);
                if (connections % 25 == 0 && Directory.Exists(Path.Combine(dir, "flows")) &&
                    Directory.EnumerateFiles(Path.Combine(dir, "flows"), "*.parquet").Count() >= 2) break;
            }
            output.WriteLine($"{connections} connections in {deadline.Elapsed.TotalSeconds:0.0} s");
            // Let the file being written get some rows, then kill without warning.
            Thread.Sleep(700);
        }
        finally
        {
            if (!capture.HasExited) capture.Kill(); // SIGKILL on Unix
            capture.WaitForExit(10_000);
            stopServer.Cancel();
        }
        output.WriteLine(stderr.Result);
        Assert.NotEqual(0, capture.ExitCode); // killed, not a clean exit
        var finished = Directory.EnumerateFiles(Path.Combine(dir, "flows"), "*.parquet").ToList();
        output.WriteLine($"finished: {finished.Count}, unfinished: {Directory.EnumerateFiles(dir, "*.tmp", SearchOption.AllDirectories).Count()}");
        Assert.True(finished.Count >= 2, $"expected at least two rotated flow files, found {finished.Count}");
        using var duck = Duck();
        foreach (string file in finished)
            Assert.True(Scalar(duck, $"SELECT count(*) FROM read_parquet('{file.Replace("'", "''")}')") > 0, $"{file} has no rows");
        long rows = Scalar(duck, $"SELECT count(*) FROM read_parquet('{Glob(dir, "flows")}')");
        Assert.Equal(rows, Scalar(duck, $"SELECT count(DISTINCT uid) FROM read_parquet('{Glob(dir, "flows")}')"));
        Assert.Equal(rows, Scalar(duck, $"SELECT count(*) FROM read_parquet('{Glob(dir, "flows")}') WHERE host = 'kill-test' AND server_port = {port} AND protocol = 'tcp'"));
    }
}
