using System.IO.Compression;
using PathProbe.Capture;
using PathProbe.Decoding;
using PathProbe.Decoding.Reassembly;
using PathProbe.Primitives;

namespace PathProbe.Cli.Tui.Model;

/// <summary>What the packet list keeps of one packet of a flow: where its bytes are, and the header fields the list shows
/// (relative sequence numbers as Wireshark shows them). 64 bytes; the bytes themselves are read again on demand.</summary>
public readonly record struct PacketEntry
{
    /// <summary>Frame number in the capture (1-based, as Wireshark's frame.number).</summary>
    public long Number { get; init; }
    /// <summary>Offset of the frame's bytes in the (decompressed) capture stream.</summary>
    public long Offset { get; init; }
    public long Time { get; init; }
    public int LinkType { get; init; }
    public int CapturedLength { get; init; }
    public int WireLength { get; init; }
    public int IpLength { get; init; }
    public int Payload { get; init; }
    public uint Seq { get; init; }
    public uint Ack { get; init; }
    public TcpFlags Flags { get; init; }
    public ushort Window { get; init; }
    public byte Protocol { get; init; }
    public bool FromClient { get; init; }
    /// <summary>An ICMP error about the flow (its quoted header matched): type, code and MTU (-1 none).</summary>
    public bool Icmp { get; init; }
    public byte IcmpType { get; init; }
    public byte IcmpCode { get; init; }
    public int IcmpMtu { get; init; }
    public bool Reassembled { get; init; }
    public byte SackBlocks { get; init; }
}

/// <summary>The packets of one flow found in a capture, in capture order (at most <see cref="PacketStore.MaxPackets"/>).</summary>
public sealed record PacketList(IReadOnlyList<PacketEntry> Packets, long Scanned, bool Truncated, string? Error);

/// <summary>
/// Finds a flow's packets in a capture file (or the live spool) and reads one packet's bytes again by its offset. Memory
/// is bounded: the list keeps 64 bytes per packet up to <see cref="MaxPackets"/>, never the packets; a packet's bytes
/// are read when it is selected. Uncompressed files are read with one seek; gzip files are decompressed up to the
/// offset (slower, still bounded).
/// </summary>
public static class PacketStore
{
    public const int MaxPackets = 200_000;

