using BenchmarkDotNet.Attributes;
using PathProbe.Capture;
using PathProbe.Decoding;
using PathProbe.Decoding.Reassembly;
using PathProbe.Flows;
using PathProbe.Pipeline;

namespace PathProbe.Benchmarks;

/// <summary>
/// Per-packet cost of the hot path over an in-memory capture. Each operation is one packet (OperationsPerInvoke),
/// so "Allocated" is bytes per packet. The engine lives across iterations with a report limit of zero, as in a long
/// capture past the report limit: flows that close are recycled, so steady state should allocate 0 B.
/// </summary>
[MemoryDiagnoser]
public class DecodeBenchmarks
{
    private BenchCapture _capture = null!;
    private FrameDecoder _decoder = null!;
    private Engine _engine = null!;
    private Engine _flowsOnly = null!;
    private Engine _noSmtp = null!;
    private int _next, _nextFlowsOnly, _nextNoSmtp;
    private long _pass, _passFlowsOnly, _passNoSmtp;
    private const int Frames = 4096;

    [GlobalSetup]
    public void Setup()
    {
        _capture = BenchCapture.Load(BenchCapture.DefaultPath());
        _decoder = new FrameDecoder(new IpReassembler(), new DecodeCounters());
        _engine = new Engine(new AnalysisOptions { Flows = new FlowTableOptions { MaxReportedFlows = 0 } });
        _flowsOnly = new Engine(new AnalysisOptions { Flows = new FlowTableOptions { MaxReportedFlows = 0 }, TcpAnalysis = false });
        _noSmtp = new Engine(new AnalysisOptions
        {
            Flows = new FlowTableOptions { MaxReportedFlows = 0 }, Smtp = new PathProbe.Analysis.Smtp.SmtpOptions { Enabled = false },
        });
    }

    [Benchmark(OperationsPerInvoke = Frames)]
    public int Decode()
    {
        int ok = 0;
        var c = _capture;
        for (int i = 0, j = 0; i < Frames; i++, j = j + 1 == c.Count ? 0 : j + 1)
        {
            var p = new DecodedPacket();
            if (_decoder.Decode(c.Frame(j), ref p) == DecodeStatus.Ok) ok++;
        }
        return ok;
    }

    /// <summary>Decode and flow table only (TCP analysis off).</summary>
    [Benchmark(OperationsPerInvoke = Frames)]
    public long DecodeAndFlowUpdate()
    {
        var c = _capture;
        for (int i = 0; i < Frames; i++)
        {
            _flowsOnly.Process(c.Frame(_nextFlowsOnly, _passFlowsOnly));
            if (++_nextFlowsOnly == c.Count) { _nextFlowsOnly = 0; _passFlowsOnly++; }
        }
        return _flowsOnly.Decoded;
    }

    /// <summary>Everything <c>analyze</c> does per packet: decode, flows, TCP analysis and detectors.</summary>
    [Benchmark(OperationsPerInvoke = Frames)]
    public long FullAnalysis()
    {
        var c = _capture;
        for (int i = 0; i < Frames; i++)
        {
            _engine.Process(c.Frame(_next, _pass));
            if (++_next == c.Count) { _next = 0; _pass++; }
        }
        return _engine.Decoded;
    }

    /// <summary>Everything but SMTP decoding (stream reassembly and the session): what SMTP costs is the difference.</summary>
    [Benchmark(OperationsPerInvoke = Frames)]
    public long FullAnalysisWithoutSmtp()
    {
        var c = _capture;
        for (int i = 0; i < Frames; i++)
        {
            _noSmtp.Process(c.Frame(_nextNoSmtp, _passNoSmtp));
            if (++_nextNoSmtp == c.Count) { _nextNoSmtp = 0; _passNoSmtp++; }
        }
        return _noSmtp.Decoded;
    }
}

/// <summary>Whole-file analysis from the page cache: open, read, decode, flows, report model (no output).</summary>
[MemoryDiagnoser]
public class FileBenchmarks
{
    private string _path = null!;

    [GlobalSetup]
    public void Setup()
    {
        _path = BenchCapture.DefaultPath();
        File.ReadAllBytes(_path); // into the page cache
    }

    [Benchmark]
    public long AnalyzeFile() => FileAnalyzer.Analyze(_path).Input.Packets;

    [Benchmark(Baseline = true)]
    public long ReadFramesOnly()
    {
        long n = 0;
        using var src = CaptureFile.Open(_path);
        while (src.TryRead(out RawFrame f)) n += f.Data.Length;
        return n;
    }
}
