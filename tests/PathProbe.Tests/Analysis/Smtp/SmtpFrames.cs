using System.Buffers.Binary;
using System.Text;
using PathProbe.Capture;
using PathProbe.Decoding;
using PathProbe.Pipeline;
using PathProbe.Primitives;

namespace PathProbe.Tests.Analysis.Smtp;

/// <summary>
/// Builds raw IPv4/TCP frames (LINKTYPE_RAW, valid IPv4 header checksum) of one TCP connection and feeds them through
/// an <see cref="Engine"/>, so tests exercise the real wiring: decoder, flow table, TCP analysis, SMTP analysis.
/// </summary>
internal sealed class SmtpFrames
{
    /// <summary>Capture times start in 2026, not at the epoch.</summary>
    public const long Base = 1_790_000_000_000_000_000;

    private readonly Engine _engine;
    private readonly byte[] _client = { 198, 51, 100, 10 };
    private readonly byte[] _server = { 203, 0, 113, 25 };
    private readonly ushort _clientPort, _serverPort;
    private uint _cseq = 1000, _sseq = 5000;
    private ushort _ipId = 1;
    public long NowMs;

    public SmtpFrames(Engine engine, ushort serverPort = 25, ushort clientPort = 40000)
    {
        _engine = engine;
        _serverPort = serverPort;
        _clientPort = clientPort;
    }

    public void Handshake()
    {
        Send(true, TcpFlags.Syn, _cseq - 1, 0, default);
        Send(false, TcpFlags.Syn | TcpFlags.Ack, _sseq - 1, _cseq, default);
        Send(true, TcpFlags.Ack, _cseq, _sseq, default);
    }

    public void Client(string text, long atMs = -1) => Client(Encoding.Latin1.GetBytes(text), atMs);

    public void Client(byte[] data, long atMs = -1)
    {
        if (atMs >= 0) NowMs = atMs;
        Send(true, TcpFlags.Ack | TcpFlags.Psh, _cseq, _sseq, data);
        _cseq += (uint)data.Length;
        Send(false, TcpFlags.Ack, _sseq, _cseq, default); // the server acknowledges at once
    }

    public void Server(string text, long atMs = -1)
    {
        if (atMs >= 0) NowMs = atMs;
        var data = Encoding.Latin1.GetBytes(text);
        Send(false, TcpFlags.Ack | TcpFlags.Psh, _sseq, _cseq, data);
        _sseq += (uint)data.Length;
        Send(true, TcpFlags.Ack, _cseq, _sseq, default);
    }

    public void Reset(bool fromClient, long atMs = -1)
    {
        if (atMs >= 0) NowMs = atMs;
        Send(fromClient, TcpFlags.Rst | TcpFlags.Ack, fromClient ? _cseq : _sseq, fromClient ? _sseq : _cseq, default);
    }

    public void Fin()
    {
        Send(true, TcpFlags.Fin | TcpFlags.Ack, _cseq, _sseq, default);
        _cseq++;
        Send(false, TcpFlags.Fin | TcpFlags.Ack, _sseq, _cseq, default);
        _sseq++;
        Send(true, TcpFlags.Ack, _cseq, _sseq, default);
    }

    /// <summary>A data segment from the client that the server does not acknowledge (lost on the path).</summary>
    public void ClientUnacked(int length, uint? seq = null, long atMs = -1)
    {
        if (atMs >= 0) NowMs = atMs;
        var data = new byte[length];
        data.AsSpan().Fill((byte)'A');
        Send(true, TcpFlags.Ack, seq ?? _cseq, _sseq, data);
        if (seq is null) _cseq += (uint)length;
    }

    public uint ClientSeq => _cseq;
    public uint ServerSeq => _sseq;

    /// <summary>Client bytes the capture missed: the sequence number moves on, no frame is written (the server's next
    /// ACK covers them, as TCP delivered them).</summary>
    public void ClientMissed(int bytes) => _cseq += (uint)bytes;

    /// <summary>Builds (without sending) a client data segment and the server's ACK of it, advancing the sequence
    /// numbers, for replay through <see cref="Engine.Process"/> without allocating.</summary>
    public (byte[] Data, byte[] Ack) PrepareClientData(ReadOnlySpan<byte> data)
    {
        var d = Build(true, TcpFlags.Ack, _cseq, _sseq, data);
        _cseq += (uint)data.Length;
        var a = Build(false, TcpFlags.Ack, _sseq, _cseq, default);
        return (d, a);
    }

    public void Send(bool fromClient, TcpFlags flags, uint seq, uint ack, ReadOnlySpan<byte> payload)
    {
        var frame = Build(fromClient, flags, seq, ack, payload);
        _engine.Process(new RawFrame(frame, frame.Length, new Timestamp(Base + NowMs * 1_000_000), LinkTypes.Raw, 0));
    }

    public byte[] Build(bool fromClient, TcpFlags flags, uint seq, uint ack, ReadOnlySpan<byte> payload)
    {
        bool syn = (flags & TcpFlags.Syn) != 0;
        int tcpLen = syn ? 24 : 20; // SYNs carry MSS 1460
        var f = new byte[20 + tcpLen + payload.Length];
        f[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(2), (ushort)f.Length);
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(4), _ipId++);
        f[6] = 0x40; // DF
        f[8] = 64;
        f[9] = 6;
        (fromClient ? _client : _server).CopyTo(f, 12);
        (fromClient ? _server : _client).CopyTo(f, 16);
        uint sum = 0;
        for (int i = 0; i < 20; i += 2) sum += BinaryPrimitives.ReadUInt16BigEndian(f.AsSpan(i));
        while (sum > 0xFFFF) sum = (sum & 0xFFFF) + (sum >> 16);
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(10), (ushort)~sum);

        var t = f.AsSpan(20);
        BinaryPrimitives.WriteUInt16BigEndian(t, fromClient ? _clientPort : _serverPort);
        BinaryPrimitives.WriteUInt16BigEndian(t[2..], fromClient ? _serverPort : _clientPort);
        BinaryPrimitives.WriteUInt32BigEndian(t[4..], seq);
        BinaryPrimitives.WriteUInt32BigEndian(t[8..], (flags & TcpFlags.Ack) != 0 ? ack : 0);
        t[12] = (byte)(tcpLen / 4 << 4);
        t[13] = (byte)flags;
        BinaryPrimitives.WriteUInt16BigEndian(t[14..], 65535);
        if (syn) { t[20] = 2; t[21] = 4; BinaryPrimitives.WriteUInt16BigEndian(t[22..], 1460); }
        payload.CopyTo(t[tcpLen..]);
        return f;
    }
}
