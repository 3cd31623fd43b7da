using PathProbe.Decoding;
using PathProbe.Flows.Streams;
using PathProbe.Primitives;

namespace PathProbe.Protocols.Smtp;

/// <summary>
/// One TCP connection's SMTP analysis: a stream reassembler per direction feeding an <see cref="SmtpSession"/>.
/// Create it when a TCP flow to port 25/587 (or 465 with <c>implicitTls</c>) appears, feed every TCP segment of the
/// flow in capture order, and call <see cref="Finish"/> at the end of input. Allocates nothing per in-order segment.
/// </summary>
public sealed class SmtpConnection
{
    public SmtpConnection(Timestamp connectTime, bool implicitTls = false, StreamBudget? budget = null, SmtpLimits? limits = null)
        : this(connectTime, implicitTls, limits, new TcpStreamReassembler(budget), new TcpStreamReassembler(budget))
    {
    }

    /// <summary>A connection whose reassemblers were given back by one that closed (<see cref="Release(Stack{TcpStreamReassembler}, int)"/>),
    /// started over, or new ones.</summary>
    internal SmtpConnection(Timestamp connectTime, bool implicitTls, SmtpLimits? limits, TcpStreamReassembler client, TcpStreamReassembler server)
    {
        Session = new SmtpSession(connectTime, implicitTls, limits);
        ClientStream = client;
        ServerStream = server;
    }

    public SmtpSession Session { get; }
    public TcpStreamReassembler ClientStream { get; private set; }
    public TcpStreamReassembler ServerStream { get; private set; }

    /// <summary>Stands for both reassemblers once <see cref="Release"/> let them go: empty, and never written (segments
    /// given after that are ignored).</summary>
    private static readonly TcpStreamReassembler Released = new();
    private bool _released;

    /// <summary>The session ended and its flow left the flow table: the reassemblers' buffers go back to the pool and
    /// the budget, the reassemblers and the session's decoding buffers are let go. What the session found stays.</summary>
    public void Release()
    {
        if (_released) return;
        _released = true;
        ClientStream.Release();
        ServerStream.Release();
        ClientStream = ServerStream = Released;
        Session.ReleaseBuffers();
    }

    /// <summary><see cref="Release"/>, and the two reassemblers, started over (<see cref="TcpStreamReassembler.Reuse"/>), go
    /// to <paramref name="spares"/> for the next connections while fewer than <paramref name="bound"/> wait there.
    /// Nothing reads them through this connection any more (both read as the empty stand-in).</summary>
    internal void Release(Stack<TcpStreamReassembler> spares, int bound)
    {
        if (_released) return;
        var client = ClientStream;
        var server = ServerStream;
        Release();
        GiveBack(client);
        GiveBack(server);

        void GiveBack(TcpStreamReassembler r)
        {
            if (spares.Count >= bound) return;
            r.Reuse();
            spares.Push(r);
        }
    }

    /// <summary>Feeds a decoded TCP segment of this flow.</summary>
    public void OnPacket(in DecodedPacket p, bool fromClient) =>
        OnSegment(fromClient, p.Seq, p.Ack, p.Payload, p.PayloadWireLength, p.TcpFlags, p.Time);

    /// <summary>Feeds one TCP segment. <paramref name="payload"/> is only read during the call.</summary>
    public void OnSegment(bool fromClient, uint seq, uint ack, ReadOnlySpan<byte> payload, int payloadWireLength,
        TcpFlags flags, Timestamp time)
    {
        if (_released) return;
        var client = Session.Client;
        var server = Session.Server;
        if (fromClient)
        {
            ClientStream.Segment(ref client, seq, payload, payloadWireLength, time, flags);
            if ((flags & TcpFlags.Ack) != 0) ServerStream.PeerAck(ref server, ack, time);
        }
        else
        {
            ServerStream.Segment(ref server, seq, payload, payloadWireLength, time, flags);
            if ((flags & TcpFlags.Ack) != 0) ClientStream.PeerAck(ref client, ack, time);
        }

        if ((flags & TcpFlags.Rst) != 0)
        {
            Flush(time);
            Session.Abort(fromClient ? "reset by the client" : "reset by the server", time);
        }
        else if (ClientStream.FinSeen && ServerStream.FinSeen && Session.CloseReason == null)
        {
            Flush(time);
            Session.Close(time);
        }
    }

    /// <summary>End of input: buffered data is delivered (holes become gaps) and the session is finished.</summary>
    public void Finish(Timestamp time)
    {
        Flush(time);
        Session.Finish(time);
    }

    /// <summary>The TCP layer decided the connection is dead (stalled, idle timeout): the session is aborted with
    /// <paramref name="reason"/>.</summary>
    public void Abort(string reason, Timestamp time)
    {
        Flush(time);
        Session.Abort(reason, time);
    }

    private void Flush(Timestamp time)
    {
        var client = Session.Client;
        var server = Session.Server;
        // Holes declared now were never acknowledged: lost on the path (a black hole), or the capture ended first.
        // They are not bytes the capture missed of a delivered stream (those come through PeerAck).
        Session.FlushingUnacknowledged = true;
        ClientStream.Flush(ref client, time);
        ServerStream.Flush(ref server, time);
        Session.FlushingUnacknowledged = false;
    }
}
