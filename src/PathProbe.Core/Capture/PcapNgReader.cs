using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using PathProbe.Primitives;

namespace PathProbe.Capture;

/// <summary>
/// pcapng files (draft-ietf-opsawg-pcapng): any number of sections, each with its own byte order and interfaces.
/// Packets come from enhanced (EPB), simple (SPB) and obsolete packet blocks (PB); every other block is skipped
/// and counted in <see cref="CaptureInfo.SkippedBlocks"/>.
/// <see cref="RawFrame.InterfaceIndex"/> is a running index over all IDBs of the file (interface numbering restarts
/// per section in the format, not here), matching <see cref="CaptureInfo.Interfaces"/>.
/// A packet naming an interface its section has not described is Corrupt (as Wireshark does): its link type and
/// time base are unknown, so nothing after it can be trusted either.
/// Interface statistics blocks (ISB) are kept in <see cref="CaptureInfo.Statistics"/> and as each interface's latest
/// <see cref="CaptureInterface.Statistics"/>.
/// Memory does not grow with the file's metadata: only the current section's interfaces are held for decoding (at
/// most <see cref="CaptureLimits.MaxInterfacesPerSection"/>), and what is kept for the report (interfaces, sections,
/// option texts, statistics) is bounded by <see cref="CaptureInfo.Limits"/>; every bound hit is counted in
/// <see cref="CaptureInfo.LimitsHit"/>.
/// <see cref="RawFrame.Data"/> is valid until the next <see cref="CaptureReader.TryRead"/>.
/// </summary>
internal sealed class PcapNgReader : CaptureReader
{
    // Generic block (§4.1): type, total length, body, total length.
    private const int BlockHeaderLength = 8;
    private const int MinBlockLength = 12;
    /// <summary>Largest block believed; Wireshark's limit is of the same order.</summary>
    internal const int MaxBlockLength = 64 << 20;

    private const uint SectionHeaderType = 0x0A0D0D0A;
    private const uint InterfaceDescriptionType = 1;
    private const uint ObsoletePacketType = 2;
    private const uint SimplePacketType = 3;
    private const uint EnhancedPacketType = 6;
    private const uint InterfaceStatisticsType = 5;
    private const uint ByteOrderMagic = 0x1A2B3C4D;

    // SHB (§4.2)
    private const int ShbByteOrderOffset = 8;
    private const int ShbMajorOffset = 12;
    private const int ShbMinorOffset = 14;
    private const int ShbOptionsOffset = 24;
    private const int ShbMinLength = 28;
    // IDB (§4.3)
    private const int IdbLinkTypeOffset = 8;
    private const int IdbSnapLenOffset = 12;
    private const int IdbOptionsOffset = 16;
    private const int IdbMinLength = 20;
    // EPB (§4.4)
    private const int EpbInterfaceOffset = 8;
    private const int EpbTsHighOffset = 12;
    private const int EpbTsLowOffset = 16;
    private const int EpbCapLenOffset = 20;
    private const int EpbOrigLenOffset = 24;
    private const int EpbDataOffset = 28;
    private const int EpbMinLength = 32;
    // ISB (§4.6)
    private const int IsbInterfaceOffset = 8;
    private const int IsbTsHighOffset = 12;
    private const int IsbTsLowOffset = 16;
    private const int IsbOptionsOffset = 20;
    private const int IsbMinLength = 24;
    // SPB (§4.5)
    private const int SpbOrigLenOffset = 8;
    private const int SpbDataOffset = 12;
    private const int SpbMinLength = 16;
    // PB (Appendix, obsolete): 16-bit interface id and drops count instead of a 32-bit interface id.
    private const int PbInterfaceOffset = 8;
    private const int PbTsHighOffset = 12;
    private const int PbTsLowOffset = 16;
    private const int PbCapLenOffset = 20;
    private const int PbOrigLenOffset = 24;
    private const int PbDataOffset = 28;
    private const int PbMinLength = 32;

