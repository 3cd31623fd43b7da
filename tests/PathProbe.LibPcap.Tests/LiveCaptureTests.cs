using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using PathProbe.Capture;
using PathProbe.LibPcap.Tests.Support;
using Xunit.Abstractions;

namespace PathProbe.LibPcap.Tests;

/// <summary>Capture on the loopback interface: root only; every test sends its own bounded traffic to 127.0.0.1.</summary>
public class LiveCaptureTests(ITestOutputHelper output)
{
    private const int Datagrams = 20;
    private const int EthernetIpv4UdpHeaders = 14 + 20 + 8; // Linux "lo" is DLT_EN10MB

    private static (UdpClient receiver, int port) BindReceiver()
    {
        var receiver = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        return (receiver, ((IPEndPoint)receiver.Client.LocalEndPoint!).Port);
    }

    private static void SendDatagrams(int port, int count, Func<int, int> size)
    {
        using var sender = new UdpClient();
        for (int i = 0; i < count; i++) sender.Send(new byte[size(i)], size(i), new IPEndPoint(IPAddress.Loopback, port));
    }

    [SkippableFact]
    public void Read_LoopbackUdp_FramesArriveWithLengthsAndTimestamps()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "Linux only");
        if (!Requires.RootAndLibPcap(output)) return;
        var (receiver, port) = BindReceiver();
        using var _ = receiver;
        using var capture = LiveCapture.Open("lo", new LiveCaptureOptions { Filter = $"udp and dst port {port} and dst host 127.0.0.1" });
        Assert.Equal(LinkTypes.Ethernet, capture.LinkType);
        Assert.Equal($"udp and dst port {port} and dst host 127.0.0.1", capture.Filter);

        long before = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1_000_000;
        SendDatagrams(port, Datagrams, i => 100 + i * 50);
        long after = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1_000_000 + 1_000_000;

        var lengths = new List<int>();
        var deadline = Stopwatch.StartNew();
        while (lengths.Count < Datagrams && deadline.ElapsedMilliseconds < 5_000)
        {
            var status = capture.Read(out RawFrame frame);
            if (status != CaptureReadStatus.Packet) { Assert.Equal(CaptureReadStatus.Timeout, status); continue; }
            Assert.Equal(frame.OriginalLength, frame.Data.Length);
            Assert.InRange(frame.Time.UnixNanoseconds, before - 1_000_000, after);
            lengths.Add(frame.Data.Length);
        }
        Assert.Equal(Enumerable.Range(0, Datagrams).Select(i => EthernetIpv4UdpHeaders + 100 + i * 50), lengths);

        var stats = capture.GetStatistics();
        Assert.True(stats.Received >= Datagrams, $"received {stats.Received}");
        Assert.Equal(0, stats.Dropped);
        output.WriteLine($"{capture.Device}: link {capture.LinkType}, snaplen {capture.SnapLength}, ns={capture.NanosecondTimestamps}, stats {stats}");
    }

    [SkippableFact]
    public void Read_SteadyState_AllocatesNothing()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "Linux only");
        if (!Requires.RootAndLibPcap(output)) return;
        var (receiver, port) = BindReceiver();
        using var _ = receiver;
        using var capture = LiveCapture.Open("lo", new LiveCaptureOptions { Filter = $"udp and dst port {port}" });
        const int count = 200;
        SendDatagrams(port, count, _ => 64);

        Assert.Equal(CaptureReadStatus.Packet, ReadOne(capture)); // warm-up: JIT, first touch of the ring
        int read = 1;
        long allocated = GC.GetAllocatedBytesForCurrentThread();
        long sum = 0;
        for (int i = 0; i < count * 2 && read < count; i++)
        {
            if (capture.Read(out RawFrame frame) == CaptureReadStatus.Packet) { read++; sum += frame.Data.Length; }
        }
        allocated = GC.GetAllocatedBytesForCurrentThread() - allocated;
        output.WriteLine($"read {read}, {capture.GetStatistics()}");
        Assert.Equal(count, read);
        Assert.Equal(0, allocated);
        Assert.True(sum > 0);
    }

    private static CaptureReadStatus ReadOne(LiveCapture capture)
    {
        for (int i = 0; i < 50; i++)
        {
            var s = capture.Read(out _);
            if (s != CaptureReadStatus.Timeout) return s;
        }
        return CaptureReadStatus.Timeout;
    }

    [SkippableFact]
    public void SetFilter_DoesNotCompile_ThrowsWithLibpcapMessageAndFilter()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "Linux only");
        if (!Requires.RootAndLibPcap(output)) return;
        var e = Assert.Throws<PcapException>(() => LiveCapture.Open("lo", new LiveCaptureOptions { Filter = "tcp port banana" }));
        Assert.Equal(PcapErrorKind.BadFilter, e.Kind);
        Assert.Contains("banana", e.Message); // libpcap: "unknown port 'banana'" (wording varies by version)
        Assert.EndsWith("filter: tcp port banana", e.Message);
        output.WriteLine(e.Message);
    }

    [SkippableFact]
    public void Open_NoSuchInterface_ListsRealOnes()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "Linux only");
        if (!Requires.RootAndLibPcap(output)) return;
        var e = Assert.Throws<PcapException>(() => LiveCapture.Open("pp-none0"));
        Assert.Equal(PcapErrorKind.NoSuchDevice, e.Kind);
        Assert.StartsWith("no such interface 'pp-none0'; interfaces: ", e.Message);
        Assert.Contains("lo", e.Message);
        output.WriteLine(e.Message);
    }

    [SkippableFact]
    public void Read_IdleLink_ReturnsTimeoutWithinTheReadTimeout()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "Linux only");
        if (!Requires.RootAndLibPcap(output)) return;
        // TPACKET_V3 never wakes a reader on an idle link by itself; Read must still come back for periodic work.
        using var capture = LiveCapture.Open("lo", new LiveCaptureOptions { Filter = "host 192.0.2.254 and udp port 9", TimeoutMilliseconds = 100 });
        var clock = Stopwatch.StartNew();
        Assert.Equal(CaptureReadStatus.Timeout, capture.Read(out _));
        Assert.InRange(clock.ElapsedMilliseconds, 0, 1_000);
    }

    [SkippableFact]
    public void BreakLoop_FromAnotherThread_StopsBlockedReadWithinTimeout()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "Linux only");
        if (!Requires.RootAndLibPcap(output)) return;
        // A filter nothing on this machine matches: the reader blocks until stopped.
        using var source = LiveCaptureSource.Open("lo", new LiveCaptureOptions { Filter = "host 192.0.2.254 and udp port 9", TimeoutMilliseconds = 200 });
        bool? result = null;
        var reader = new Thread(() => result = source.TryRead(out _)) { IsBackground = true };
        reader.Start();
        Thread.Sleep(300);
        Assert.True(reader.IsAlive, "the read should block while nothing matches");
        var clock = Stopwatch.StartNew();
        source.Stop();
        Assert.True(reader.Join(2_000), "the read did not return after BreakLoop");
        output.WriteLine($"stopped after {clock.ElapsedMilliseconds} ms");
        Assert.False(result);
        Assert.Equal(SourceEndKind.EndOfInput, source.End.Kind);
        Assert.Equal("live", source.Info.Format);
        Assert.Equal("lo", source.Info.Path);
    }
}
