using System.IO.Compression;
using PathProbe.Capture;
using PathProbe.Decoding;
using PathProbe.Decoding.Reassembly;
using PathProbe.Pipeline;
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
    /// <summary>Which file the offset is in: the index in <see cref="PacketStoreInfo.Files"/> of a joined input, else 0.</summary>
    public int File { get; init; }
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
    /// stream (the live spool's flushed length); <paramref name="progress"/> gets the share read. The files of a joined
    /// input are read merged by time as the analysis read them (frame numbers as in the mergecap'd file), and only the
    /// frames the input's selection kept (filter, --since/--until, -c) are listed: the packets that were analysed.</summary>
    public static PacketList Scan(PacketStoreInfo store, FlowDetail d, long limit = long.MaxValue, Action<double>? progress = null, CancellationToken cancel = default)
    {
        var found = new List<PacketEntry>();
        long number = 0;
        bool truncated = false;
        string? error = null;
        try
        {
            bool joined = store.Files is { Count: > 1 };
            using var file = joined ? null
                : new FileStream(store.Path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1 << 16, FileOptions.SequentialScan);
            using var merged = joined ? MergedSource.Open(store.Files!, strict: false, cancel) : null;
            long length = merged?.Length ?? Math.Min(limit, file!.Length);
            using IPacketSource source = merged ?? CaptureFile.Open(new LimitedStream(file!, length), store.Path);
            var locator = source as IFrameLocator;
            var selection = store.Selection is { IsEmpty: false } chosen ? chosen : null;
            long since = long.MinValue, until = long.MaxValue, selected = 0;
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
                    progress?.Invoke(length > 0 ? Math.Min(1, (double)(merged?.Position ?? SafePosition(file!)) / length) : 0);
                }
                long t = frame.Time.UnixNanoseconds;
                if (selection is not null)
                {
                    // As FileAnalyzer.Run selects: "+30s" counts from the input's first frame, -c counts kept frames.
                    if (number == 1)
                    {
                        if (selection.Since is { } from0) since = from0.Resolve(t);
                        if (selection.Until is { } to0) until = to0.Resolve(t);
                    }
                    if (t < since || t >= until || (selection.Filter is { } f && !Matches(f, frame))) continue;
                    if (selection.Count > 0 && ++selected > selection.Count) break;
                }
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
                    File = merged?.FrameFile ?? 0,
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
            error = $"cannot read the packets from '{(store.Files is { Count: > 1 } ? string.Join("', '", store.Files) : store.Path)}': {e.Message}";
        }
        progress?.Invoke(1);
        return new PacketList(found, number, truncated, error);
    }

    /// <summary>Reads the bytes of <paramref name="e"/> again from the capture.</summary>
    public static byte[] Read(PacketStoreInfo store, in PacketEntry e)
    {
        if (e.Offset < 0) throw new IOException("the capture does not tell where its packets are");
        var data = new byte[e.CapturedLength];
        string path = store.Files is { Count: > 1 } files ? files[e.File] : store.Path;
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 4096);
        Span<byte> magic = stackalloc byte[2];
        bool gzip = file.Read(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
        file.Position = 0;
        if (!gzip)
        {
            file.Position = e.Offset;
            file.ReadExactly(data);
            return data;
        }
        using var z = PathProbe.Capture.IsalInflateStream.Create(file);
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

    /// <summary>The input's filter on one frame. Scans run on worker threads and a new one may start before the one it
    /// replaces has seen its cancellation: the filter (per-link-type programs, counters) is used by one at a time.</summary>
    private static bool Matches(IFrameFilter filter, in RawFrame frame)
    {
        lock (filter) return filter.Matches(frame);
    }

    private static long SafePosition(FileStream f)
    {
        try { return f.Position; } catch (ObjectDisposedException) { return 0; }
    }

    /// <summary>A read-only view of the first <c>length</c> bytes of a stream (the flushed part of the live spool).</summary>
    private sealed class LimitedStream(Stream inner, long length) : PathProbe.Capture.ReadOnlyStream
    {
        private long _position;
        public override bool CanRead => true;
        public override long Length => length;
        public override long Position { get => _position; set => throw new NotSupportedException(); }
        public override int Read(byte[] buffer, int offset, int count)
        {
            int n = inner.Read(buffer, offset, (int)Math.Min(count, length - _position));
            _position += n;
            return n;
        }
        protected override void Dispose(bool disposing)
        {
            if (disposing) inner.Dispose();
            base.Dispose(disposing);
        }
    }
}
