using BenchmarkDotNet.Attributes;
using PathProbe.Analysis.Dns;
using PathProbe.Decoding;
using PathProbe.Decoding.Reassembly;
using PathProbe.Flows;
using PathProbe.Pipeline;
using PathProbe.Primitives;
using PathProbe.Protocols.Dns;

namespace PathProbe.Benchmarks;

/// <summary>
/// The DNS stage (issue 16: set (c), where it was 62 % of the time). Over the DNS answers of a capture
/// (PATHPROBE_BENCH_DNS_CAPTURE, default captures/dns-tcp-and-truncated.pcap; compare.sh's dns-block-v1.pcap is the
/// block set (c) multiplies), per answer: the record texts as the analyzer writes them now (into a scratch buffer,
/// nothing allocated) against the way they were made before (the decoded message, a string per record, SafeText);
/// and the whole engine per packet on that capture, each pass a new set of flows (so "Allocated" there is what new
/// flows and queries cost, spread over the packets).
/// </summary>
[MemoryDiagnoser]
public class DnsBenchmarks
{
    private BenchCapture _capture = null!;
    private byte[][] _answers = null!;
    private readonly char[] _scratch = new char[DnsAnswerText.ScratchLength(8)];
    private readonly int[] _lengths = new int[8];
    private Engine _engine = null!;
    private int _next;
    private long _pass;
    private const int Answers = 1024, Frames = 4096;

    [GlobalSetup]
    public void Setup()
    {
        string? env = Environment.GetEnvironmentVariable("PATHPROBE_BENCH_DNS_CAPTURE");
        string path = string.IsNullOrEmpty(env)
            ? System.IO.Path.Combine(System.IO.Path.GetDirectoryName(BenchCapture.DefaultPath())!, "dns-tcp-and-truncated.pcap")
            : env;
        _capture = BenchCapture.Load(path);
        var decoder = new FrameDecoder(new IpReassembler(), new DecodeCounters());
        var answers = new List<byte[]>();
        for (int i = 0; i < _capture.Count; i++)
        {
            var p = new DecodedPacket();
            if (decoder.Decode(_capture.Frame(i), ref p) != DecodeStatus.Ok || !p.IsUdp || p.SrcPort != 53) continue;
            if (DnsReader.Scan(p.Payload, out var s) == DnsStatus.Ok && s.Header.IsResponse) answers.Add(p.Payload.ToArray());
        }
        if (answers.Count == 0) throw new InvalidOperationException($"no DNS answers over UDP in {path}");
        _answers = answers.ToArray();
        _engine = new Engine(new AnalysisOptions { Flows = new FlowTableOptions { MaxReportedFlows = 0 } });
    }

    /// <summary>Per answer: the texts of its records as the analyzer keeps them now.</summary>
    [Benchmark(OperationsPerInvoke = Answers)]
    public int AnswerTexts()
    {
        int n = 0;
        for (int i = 0; i < Answers; i++)
        {
            DnsAnswerText.Describe(_answers[i % _answers.Length], 8, _scratch, _lengths, out int listed, out _);
            n += listed;
        }
        return n;
    }

    /// <summary>Per answer: the same texts made as before this change (decoded message, strings, SafeText).</summary>
    [Benchmark(OperationsPerInvoke = Answers, Baseline = true)]
    public int AnswerTextsAsBefore()
    {
        int n = 0;
        for (int i = 0; i < Answers; i++)
        {
            var m = DnsMessage.Decode(_answers[i % _answers.Length], out _, out _);
            if (m is null) continue;
            var records = new List<string>();
            foreach (var r in m.Answers)
                if (records.Count < 8) records.Add(SafeText.Clean($"{DnsTransaction.TypeName(r.Type)} {DnsRecord.Describe(r.Data)}", 160));
            n += records.Count;
        }
        return n;
    }

    /// <summary>Per packet: everything analyze does, on the DNS capture replayed (each pass new flows and queries).</summary>
    [Benchmark(OperationsPerInvoke = Frames)]
    public long FullAnalysisDns()
    {
        var c = _capture;
        for (int i = 0; i < Frames; i++)
        {
            _engine.Process(c.Frame(_next, _pass));
            if (++_next == c.Count) { _next = 0; _pass++; }
        }
        return _engine.Decoded;
    }
}