    // Options (§3.5)
    private const ushort OptEndOfOpt = 0;
    private const ushort OptComment = 1;
    private const ushort IfName = 2;
    private const ushort IfDescription = 3;
    private const ushort IfTsResol = 9;
    private const ushort IfTsOffset = 14;
    private const ushort IsbStartTime = 2;
    private const ushort IsbEndTime = 3;
    private const ushort IsbIfRecv = 4;
    private const ushort IsbIfDrop = 5;
    private const ushort IsbFilterAccept = 6;
    private const ushort IsbOsDrop = 7;
    private const ushort IsbUsrDeliv = 8;

    private struct Interface
    {
        public int LinkType;
        public uint SnapLength;
        public ulong TicksPerSecond;
        public long OffsetSeconds;
        /// <summary>The offset was checked against the first packet's time (see <see cref="CheckOffset"/>).</summary>
        public bool OffsetChecked;
        /// <summary>The report's entry for this interface, null when not listed.</summary>
        public CaptureInterface? Listed;
    }

    private readonly CaptureLimits _limits;
    private readonly CaptureLimitCounters _hit;
    private Interface[] _interfaces = new Interface[4]; // the current section's usable interfaces
    private int _sectionInterfaces;   // usable interfaces of the current section (at most MaxInterfacesPerSection)
    private long _sectionDescribed;   // interface description blocks of the current section, ignored ones included
    private int _sectionFirst;        // file-wide index of the current section's interface 0
    private int _interfaceCount;      // interface description blocks across the file (saturating)
    private bool _sectionDescribedInReport; // this section's metadata is kept (within MaxSectionsDescribed)
    private long _optionTextBytes;    // option text kept so far
    private bool _bigEndian;
    private long _block;              // 1-based number of the block being read

    public PcapNgReader(Stream stream, ReadOnlySpan<byte> head, string name, bool compressed, int bufferSize, CaptureLimits? limits = null)
        : base(stream, head, bufferSize, new CaptureInfo { Path = name, Format = "pcapng", Compressed = compressed, Limits = limits ?? CaptureLimits.Default })
    {
        _limits = Info.Limits;
        _hit = Info.LimitsHit;
    }

    /// <summary>Reads the first section header (failures throw), then the blocks up to the first packet so that
    /// <see cref="CaptureInfo.Interfaces"/> is known right after opening (failures there go to End).</summary>
    internal void ReadFileHeader()
    {
        EnsureHeader(ShbByteOrderOffset + 4, "pcapng section header block");
        uint bom = BinaryPrimitives.ReadUInt32BigEndian(Peek(ShbByteOrderOffset, 4));
        if (bom != ByteOrderMagic && bom != BinaryPrimitives.ReverseEndianness(ByteOrderMagic))
            throw new CaptureFormatException(string.Create(CultureInfo.InvariantCulture,
                $"'{DisplayName}' is not a capture file: it starts like a pcapng section header block but its byte-order magic is {bom:x8} (expected 1a2b3c4d in either byte order)"));
        bool be = bom == ByteOrderMagic;
        uint length = U32(Peek(4, 4), be);
        if (length < ShbMinLength || length % 4 != 0 || length > MaxBlockLength)
            throw new CaptureFormatException(string.Create(CultureInfo.InvariantCulture,
                $"'{DisplayName}' is not a usable pcapng file: the first section header block has an invalid length of {length} bytes"));
        EnsureHeader((int)length, "pcapng section header block");
        _block = 1;
        if (!ReadSectionHeader((int)length))
            throw new CaptureFormatException($"'{DisplayName}' is not a usable pcapng file: {End.Reason}");

        // Prime the interfaces: process blocks until the first packet block.
        while (End.Kind == SourceEndKind.None && Ensure(BlockHeaderLength, "block", _block + 1, cleanEndAllowed: true))
        {
            uint type = U32(Peek(0, 4), _bigEndian);
            if (type is EnhancedPacketType or SimplePacketType or ObsoletePacketType)
                break;
            if (!ReadBlock(out _, out _))
                break;
        }
    }

