using System.Text;
using PathProbe.Analysis.Smtp;
using PathProbe.Capture;
using PathProbe.Pipeline;
using PathProbe.Primitives;

namespace PathProbe.Tests.Analysis.Smtp;

[Collection(PathProbe.Tests.Support.AllocationCollection.Name)]
public sealed class SmtpEngineAllocationTests
{
    [Fact]
    public void Process_SmtpFlowInData_AllocatesNothingPerPacket()
    {
        var engine = new Engine();
        var f = new SmtpFrames(engine);
        f.Handshake();
        f.Server("220 mx ESMTP\r\n", 1);
        f.Client("EHLO c\r\n", 2);
        f.Server("250-mx\r\n250 PIPELINING\r\n", 3);
        f.Client("MAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nDATA\r\n", 4);
        f.Server("250 ok\r\n250 ok\r\n354 go\r\n", 5);

        // Body segments (base64-like lines, a stuffed dot, a line split across segments), each acknowledged.
        byte[] body = Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat("QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo=\r\n..x\r\n", 30)) + "partial");
        const int Warm = 1000, Measured = 10_000;
        var frames = new (byte[] Data, byte[] Ack)[Warm + Measured];
        for (int i = 0; i < frames.Length; i++) frames[i] = f.PrepareClientData(body);
        long t0 = SmtpFrames.Base + 10_000_000;

        void Run(int from, int to)
        {
            for (int i = from; i < to; i++)
            {
                var time = new Timestamp(t0 + i * 10_000L);
                engine.Process(new RawFrame(frames[i].Data, frames[i].Data.Length, time, LinkTypes.Raw, 0));
                engine.Process(new RawFrame(frames[i].Ack, frames[i].Ack.Length, time, LinkTypes.Raw, 0));
            }
        }
        Run(0, Warm);
        long before = GC.GetAllocatedBytesForCurrentThread();
        Run(Warm, Warm + Measured);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        var app = Assert.IsType<SmtpFlowState>(engine.Flows.LiveFlows.Single().App);
        Assert.Equal("data", app.Phase);
        Assert.Equal((long)(Warm + Measured) * (body.Length - 30), app.Session.CurrentMessageBytes);
        Assert.Equal(0, allocated);
    }
}