    /// <summary>Scans <paramref name="store"/> for the packets of the flow in <paramref name="d"/> (its 5-tuple within its
    /// time span; ICMP errors whose quoted header is the flow's). Reads at most <paramref name="limit"/> bytes of the
    /// stream (the live spool's flushed length); <paramref name="progress"/> gets the share read.</summary>
    public static PacketList Scan(PacketStoreInfo store, FlowDetail d, long limit = long.MaxValue, Action<double>? progress = null, CancellationToken cancel = default)
    {
        var found = new List<PacketEntry>();
        long number = 0;
        bool truncated = false;
        string? error = null;
        try
        {
            using var file = new FileStream(store.Path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1 << 16, FileOptions.SequentialScan);
            long length = Math.Min(limit, file.Length);
            using var source = CaptureFile.Open(new LimitedStream(file, length), store.Path);
            var locator = source as IFrameLocator;
            var decoder = new FrameDecoder(new IpReassembler(), new DecodeCounters());
            var key = d.Key;
            long from = d.Start, to = d.End, icmpTo = d.End + 5_000_000_000;
            uint baseClient = 0, baseServer = 0;
            bool haveClient = false, haveServer = false;
            while (source.TryRead(out RawFrame frame))
            {
                number++;
                if ((number & 0xFFFF) == 0)
                {
                    cancel.ThrowIfCancellationRequested();
                    progress?.Invoke(length > 0 ? Math.Min(1, (double)SafePosition(file) / length) : 0);
                }
                long t = frame.Time.UnixNanoseconds;
                if (t < from || t > icmpTo) continue;
                var p = new DecodedPacket();
                if (decoder.Decode(frame, ref p) != DecodeStatus.Ok) continue;
                bool fromClient;
                bool icmp = false;
                if (p.Protocol == key.Protocol && (p.IsTcp || p.IsUdp || p.IsIcmp) && t <= to)
                {
                    var k = p.IsIcmp ? FlowKey.Create(p.Src, 0, p.Dst, 0, p.Protocol, out _) : FlowKey.Create(p.Src, p.SrcPort, p.Dst, p.DstPort, p.Protocol, out _);
                    if (!k.Equals(key)) continue;
                    fromClient = p.Src == d.ClientIp && (p.IsIcmp || p.SrcPort == d.Row.ClientPort);
                }
                else if (p.IsIcmp && p.Quoted.Present && p.Quoted.Protocol == key.Protocol && p.Quoted.HasPorts)
                {
                    var k = FlowKey.Create(p.Quoted.Src, p.Quoted.SrcPort, p.Quoted.Dst, p.Quoted.DstPort, p.Quoted.Protocol, out _);
                    if (!k.Equals(key)) continue;
                    icmp = true;
                    fromClient = p.Quoted.Src != d.ClientIp; // an error about the client's packet travels toward the client
                }
                else continue;

                if (found.Count >= MaxPackets) { truncated = true; break; }
                uint seq = p.Seq, ack = p.Ack;
                if (p.IsTcp && !icmp)
                {
                    // Relative sequence numbers: the SYN's (or first segment's) sequence is 0, as Wireshark shows them.
                    ref uint mine = ref fromClient ? ref baseClient : ref baseServer;
                    ref bool haveMine = ref fromClient ? ref haveClient : ref haveServer;
                    if (!haveMine) { mine = (p.TcpFlags & TcpFlags.Syn) != 0 ? p.Seq : p.Seq - 1; haveMine = true; }
                    seq = p.Seq - mine;
                    uint other = fromClient ? baseServer : baseClient;
                    bool haveOther = fromClient ? haveServer : haveClient;
                    ack = (p.TcpFlags & TcpFlags.Ack) != 0 && haveOther ? p.Ack - other : p.Ack;
                }
                found.Add(new PacketEntry
                {
                    Number = number,
                    Offset = locator?.FrameDataOffset ?? -1,
                    Time = t,
                    LinkType = frame.LinkType,
                    CapturedLength = frame.Data.Length,
                    WireLength = frame.OriginalLength,
                    IpLength = p.IpPacketLength,
                    Payload = p.PayloadWireLength,
                    Seq = seq,
                    Ack = ack,
                    Flags = icmp ? 0 : p.TcpFlags,
                    Window = p.Window,
                    Protocol = p.Protocol,
                    FromClient = fromClient,
                    Icmp = icmp || p.IsIcmp,
                    IcmpType = p.IcmpType,
                    IcmpCode = p.IcmpCode,
                    IcmpMtu = p.IcmpMtu,
                    Reassembled = p.Reassembled,
                    SackBlocks = p.TcpOptions.SackBlockCount,
                });
            }
            if (source.End.Kind is SourceEndKind.Corrupt or SourceEndKind.Error) error = source.End.Reason;
        }
        catch (OperationCanceledException) { throw; }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or CaptureFormatException)
        {
            error = $"cannot read the packets from '{store.Path}': {e.Message}";
        }
        progress?.Invoke(1);
        return new PacketList(found, number, truncated, error);
    }

    /// <summary>Reads the bytes of <paramref name="e"/> again from the capture.</summary>
    public static byte[] Read(PacketStoreInfo store, in PacketEntry e)
    {
        if (e.Offset < 0) throw new IOException("the capture does not tell where its packets are");
        var data = new byte[e.CapturedLength];
        using var file = new FileStream(store.Path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 4096);
        Span<byte> magic = stackalloc byte[2];
        bool gzip = file.Read(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
        file.Position = 0;
        if (!gzip)
        {
            file.Position = e.Offset;
            file.ReadExactly(data);
            return data;
        }
        using var z = new GZipStream(file, CompressionMode.Decompress);
        var skip = new byte[1 << 16];
        long left = e.Offset;
        while (left > 0)
        {
            int n = z.Read(skip, 0, (int)Math.Min(skip.Length, left));
            if (n <= 0) throw new EndOfStreamException("the compressed capture ends before the packet");
            left -= n;
        }
        z.ReadExactly(data);
        return data;
    }

    private static long SafePosition(FileStream f)
    {
        try { return f.Position; } catch (ObjectDisposedException) { return 0; }
    }

    /// <summary>A read-only view of the first <c>length</c> bytes of a stream (the flushed part of the live spool).</summary>
    private sealed class LimitedStream(Stream inner, long length) : Stream
    {
        private long _position;
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => length;
        public override long Position { get => _position; set => throw new NotSupportedException(); }
        public override int Read(byte[] buffer, int offset, int count)
        {
            int n = inner.Read(buffer, offset, (int)Math.Min(count, length - _position));
            _position += n;
            return n;
        }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        protected override void Dispose(bool disposing)
        {
            if (disposing) inner.Dispose();
            base.Dispose(disposing);
        }
    }
}
