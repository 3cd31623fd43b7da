using PathProbe.Capture;
using PathProbe.Pipeline;
using PathProbe.Reports;

namespace PathProbe.Fuzz;

/// <summary>
/// What the fuzzers run: bytes → <see cref="CaptureFile.Open(Stream, string)"/> (format detection, gzip, pcap and
/// pcapng readers) → <see cref="Engine"/> (decoding, reassembly, flows, TCP/DNS/SMTP analysis, detectors) → the text
/// and JSON reports. A file that is not a capture is expected to be refused; anything else that throws, including a
/// reader exception that the reader turned into "internal error while reading", is a crash. Also compiled into the
/// tests (fuzz/regressions/ replay and the FsCheck mutation test).
/// </summary>
public static class FuzzTarget
{
    /// <summary>Bounds so one input cannot run for long: AFL's time limit should catch loops, not big inputs.</summary>
    private const int MaxFlows = 4_096;

    public static void Run(byte[] data)
    {
        IPacketSource source;
        try
        {
            source = CaptureFile.Open(new MemoryStream(data, writable: false), "fuzz-input");
        }
        catch (CaptureFormatException)
        {
            return; // not a capture: refused with a message, as designed
        }

        using (source)
        {
            var engine = new Engine(new AnalysisOptions { Flows = new PathProbe.Flows.FlowTableOptions { MaxFlows = MaxFlows } });
            var input = new InputSummary { Path = "fuzz-input" };
            FileAnalyzer.Run(source, engine, input);
            if (source is CaptureReader { InternalError: { } bug })
                throw new InvalidOperationException("reader bug (reported to users as 'internal error while reading')", bug);
            var analysis = engine.Complete(input);
            JsonReport.Write(Stream.Null, [analysis], indented: false);
            TextReport.Write(TextWriter.Null, [analysis]);
        }
    }
}
