using System.Buffers.Binary;

namespace PathProbe.Decoding;

/// <summary>
/// TCP header and the options PathProbe uses (RFC 9293 3.1, 3.2; RFC 7323; RFC 2018).
/// <see cref="Payload"/> is a slice of the input and valid as long as the input is.
/// </summary>
internal ref struct TcpReader
{
    public const int MinHeaderLength = 20;
    private const int SrcPortOffset = 0;
    private const int DstPortOffset = 2;
    private const int SeqOffset = 4;
    private const int AckOffset = 8;
    private const int DataOffsetOffset = 12; // data offset(4) reserved(3) AE(1)
    private const int FlagsOffset = 13;      // CWR ECE URG ACK PSH RST SYN FIN
    private const int WindowOffset = 14;
    private const byte AeBit = 0x01;

    private const byte OptionEndOfList = 0;
    private const byte OptionNop = 1;
    private const byte OptionMss = 2;
    private const byte OptionWindowScale = 3;
    private const byte OptionSackPermitted = 4;
    private const byte OptionSack = 5;
    private const byte OptionTimestamps = 8;
    private const int MssLength = 4;
    private const int WindowScaleLength = 3;
    private const int SackPermittedLength = 2;
    private const int SackBlockLength = 8;
    private const int MaxSackBlocks = 4;
    private const int TimestampsLength = 10;
    /// <summary>RFC 7323 2.3: a larger shift MUST be treated as 14.</summary>
    private const int MaxWindowScale = 14;

    public ushort SrcPort;
    public ushort DstPort;
    public uint Seq;
    public uint Ack;
    public int HeaderLength;
    public TcpFlags Flags;
    public ushort Window;
    public TcpOptions Options;
    /// <summary>False when an option had an impossible length; options after it were not read.</summary>
    public bool OptionsValid;
    public ReadOnlySpan<byte> Payload;
    public int PayloadWireLength;

    /// <param name="segment">The IP payload as captured.</param>
    /// <param name="wireLength">The IP payload length per the IP header.</param>
    public MalformedReason Read(ReadOnlySpan<byte> segment, int wireLength)
    {
        if (segment.Length < MinHeaderLength) return MalformedReason.TruncatedTcpHeader;
        HeaderLength = (segment[DataOffsetOffset] >> 4) * 4;
        if (HeaderLength < MinHeaderLength || HeaderLength > wireLength) return MalformedReason.BadTcpDataOffset;
        if (HeaderLength > segment.Length) return MalformedReason.TruncatedTcpHeader;

        SrcPort = BinaryPrimitives.ReadUInt16BigEndian(segment.Slice(SrcPortOffset));
        DstPort = BinaryPrimitives.ReadUInt16BigEndian(segment.Slice(DstPortOffset));
        Seq = BinaryPrimitives.ReadUInt32BigEndian(segment.Slice(SeqOffset));
        Ack = BinaryPrimitives.ReadUInt32BigEndian(segment.Slice(AckOffset));
        Flags = (TcpFlags)(segment[FlagsOffset] | (segment[DataOffsetOffset] & AeBit) << 8);
        Window = BinaryPrimitives.ReadUInt16BigEndian(segment.Slice(WindowOffset));
        Options.WindowScale = -1;
        OptionsValid = HeaderLength == MinHeaderLength || ReadOptions(segment.Slice(MinHeaderLength, HeaderLength - MinHeaderLength), ref Options);

        Payload = segment.Slice(HeaderLength);
        PayloadWireLength = wireLength - HeaderLength;
        return MalformedReason.None;
    }

    /// <summary>RFC 9293 3.2. Stops at the first option whose length is impossible (shorter than 2, past the header,
    /// or wrong for its kind): after that the option boundaries are unknown, but the segment itself is fine.</summary>
    private static bool ReadOptions(ReadOnlySpan<byte> options, ref TcpOptions o)
    {
        int i = 0;
        while (i < options.Length)
        {
            byte kind = options[i];
            if (kind == OptionEndOfList) return true;
            if (kind == OptionNop) { i++; continue; }
            if (i + 1 >= options.Length) return false;
            int length = options[i + 1];
            if (length < 2 || i + length > options.Length) return false;
            ReadOnlySpan<byte> value = options.Slice(i + 2, length - 2);
            switch (kind)
            {
                case OptionMss:
                    if (length != MssLength) return false;
                    o.Mss = BinaryPrimitives.ReadUInt16BigEndian(value);
                    break;
                case OptionWindowScale:
                    if (length != WindowScaleLength) return false;
                    o.WindowScale = (sbyte)Math.Min((int)value[0], MaxWindowScale);
                    break;
                case OptionSackPermitted:
                    if (length != SackPermittedLength) return false;
                    o.SackPermitted = true;
                    break;
                case OptionSack:
                {
                    int blocks = value.Length / SackBlockLength;
                    if (blocks == 0 || blocks > MaxSackBlocks || value.Length % SackBlockLength != 0) return false;
                    for (int b = 0; b < blocks * 2; b++)
                        o.Sack[b] = BinaryPrimitives.ReadUInt32BigEndian(value.Slice(b * 4));
                    o.SackBlockCount = (byte)blocks;
                    break;
                }
                case OptionTimestamps:
                    if (length != TimestampsLength) return false;
                    o.HasTimestamps = true;
                    o.TsVal = BinaryPrimitives.ReadUInt32BigEndian(value);
                    o.TsEcr = BinaryPrimitives.ReadUInt32BigEndian(value.Slice(4));
                    break;
                // Others (MD5 19, MPTCP 30, TFO 34, AccECN 172/174, ...) are skipped by their length.
            }
            i += length;
        }
        return true;
    }
}