    protected override bool ReadNext(out RawFrame frame)
    {
        frame = default;
        while (true)
        {
            if (!ReadBlock(out frame, out bool gotFrame))
                return false;
            if (gotFrame)
                return true;
        }
    }

    /// <summary>Reads one block. Returns false when reading stopped (End set).</summary>
    private bool ReadBlock(out RawFrame frame, out bool gotFrame)
    {
        frame = default;
        gotFrame = false;
        long number = _block + 1;
        if (!Ensure(BlockHeaderLength, "block", number, cleanEndAllowed: true))
            return false;

        // The SHB type is a byte-order palindrome; its own byte order comes from its byte-order magic.
        if (BinaryPrimitives.ReadUInt32LittleEndian(Peek(0, 4)) == SectionHeaderType)
        {
            if (!Ensure(ShbByteOrderOffset + 4, "section header block", number, cleanEndAllowed: false))
                return false;
            uint bom = BinaryPrimitives.ReadUInt32BigEndian(Peek(ShbByteOrderOffset, 4));
            if (bom != ByteOrderMagic && bom != BinaryPrimitives.ReverseEndianness(ByteOrderMagic))
                return Corrupt(string.Create(CultureInfo.InvariantCulture,
                    $"section header block {number} has byte-order magic {bom:x8} (expected 1a2b3c4d in either byte order)"));
            uint shbLength = U32(Peek(4, 4), bom == ByteOrderMagic);
            if (!CheckLength(shbLength, ShbMinLength, "section header block", number))
                return false;
            if (!Ensure((int)shbLength, "section header block", number, cleanEndAllowed: false))
                return false;
            _block = number;
            return ReadSectionHeader((int)shbLength);
        }

        uint type = U32(Peek(0, 4), _bigEndian);
        uint length = U32(Peek(4, 4), _bigEndian);
        string what = BlockName(type);
        if (!CheckLength(length, MinBlockLength, what, number))
            return false;
        int len = (int)length;
        if (!Ensure(len, what, number, cleanEndAllowed: false))
            return false;
        if (U32(Peek(len - 4, 4), _bigEndian) != length)
            return Corrupt(string.Create(CultureInfo.InvariantCulture,
                $"{what} {number} has trailing length {U32(Peek(len - 4, 4), _bigEndian)}, leading length {length}"));
        _block = number;

        bool ok;
        switch (type)
        {
            case EnhancedPacketType:
                ok = ReadEnhancedPacket(len, number, out frame, out gotFrame);
                break;
            case SimplePacketType:
                ok = ReadSimplePacket(len, number, out frame);
                gotFrame = ok;
                break;
            case ObsoletePacketType:
                ok = ReadObsoletePacket(len, number, out frame, out gotFrame);
                break;
            case InterfaceDescriptionType:
                ok = ReadInterfaceDescription(len, number);
                break;
            case InterfaceStatisticsType:
                ok = ReadInterfaceStatistics(len);
                break;
            default:
                // NRB, DSB, custom, systemd journal, ...: not needed for packet analysis.
                Info.SkippedBlocks++;
                ok = true;
                break;
        }
        // The frame's span stays valid: advancing only moves the read position, the bytes stay until the next read.
        if (ok) Advance(len);
        return ok;
    }

