using BenchmarkDotNet.Attributes;
using PathProbe.Capture;
using PathProbe.Pipeline;
using PathProbe.Reports;

namespace PathProbe.Benchmarks;

/// <summary>
/// The stages <see cref="DecodeBenchmarks"/> does not isolate: reading frames out of a capture file's bytes (the
/// pcap reader over an in-memory copy, so no system calls), and writing the reports of a finished analysis. With
/// the per-packet benchmarks (decode; decode + flows; + TCP analysis, path-MTU, DNS, fragments; + SMTP) each stage's
/// cost is a difference between two adjacent rows.
/// </summary>
[MemoryDiagnoser]
public class StageBenchmarks
{
    private byte[] _file = null!;
    private int _frames;
    private CaptureAnalysis _analysis = null!;

    [GlobalSetup]
    public void Setup()
    {
        string path = BenchCapture.DefaultPath();
        _file = File.ReadAllBytes(path);
        using (var src = CaptureFile.Open(new MemoryStream(_file), path))
            while (src.TryRead(out _)) _frames++;
        _analysis = FileAnalyzer.Analyze(path);
    }

    /// <summary>Per packet: the reader hands out every frame of the file (opened from memory).</summary>
    [Benchmark]
    public long ReadFrames()
    {
        long bytes = 0;
        using var src = CaptureFile.Open(new MemoryStream(_file, writable: false), "bench");
        while (src.TryRead(out RawFrame f)) bytes += f.Data.Length;
        return bytes;
    }

    /// <summary>Per analysis: the text report of the whole file (50 flow rows, as <c>analyze</c> prints).</summary>
    [Benchmark]
    public void TextReportOfFile() => TextReport.Write(TextWriter.Null, [_analysis]);

    /// <summary>Per analysis: the JSON document of the whole file (every flow).</summary>
    [Benchmark]
    public void JsonReportOfFile() => JsonReport.Write(Stream.Null, [_analysis]);

}
