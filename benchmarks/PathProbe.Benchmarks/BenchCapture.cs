using PathProbe.Capture;
using PathProbe.Primitives;

namespace PathProbe.Benchmarks;

/// <summary>A capture loaded into memory once: frame bytes packed in one array, plus per-frame metadata.</summary>
public sealed class BenchCapture
{
    public required string Path { get; init; }
    public required byte[] Data { get; init; }
    public required int[] Offsets { get; init; }
    public required int[] Lengths { get; init; }
    public required int[] WireLengths { get; init; }
    public required long[] Times { get; init; }
    public required int[] LinkTypes { get; init; }
    public int Count => Offsets.Length;
    public long FileBytes { get; init; }

    public static string DefaultPath()
    {
        string? env = Environment.GetEnvironmentVariable("PATHPROBE_BENCH_CAPTURE");
        if (!string.IsNullOrEmpty(env)) return env;
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir != null && !File.Exists(System.IO.Path.Combine(dir.FullName, "PathProbe.sln"))) dir = dir.Parent;
        if (dir == null) throw new InvalidOperationException("set PATHPROBE_BENCH_CAPTURE to a capture file");
        return System.IO.Path.Combine(dir.FullName, "captures", "smtp-healthy-ipv4.pcap");
    }

    public static BenchCapture Load(string path)
    {
        using var src = CaptureFile.Open(path);
        var data = new MemoryStream();
        var offsets = new List<int>(); var lengths = new List<int>(); var wire = new List<int>();
        var times = new List<long>(); var links = new List<int>();
        while (src.TryRead(out RawFrame f))
        {
            offsets.Add((int)data.Length);
            lengths.Add(f.Data.Length);
            wire.Add(f.OriginalLength);
            times.Add(f.Time.UnixNanoseconds);
            links.Add(f.LinkType);
            data.Write(f.Data);
        }
        return new BenchCapture
        {
            Path = path, Data = data.ToArray(), Offsets = offsets.ToArray(), Lengths = lengths.ToArray(),
            WireLengths = wire.ToArray(), Times = times.ToArray(), LinkTypes = links.ToArray(), FileBytes = new FileInfo(path).Length,
        };
    }

    /// <summary>Frame <paramref name="i"/> of replay pass <paramref name="pass"/>: each pass is shifted 15 minutes
    /// later, so the previous pass's flows have idled out and the replay is a new set of connections rather than
    /// one long retransmission of the first.</summary>
    public RawFrame Frame(int i, long pass = 0) =>
        new(Data.AsSpan(Offsets[i], Lengths[i]), WireLengths[i], new Timestamp(Times[i] + pass * PassShift), LinkTypes[i], 0);

    public const long PassShift = 15L * 60 * 1_000_000_000;
}