    private bool CheckLength(uint length, int min, string what, long number)
    {
        if (length >= min && length % 4 == 0 && length <= MaxBlockLength)
            return true;
        return Corrupt(string.Create(CultureInfo.InvariantCulture,
            $"{what} {number} has an invalid total length of {length} bytes (must be a multiple of 4, at least {min}, at most {MaxBlockLength})"));
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private bool Corrupt(string reason)
    {
        SetEnd(SourceEndKind.Corrupt, Offset, reason);
        return false;
    }

    private static string BlockName(uint type) => type switch
    {
        InterfaceDescriptionType => "interface description block",
        ObsoletePacketType => "packet block",
        SimplePacketType => "simple packet block",
        EnhancedPacketType => "enhanced packet block",
        4 => "name resolution block",
        5 => "interface statistics block",
        _ => "block",
    };

    private bool ReadSectionHeader(int length)
    {
        var b = Peek(0, length);
        bool be = BinaryPrimitives.ReadUInt32BigEndian(b[ShbByteOrderOffset..]) == ByteOrderMagic;
        if (U32(b[(length - 4)..], be) != (uint)length)
            return Corrupt(string.Create(CultureInfo.InvariantCulture,
                $"section header block {_block} has trailing length {U32(b[(length - 4)..], be)}, leading length {length}"));
        int major = U16(b[ShbMajorOffset..], be);
        int minor = U16(b[ShbMinorOffset..], be);
        if (major != 1)
            return Corrupt(string.Create(CultureInfo.InvariantCulture,
                $"section header block {_block} has version {major}.{minor}; only pcapng 1.x is supported"));

        _bigEndian = be;
        _sectionFirst = _interfaceCount;
        _sectionInterfaces = 0;
        _sectionDescribed = 0;
        if (Info.Sections == 0) Info.BigEndian = be;
        if (Info.Sections < int.MaxValue) Info.Sections++;
        _sectionDescribedInReport = Info.Sections <= _limits.MaxSectionsDescribed;
        if (!_sectionDescribedInReport) _hit.SectionsNotDescribed++;

        if (_sectionDescribedInReport)
        {
            var options = new OptionReader(b[ShbOptionsOffset..(length - 4)], be);
            while (options.TryNext(out ushort code, out var value))
            {
                if (code == OptComment)
                    AddComment(value);
            }
        }
        Advance(length);
        return true;
    }

    private bool ReadInterfaceDescription(int length, long number)
    {
        if (length < IdbMinLength)
            return Corrupt(string.Create(CultureInfo.InvariantCulture,
                $"interface description block {number} is {length} bytes long, less than the minimum {IdbMinLength}"));
        int globalIndex = _interfaceCount;
        if (_interfaceCount < int.MaxValue) _interfaceCount++;
        _sectionDescribed++;
        if (_sectionInterfaces >= _limits.MaxInterfacesPerSection)
        {
            // Its packets are skipped (and counted): nothing about it is kept.
            _hit.InterfacesIgnored++;
            return true;
        }
        bool listed = _sectionDescribedInReport && Info.Interfaces.Count < _limits.MaxInterfacesListed;
        if (!listed) _hit.InterfacesNotListed++;

        var b = Peek(0, length);
        var itf = new Interface
        {
            LinkType = U16(b[IdbLinkTypeOffset..], _bigEndian),
            SnapLength = U32(b[IdbSnapLenOffset..], _bigEndian),
            TicksPerSecond = 1_000_000,
        };
        string? name = null, description = null;
        var options = new OptionReader(b[IdbOptionsOffset..(length - 4)], _bigEndian);
        while (options.TryNext(out ushort code, out var value))
        {
            switch (code)
            {
                case OptComment when listed:
                    AddComment(value);
                    break;
                case IfName when listed:
                    name = KeepText(value);
                    break;
                case IfDescription when listed:
                    description = KeepText(value);
                    break;
                case IfTsResol when value.Length >= 1:
                    // §4.3: MSB clear = negative power of 10, set = negative power of 2.
                    int exponent = value[0] & 0x7F;
                    bool power2 = (value[0] & 0x80) != 0;
                    if (power2 ? exponent > 63 : exponent > 19)
                        return Corrupt(string.Create(CultureInfo.InvariantCulture,
                            $"interface description block {number} has if_tsresol {(power2 ? "2" : "10")}^-{exponent}, finer than 64-bit timestamps can hold"));
                    itf.TicksPerSecond = power2 ? 1UL << exponent : Pow10(exponent);
                    break;
                case IfTsOffset when value.Length >= 8:
                    long offset = _bigEndian ? BinaryPrimitives.ReadInt64BigEndian(value) : BinaryPrimitives.ReadInt64LittleEndian(value);
                    // §4.2 allows any signed offset; one beyond 136 years cannot describe a real clock.
                    if (offset == long.MinValue || Math.Abs(offset) > _limits.MaxTimestampOffsetSeconds)
                    {
                        IgnoreOffset(offset);
                        offset = 0;
                        itf.OffsetChecked = true;
                    }
                    itf.OffsetSeconds = offset;
                    break;
            }
        }

        if (listed)
        {
            itf.Listed = new CaptureInterface
            {
                LinkType = itf.LinkType,
                SnapLength = itf.SnapLength,
                Name = name,
                Description = description,
                TicksPerSecond = (long)Math.Min(itf.TicksPerSecond, long.MaxValue),
                TimestampOffsetSeconds = itf.OffsetSeconds,
                Section = Info.Sections - 1,
                Index = globalIndex,
            };
            Info.Interfaces.Add(itf.Listed);
            if (Info.Interfaces.Count == 1)
            {
                Info.SnapLength = itf.Listed.SnapLength;
                Info.TimestampResolution = DescribeResolution(itf.TicksPerSecond);
            }
        }

        if (_sectionInterfaces == _interfaces.Length)
            Array.Resize(ref _interfaces, Math.Min(_interfaces.Length * 2, Math.Max(_limits.MaxInterfacesPerSection, 4)));
        _interfaces[_sectionInterfaces++] = itf;
        return true;
    }

    private void IgnoreOffset(long offset)
    {
        _hit.TimestampOffsetsIgnored++;
        _hit.FirstIgnoredTimestampOffset ??= offset;
    }

    /// <summary>if_tsoffset is checked once per interface, on its first timestamp: an offset that would put it before
    /// 1970 or beyond 2262 (where times saturate) is a writer's mistake, not a clock; it is ignored and counted, so the
    /// interface's times stay as recorded rather than jumping to 1970.</summary>
    private void CheckOffset(ref Interface itf, ulong ticks)
    {
        itf.OffsetChecked = true;
        if (itf.OffsetSeconds == 0) return;
        Int128 nanos = ToNanos(ticks, itf.TicksPerSecond, itf.OffsetSeconds);
        if (nanos >= 0 && nanos < long.MaxValue) return;
        IgnoreOffset(itf.OffsetSeconds);
        itf.OffsetSeconds = 0;
        if (itf.Listed is not null) itf.Listed.TimestampOffsetIgnored = true;
    }

    /// <summary>Resolves a packet's interface id. Returns 1 when usable, 0 when the interface was described but
    /// ignored (beyond the per-section limit: the packet is skipped and counted), -1 when it was never described (End
    /// set to Corrupt).</summary>
    private int ResolveInterface(uint id, string what, long number)
    {
        if (id < (uint)_sectionInterfaces) return 1;
        if (id < (ulong)_sectionDescribed)
        {
            _hit.PacketsOnIgnoredInterfaces++;
            return 0;
        }
        Corrupt(string.Create(CultureInfo.InvariantCulture,
            $"{what} {number} refers to interface {id}, but its section describes only {_sectionDescribed}"));
        return -1;
    }

    private bool ReadInterfaceStatistics(int length)
    {
        if (length < IsbMinLength)
        {
            // Too short to hold even its timestamp; statistics are not needed to read packets.
            Info.SkippedBlocks++;
            return true;
        }
        var b = Peek(0, length);
        uint id = U32(b[IsbInterfaceOffset..], _bigEndian);
        if (id >= (uint)_sectionInterfaces)
        {
            Info.SkippedBlocks++;
            return true;
        }
        ref Interface itf = ref _interfaces[id];
        ulong ticks = ((ulong)U32(b[IsbTsHighOffset..], _bigEndian) << 32) | U32(b[IsbTsLowOffset..], _bigEndian);
        if (!itf.OffsetChecked) CheckOffset(ref itf, ticks);
        Timestamp? start = null, end = null;
        long? recv = null, ifDrop = null, osDrop = null, accepted = null, delivered = null;
        var options = new OptionReader(b[IsbOptionsOffset..(length - 4)], _bigEndian);
        while (options.TryNext(out ushort code, out var value))
        {
            if (value.Length < 8) continue;
            switch (code)
            {
                case IsbStartTime: start = OptionTime(value, itf); break;
                case IsbEndTime: end = OptionTime(value, itf); break;
                case IsbIfRecv: recv = Counter(value); break;
                case IsbIfDrop: ifDrop = Counter(value); break;
                case IsbFilterAccept: accepted = Counter(value); break;
                case IsbOsDrop: osDrop = Counter(value); break;
                case IsbUsrDeliv: delivered = Counter(value); break;
            }
        }
        var stats = new InterfaceStatistics
        {
            InterfaceIndex = _sectionFirst + (int)id,
            Time = ToTimestamp(ticks, itf.TicksPerSecond, itf.OffsetSeconds),
            StartTime = start,
            EndTime = end,
            Received = recv,
            InterfaceDropped = ifDrop,
            OsDropped = osDrop,
            FilterAccepted = accepted,
            Delivered = delivered,
        };
        if (Info.Statistics.Count < _limits.MaxStatisticsKept) Info.Statistics.Add(stats);
        else _hit.StatisticsNotKept++;
        if (itf.Listed is not null) itf.Listed.Statistics = stats;
        return true;
    }

    /// <summary>An ISB time option: two 32-bit words, high first, in the interface's resolution (§4.6).</summary>
    private Timestamp OptionTime(ReadOnlySpan<byte> value, in Interface itf) =>
        ToTimestamp(((ulong)U32(value, _bigEndian) << 32) | U32(value[4..], _bigEndian), itf.TicksPerSecond, itf.OffsetSeconds);

    /// <summary>A 64-bit counter option; values above long.MaxValue are not counts anyone recorded, kept as the maximum.</summary>
    private long Counter(ReadOnlySpan<byte> value)
    {
        ulong v = _bigEndian ? BinaryPrimitives.ReadUInt64BigEndian(value) : BinaryPrimitives.ReadUInt64LittleEndian(value);
        return v > long.MaxValue ? long.MaxValue : (long)v;
    }

    private bool ReadEnhancedPacket(int length, long number, out RawFrame frame, out bool gotFrame)
    {
        frame = default;
        gotFrame = false;
        if (length < EpbMinLength)
            return Corrupt(string.Create(CultureInfo.InvariantCulture,
                $"enhanced packet block {number} is {length} bytes long, less than the minimum {EpbMinLength}"));
        var b = Peek(0, length);
        uint id = U32(b[EpbInterfaceOffset..], _bigEndian);
        ulong ticks = ((ulong)U32(b[EpbTsHighOffset..], _bigEndian) << 32) | U32(b[EpbTsLowOffset..], _bigEndian);
        uint capLen = U32(b[EpbCapLenOffset..], _bigEndian);
        uint origLen = U32(b[EpbOrigLenOffset..], _bigEndian);
        return MakeFrame(id, ticks, capLen, origLen, EpbDataOffset, length, "enhanced packet block", number, out frame, out gotFrame);
    }

    private bool ReadObsoletePacket(int length, long number, out RawFrame frame, out bool gotFrame)
    {
        frame = default;
        gotFrame = false;
        if (length < PbMinLength)
            return Corrupt(string.Create(CultureInfo.InvariantCulture,
                $"packet block {number} is {length} bytes long, less than the minimum {PbMinLength}"));
        var b = Peek(0, length);
        uint id = U16(b[PbInterfaceOffset..], _bigEndian);
        ulong ticks = ((ulong)U32(b[PbTsHighOffset..], _bigEndian) << 32) | U32(b[PbTsLowOffset..], _bigEndian);
        uint capLen = U32(b[PbCapLenOffset..], _bigEndian);
        uint origLen = U32(b[PbOrigLenOffset..], _bigEndian);
        return MakeFrame(id, ticks, capLen, origLen, PbDataOffset, length, "packet block", number, out frame, out gotFrame);
    }

    /// <summary>Returns false when End was set; <paramref name="gotFrame"/> is false for a packet that is skipped.</summary>
    private bool MakeFrame(uint id, ulong ticks, uint capLen, uint origLen, int dataOffset, int length, string what, long number, out RawFrame frame, out bool gotFrame)
    {
        frame = default;
        gotFrame = false;
        int usable = ResolveInterface(id, what, number);
        if (usable < 0) return false;
        if (capLen > (uint)(length - dataOffset - 4))
            return Corrupt(string.Create(CultureInfo.InvariantCulture,
                $"{what} {number} claims {capLen} captured bytes but the block holds only {length - dataOffset - 4}"));
        if (usable == 0) return true;
        ref Interface itf = ref _interfaces[id];
        if (!itf.OffsetChecked) CheckOffset(ref itf, ticks);
        int original = (int)Math.Min(Math.Max(origLen, capLen), int.MaxValue);
        frame = new RawFrame(Peek(dataOffset, (int)capLen), original, ToTimestamp(ticks, itf.TicksPerSecond, itf.OffsetSeconds), itf.LinkType,
            (int)Math.Min((long)_sectionFirst + id, int.MaxValue));
        gotFrame = true;
        return true;
    }

    private bool ReadSimplePacket(int length, long number, out RawFrame frame)
    {
        frame = default;
        if (length < SpbMinLength)
            return Corrupt(string.Create(CultureInfo.InvariantCulture,
                $"simple packet block {number} is {length} bytes long, less than the minimum {SpbMinLength}"));
        if (_sectionInterfaces == 0)
            return Corrupt(string.Create(CultureInfo.InvariantCulture,
                $"simple packet block {number} comes before any interface description block of its section"));
        ref readonly Interface itf = ref _interfaces[0];
        uint origLen = U32(Peek(SpbOrigLenOffset, 4), _bigEndian);
        // §4.5: captured length = min(original length, snaplen, room in the block); SPBs carry no timestamp.
        uint capLen = Math.Min(origLen, (uint)(length - SpbDataOffset - 4));
        if (itf.SnapLength != 0) capLen = Math.Min(capLen, itf.SnapLength);
        int original = (int)Math.Min(origLen, int.MaxValue);
        frame = new RawFrame(Peek(SpbDataOffset, (int)capLen), original, default, itf.LinkType, _sectionFirst);
        return true;
    }

    /// <summary>Exact conversion of <paramref name="ticks"/> at <paramref name="ticksPerSecond"/> to nanoseconds since
    /// the epoch, saturating outside Timestamp's range (years 1677..2262).</summary>
    internal static Timestamp ToTimestamp(ulong ticks, ulong ticksPerSecond, long offsetSeconds)
    {
        Int128 nanos = ToNanos(ticks, ticksPerSecond, offsetSeconds);
        if (nanos > long.MaxValue) return new Timestamp(long.MaxValue);
        if (nanos < long.MinValue) return new Timestamp(long.MinValue);
        return new Timestamp((long)nanos);
    }

    private static Int128 ToNanos(ulong ticks, ulong ticksPerSecond, long offsetSeconds)
    {
        ulong seconds, fractionNanos;
        if (ticksPerSecond == 1_000_000)
        {
            seconds = ticks / 1_000_000;
            fractionNanos = ticks % 1_000_000 * 1_000;
        }
        else if (ticksPerSecond == Timestamp.NanosPerSecond)
        {
            seconds = ticks / Timestamp.NanosPerSecond;
            fractionNanos = ticks % Timestamp.NanosPerSecond;
        }
        else
        {
            seconds = ticks / ticksPerSecond;
            ulong rem = ticks % ticksPerSecond;
            // rem * 10^9 may exceed 64 bits when ticksPerSecond > ~1.8e10: go through 128 bits.
            fractionNanos = (ulong)(Math.BigMul(rem, (ulong)Timestamp.NanosPerSecond) / ticksPerSecond);
        }
        return ((Int128)seconds + offsetSeconds) * Timestamp.NanosPerSecond + fractionNanos;
    }

    private static ulong Pow10(int exponent)
    {
        ulong v = 1;
        for (int i = 0; i < exponent; i++) v *= 10;
        return v;
    }

    internal static string DescribeResolution(ulong ticksPerSecond) => ticksPerSecond switch
    {
        1 => "seconds",
        1_000 => "milliseconds",
        1_000_000 => "microseconds",
        1_000_000_000 => "nanoseconds",
        _ when (ticksPerSecond & (ticksPerSecond - 1)) == 0 =>
            "2^-" + System.Numerics.BitOperations.Log2(ticksPerSecond).ToString(CultureInfo.InvariantCulture) + " s",
        _ => "1/" + ticksPerSecond.ToString(CultureInfo.InvariantCulture) + " s",
    };

    private void AddComment(ReadOnlySpan<byte> value)
    {
        string? text = KeepText(value);
        if (!string.IsNullOrEmpty(text)) Info.Comments.Add(text);
    }

    /// <summary>An option text within <see cref="CaptureLimits.MaxOptionTextLength"/> and what is left of
    /// <see cref="CaptureLimits.MaxOptionTextBytes"/>; bytes beyond are counted, not decoded. Null when nothing is left.</summary>
    private string? KeepText(ReadOnlySpan<byte> value)
    {
        long room = Math.Min(_limits.MaxOptionTextLength, _limits.MaxOptionTextBytes - _optionTextBytes);
        int keep = (int)Math.Clamp(room, 0, value.Length);
        _hit.OptionTextBytesNotKept += value.Length - keep;
        if (keep == 0) return null;
        _optionTextBytes += keep;
        return Text(value[..keep]);
    }

    /// <summary>UTF-8 option text without control characters (line breaks and tabs become spaces) and without the
    /// NUL padding some writers include.</summary>
    internal static string Text(ReadOnlySpan<byte> value)
    {
        string s = Encoding.UTF8.GetString(value);
        var sb = new StringBuilder(s.Length);
        foreach (char c in s)
        {
            if (c is '\n' or '\r' or '\t') sb.Append(' ');
            else if (!char.IsControl(c)) sb.Append(c);
        }
        return sb.ToString().Trim();
    }

    /// <summary>Walks a pcapng option list (§3.5). Stops at opt_endofopt or at the first malformed option (the rest of
    /// an option list is not needed to read packets, so a bad one is not worth rejecting the block for).</summary>
    private ref struct OptionReader(ReadOnlySpan<byte> options, bool bigEndian)
    {
        private ReadOnlySpan<byte> _rest = options;

        public bool TryNext(out ushort code, out ReadOnlySpan<byte> value)
        {
            value = default;
            code = 0;
            if (_rest.Length < 4) return false;
            code = U16(_rest, bigEndian);
            int length = U16(_rest[2..], bigEndian);
            if (code == OptEndOfOpt || 4 + length > _rest.Length) return false;
            value = _rest.Slice(4, length);
            int padded = 4 + ((length + 3) & ~3);
            _rest = padded >= _rest.Length ? default : _rest[padded..];
            return true;
        }
    }
}
