using System.Text;
using PathProbe.Decoding;
using PathProbe.Primitives;
using PathProbe.Protocols.Smtp;
using PathProbe.Tests.Support;

namespace PathProbe.Tests.Protocols.Smtp;

[Collection(PathProbe.Tests.Support.AllocationCollection.Name)]
public sealed class SmtpAllocationTests
{
    [Fact]
    public void DataBody_ThroughReassemblyAndSession_AllocatesNothing()
    {
        var t0 = new Timestamp(1_700_000_000_000_000_000);
        var c = new SmtpConnection(t0);
        uint cseq = 1000, sseq = 5000;
        void Client(string s) { var b = Encoding.ASCII.GetBytes(s); c.OnSegment(true, cseq, sseq, b, b.Length, TcpFlags.Ack | TcpFlags.Psh, t0); cseq += (uint)b.Length; }
        void Server(string s) { var b = Encoding.ASCII.GetBytes(s); c.OnSegment(false, sseq, cseq, b, b.Length, TcpFlags.Ack | TcpFlags.Psh, t0); sseq += (uint)b.Length; }
        c.OnSegment(true, cseq - 1, 0, default, 0, TcpFlags.Syn, t0);
        c.OnSegment(false, sseq - 1, cseq, default, 0, TcpFlags.Syn | TcpFlags.Ack, t0);
        Server("220 x\r\n");
        Client("MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n");
        Server("250 ok\r\n250 ok\r\n354 go\r\n");

        // A body segment with short lines, a stuffed dot, and a line split across segments.
        byte[] body = Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat("QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo=\r\n..x\r\n", 30)) + "partial");
        void Run(int n)
        {
            for (int i = 0; i < n; i++)
            {
                c.OnSegment(true, cseq, sseq, body, body.Length, TcpFlags.Ack, t0);
                cseq += (uint)body.Length;
                c.OnSegment(false, sseq, cseq, default, 0, TcpFlags.Ack, t0); // pure ACK from the server
            }
        }
        Run(1000);
        int runs = 1000;
        long allocated = Allocations.Least(() => { Run(10_000); runs += 10_000; });
        Assert.Equal(0, allocated);
        Assert.Equal(SmtpPhase.Data, c.Session.CurrentPhase);
        Assert.Equal(runs * (long)(body.Length - 30), c.Session.CurrentMessageBytes);
    }
}
