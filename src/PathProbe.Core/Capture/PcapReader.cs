using System.Globalization;
using PathProbe.Primitives;

namespace PathProbe.Capture;

/// <summary>
/// Classic libpcap files (draft-ietf-opsawg-pcap): 24-byte file header, then 16-byte record headers each followed
/// by caplen bytes. Both byte orders, microsecond (a1b2c3d4) and nanosecond (a1b23c4d) magic.
/// <see cref="RawFrame.Data"/> is valid until the next <see cref="CaptureReader.TryRead"/>.
/// </summary>
internal sealed class PcapReader : CaptureReader
{
    // File header (draft-ietf-opsawg-pcap §4).
    private const int FileHeaderLength = 24;
    private const int VersionMajorOffset = 4;
    private const int VersionMinorOffset = 6;
    private const int SnapLenOffset = 16;
    private const int LinkTypeOffset = 20;
    // Packet record (§5).
    private const int RecordHeaderLength = 16;
    private const int TsSecondsOffset = 0;
    private const int TsFractionOffset = 4;
    private const int CapLenOffset = 8;
    private const int OrigLenOffset = 12;

    /// <summary>libpcap's largest snaplen for any link type (MAXIMUM_SNAPLEN).</summary>
    internal const int TypicalMaxCapLen = 262_144;
    /// <summary>No record is believed above this, whatever the header's snaplen says.</summary>
    internal const int HardMaxCapLen = 16 << 20;

    private readonly bool _bigEndian;
    private readonly bool _nanos;
    private int _linkType;
    private uint _maxCapLen;
    private long _record;

    public PcapReader(Stream stream, ReadOnlySpan<byte> head, string name, bool compressed, bool bigEndian, bool nanos, int bufferSize)
        : base(stream, head, bufferSize, new CaptureInfo { Path = name, Format = "pcap", Compressed = compressed })
    {
        _bigEndian = bigEndian;
        _nanos = nanos;
    }

    /// <summary>Recognises the four pcap magics; <paramref name="bigEndian"/> is the file's byte order.</summary>
    internal static bool TryDetect(ReadOnlySpan<byte> magic, out bool bigEndian, out bool nanos)
    {
        uint be = System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(magic);
        (bool ok, bigEndian, nanos) = be switch
        {
            0xa1b2c3d4 => (true, true, false),
            0xd4c3b2a1 => (true, false, false),
            0xa1b23c4d => (true, true, true),
            0x4d3cb2a1 => (true, false, true),
            _ => (false, false, false),
        };
        return ok;
    }

    internal void ReadFileHeader()
    {
        EnsureHeader(FileHeaderLength, "pcap file header");
        var h = Peek(0, FileHeaderLength);
        int major = U16(h[VersionMajorOffset..], _bigEndian);
        int minor = U16(h[VersionMinorOffset..], _bigEndian);
        uint snap = U32(h[SnapLenOffset..], _bigEndian);
        // The upper 16 bits carry the FCS length and flags (§4, "LinkType and additional information").
        _linkType = (int)(U32(h[LinkTypeOffset..], _bigEndian) & 0xFFFF);
        Advance(FileHeaderLength);

        if (major != 2)
            throw new CaptureFormatException(
                $"'{DisplayName}' is a pcap file of version {major}.{minor}, which is not supported (expected version 2.x)");

        // libpcap rejects caplen above max(snaplen, its per-link maximum); we also never believe more than 16 MiB.
        _maxCapLen = Math.Min(Math.Max(snap, TypicalMaxCapLen), HardMaxCapLen);
        Info.SnapLength = snap;
        Info.BigEndian = _bigEndian;
        Info.TimestampResolution = _nanos ? "nanoseconds" : "microseconds";
        Info.Sections = 1;
        Info.Interfaces.Add(new CaptureInterface
        {
            LinkType = _linkType,
            SnapLength = Info.SnapLength,
            TicksPerSecond = _nanos ? Timestamp.NanosPerSecond : 1_000_000,
        });
    }

    protected override bool ReadNext(out RawFrame frame)
    {
        frame = default;
        long recordNumber = _record + 1;
        if (!Ensure(RecordHeaderLength, "packet record", recordNumber, cleanEndAllowed: true))
            return false;

        var h = Peek(0, RecordHeaderLength);
        uint seconds = U32(h[TsSecondsOffset..], _bigEndian);
        uint fraction = U32(h[TsFractionOffset..], _bigEndian);
        uint capLen = U32(h[CapLenOffset..], _bigEndian);
        uint origLen = U32(h[OrigLenOffset..], _bigEndian);

        if (capLen > _maxCapLen)
        {
            SetEnd(SourceEndKind.Corrupt, Offset, string.Create(CultureInfo.InvariantCulture,
                $"packet record {recordNumber} claims {capLen} captured bytes, more than the maximum of {_maxCapLen} (snaplen {Info.SnapLength})"));
            return false;
        }

        int total = RecordHeaderLength + (int)capLen;
        if (!Ensure(total, "packet record", recordNumber, cleanEndAllowed: false))
            return false;

        // seconds < 2^32 and fraction < 2^32: the sum stays far below long.MaxValue.
        long nanos = seconds * Timestamp.NanosPerSecond + (_nanos ? fraction : fraction * (long)Timestamp.NanosPerMicrosecond);
        // OriginalLength >= captured length keeps RawFrame.IsTruncated meaningful on files with len < caplen.
        int original = (int)Math.Min(Math.Max(origLen, capLen), int.MaxValue);
        frame = new RawFrame(Peek(RecordHeaderLength, (int)capLen), original, new Timestamp(nanos), _linkType, 0);
        Advance(total);
        _record = recordNumber;
        return true;
    }
}
