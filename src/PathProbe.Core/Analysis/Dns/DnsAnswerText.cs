using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using PathProbe.Primitives;
using PathProbe.Protocols.Dns;

namespace PathProbe.Analysis.Dns;

/// <summary>
/// The answer records of a response as the report lists them ("MX 10 mx.example.test", at most
/// <see cref="DnsOptions.MaxRecordsListed"/>, each at most <see cref="MaxChars"/> characters then "…"), made per answer
/// without allocating: the text is written straight from the message into a scratch buffer, only as far as the
/// report shows it, and kept in a <see cref="DnsTextArena"/>; strings are made when a report reads
/// <see cref="DnsResponseInfo.Records"/>. The text is the one <see cref="DnsMessage.Decode"/> and
/// <see cref="DnsRecord.Describe"/> give, cleaned by <see cref="SafeText"/> (names are escaped, TXT strings decoded as
/// UTF-8 with unsafe characters escaped), and, as there, nothing is listed when any record of the message is malformed
/// (<c>DnsAnswerTextTests</c> compares both on every bundled capture and on crafted messages).
/// </summary>
internal static class DnsAnswerText
{
    /// <summary>Characters of one record's text the report shows; a longer one is cut there and ends with "…".</summary>
    public const int MaxChars = 160;

    /// <summary>Scratch characters needed for <paramref name="maxRecords"/> records (each: its text, one more
    /// character to know it was longer).</summary>
    public static int ScratchLength(int maxRecords) => Math.Max(1, maxRecords) * (MaxChars + 1);

    /// <summary>
    /// Writes the first <paramref name="maxRecords"/> answer records' texts into <paramref name="scratch"/> (their
    /// lengths into <paramref name="lengths"/>) and checks every other record as <see cref="DnsMessage.Decode"/> does.
    /// Returns <see cref="DnsStatus.Ok"/> and the records listed and not listed, or the status that makes the message
    /// malformed (then nothing is listed).
    /// </summary>
    public static DnsStatus Describe(ReadOnlySpan<byte> msg, int maxRecords, Span<char> scratch, Span<int> lengths,
        out int listed, out int notListed) => Describe(msg, maxRecords, scratch, lengths, out listed, out notListed, out _);

    /// <summary>As above, also measuring the answer section's TXT and SPF records (every one, listed or not): what
    /// makes an answer large enough to fragment. <paramref name="txt"/> is empty when the message is malformed.</summary>
    public static DnsStatus Describe(ReadOnlySpan<byte> msg, int maxRecords, Span<char> scratch, Span<int> lengths,
        out int listed, out int notListed, out DnsTxtStats txt)
    {
        listed = 0; notListed = 0; txt = default;
        var r = new DnsReader(msg);
        var status = r.ReadHeader(out _);
        if (status != DnsStatus.Ok) return status;
        while (r.HasQuestions)
        {
            status = r.ReadQuestion(out _);
            if (status != DnsStatus.Ok) return status;
        }
        Span<byte> name = stackalloc byte[DnsReader.MaxNameLength + 1];
        Span<byte> name2 = stackalloc byte[DnsReader.MaxNameLength + 1];
        bool edns = false;
        int used = 0;
        while (true)
        {
            status = r.ReadRecord(out var rr);
            if (status == DnsStatus.End) return DnsStatus.Ok;
            if (status != DnsStatus.Ok) { listed = notListed = 0; txt = default; return status; }
            DnsReader.ReadName(msg, rr.NameOffset, name, out int ownerLength);
            status = Check(msg, rr, name, name2);
            if (status != DnsStatus.Ok) { listed = notListed = 0; txt = default; return status; }
            if (rr.Type == DnsType.OPT)
            {
                if (edns || rr.Section != DnsSection.Additional || ownerLength != 1) { listed = notListed = 0; txt = default; return DnsStatus.BadOpt; }
                edns = true;
            }
            if (rr.Section != DnsSection.Answer) continue;
            if (rr.Type is DnsType.TXT or DnsType.SPF) txt.Add(msg.Slice(rr.RdataOffset, rr.RdataLength));
            if (listed >= maxRecords) { notListed++; continue; }
            var w = new CappedWriter(scratch.Slice(used, MaxChars + 1));
            w.Append(DnsTypeNames.Of(rr.Type));
            w.Append(' ');
            Write(ref w, msg, rr, name, name2);
            int n = w.Length;
            lengths[listed++] = n;
            used += n;
        }
    }

    /// <summary>The RDATA checks of <see cref="DnsMessage.DecodeRdata"/>, without allocating.</summary>
    private static DnsStatus Check(ReadOnlySpan<byte> msg, in DnsRecordView rr, Span<byte> name, Span<byte> name2)
    {
        var rd = msg.Slice(rr.RdataOffset, rr.RdataLength);
        int end = rr.RdataOffset + rr.RdataLength;
        DnsStatus st;
        switch (rr.Type)
        {
            case DnsType.A or DnsType.AAAA:
                return DnsReader.ReadAddress(msg, rr, out _);
            case DnsType.NS or DnsType.CNAME or DnsType.PTR:
                st = DnsReader.ReadRdataName(msg, rr, rr.RdataOffset, name, out _, out int next);
                return st != DnsStatus.Ok ? st : next != end ? DnsStatus.BadRdata : DnsStatus.Ok;
            case DnsType.MX:
                if (rd.Length < 3) return DnsStatus.BadRdata;
                st = DnsReader.ReadRdataName(msg, rr, rr.RdataOffset + 2, name, out _, out next);
                return st != DnsStatus.Ok ? st : next != end ? DnsStatus.BadRdata : DnsStatus.Ok;
            case DnsType.TXT or DnsType.SPF:
                return DnsReader.CountTxtStrings(rd, out _, out _) != DnsStatus.Ok ? DnsStatus.BadRdata : DnsStatus.Ok;
            case DnsType.SOA:
                st = DnsReader.ReadRdataName(msg, rr, rr.RdataOffset, name, out _, out next);
                if (st != DnsStatus.Ok) return st;
                st = DnsReader.ReadRdataName(msg, rr, next, name2, out _, out next);
                if (st != DnsStatus.Ok) return st;
                return end - next != 20 ? DnsStatus.BadRdata : DnsStatus.Ok;
            case DnsType.SRV:
                if (rd.Length < 7) return DnsStatus.BadRdata;
                st = DnsReader.ReadRdataName(msg, rr, rr.RdataOffset + 6, name, out _, out next);
                return st != DnsStatus.Ok ? st : next != end ? DnsStatus.BadRdata : DnsStatus.Ok;
            case DnsType.OPT:
                return DnsReader.OptionsTile(rd) ? DnsStatus.Ok : DnsStatus.BadOpt;
            default:
                return DnsStatus.Ok;
        }
    }

    /// <summary><see cref="DnsRecord.Describe"/> of a record already checked by <see cref="Check"/>.</summary>
    private static void Write(ref CappedWriter w, scoped ReadOnlySpan<byte> msg, in DnsRecordView rr, scoped Span<byte> name, scoped Span<byte> name2)
    {
        var rd = msg.Slice(rr.RdataOffset, rr.RdataLength);
        int n;
        switch (rr.Type)
        {
            case DnsType.A or DnsType.AAAA:
                DnsReader.ReadAddress(msg, rr, out var addr);
                WriteAddress(ref w, addr);
                return;
            case DnsType.NS or DnsType.CNAME or DnsType.PTR:
                DnsReader.ReadRdataName(msg, rr, rr.RdataOffset, name, out n, out _);
                WriteName(ref w, name[..n]);
                return;
            case DnsType.MX:
                w.Append(BinaryPrimitives.ReadUInt16BigEndian(rd));
                w.Append(' ');
                DnsReader.ReadRdataName(msg, rr, rr.RdataOffset + 2, name, out n, out _);
                WriteName(ref w, name[..n]);
                return;
            case DnsType.TXT or DnsType.SPF:
            {
                Span<char> chars = stackalloc char[256];
                for (int p = 0, i = 0; p < rd.Length && !w.Full; i++)
                {
                    int len = rd[p];
                    if (i > 0) w.Append(' ');
                    w.Append('"');
                    int c = Encoding.UTF8.GetChars(rd.Slice(p + 1, len), chars);
                    // Printable ASCII (most TXT and SPF text) needs no escape: copied at once.
                    if (!chars[..c].ContainsAnyExceptInRange(' ', '~')) w.Append(chars[..c]);
                    else foreach (char ch in chars[..c]) w.AppendSafe(ch);
                    w.Append('"');
                    p += 1 + len;
                }
                return;
            }
            case DnsType.SOA:
            {
                DnsReader.ReadRdataName(msg, rr, rr.RdataOffset, name, out int n1, out int next);
                DnsReader.ReadRdataName(msg, rr, next, name2, out int n2, out next);
                var f = msg.Slice(next, 20);
                WriteName(ref w, name[..n1]);
                w.Append(' ');
                WriteName(ref w, name2[..n2]);
                for (int i = 0; i < 5; i++)
                {
                    w.Append(' ');
                    w.Append(BinaryPrimitives.ReadUInt32BigEndian(f[(i * 4)..]));
                }
                return;
            }
            case DnsType.SRV:
                w.Append(BinaryPrimitives.ReadUInt16BigEndian(rd)); w.Append(' ');
                w.Append(BinaryPrimitives.ReadUInt16BigEndian(rd[2..])); w.Append(' ');
                w.Append(BinaryPrimitives.ReadUInt16BigEndian(rd[4..])); w.Append(' ');
                DnsReader.ReadRdataName(msg, rr, rr.RdataOffset + 6, name, out n, out _);
                WriteName(ref w, name[..n]);
                return;
            case DnsType.OPT:
                w.Append("udp="); w.Append((uint)rr.OptUdpPayloadSize);
                w.Append(" do="); w.Append(rr.OptDnssecOk ? 1u : 0u);
                w.Append(" version="); w.Append((uint)rr.OptVersion);
                return;
            default:
                w.Append('(');
                w.Append((uint)rr.RdataLength);
                w.Append(" bytes)");
                return;
        }
    }

    private static void WriteAddress(ref CappedWriter w, IpAddress a)
    {
        Span<byte> b = stackalloc byte[16];
        a.WriteTo(b);
        if (a.IsV4)
        {
            for (int i = 12; i < 16; i++)
            {
                if (i > 12) w.Append('.');
                w.Append(b[i]);
            }
            return;
        }
        // IPv6 text (RFC 5952) as System.Net formats it; AAAA answers are the one place a record allocates (an
        // IPAddress to format, 56 bytes).
        Span<char> text = stackalloc char[64];
        if (new System.Net.IPAddress(b).TryFormat(text, out int n)) w.Append(text[..n]);
    }

    /// <summary><see cref="DnsName.ToText"/>: presentation form, escaped, printable ASCII only (SafeText leaves it as it is).</summary>
    private static void WriteName(ref CappedWriter w, scoped ReadOnlySpan<byte> wire)
    {
        if (wire.Length == 0 || wire[0] == 0) { w.Append('.'); return; }
        int p = 0;
        bool first = true;
        Span<char> escaped = stackalloc char[4];
        while (p < wire.Length && wire[p] != 0 && !w.Full)
        {
            int n = wire[p];
            if (p + 1 + n > wire.Length) break;
            if (!first) w.Append('.');
            first = false;
            foreach (byte b in wire.Slice(p + 1, n))
            {
                int k = DnsName.Escape(b, escaped);
                for (int i = 0; i < k; i++) w.Append(escaped[i]);
            }
            p += 1 + n;
        }
    }

    /// <summary>Writes up to <see cref="MaxChars"/> characters; past that one more marks the text as longer, which
    /// <see cref="Length"/> then turns into "…" (as <see cref="SafeText.Clean"/> cuts).</summary>
    private ref struct CappedWriter(Span<char> buffer)
    {
        private readonly Span<char> _buffer = buffer;
        private int _n;

        public readonly bool Full => _n > MaxChars;

        /// <summary>The text's length in the buffer, after turning an overflow into "…".</summary>
        public int Length
        {
            get
            {
                if (_n > MaxChars) { _buffer[MaxChars] = '…'; return MaxChars + 1; }
                return _n;
            }
        }

        public void Append(char c)
        {
            if (_n <= MaxChars) _buffer[_n++] = c;
        }

        public void Append(scoped ReadOnlySpan<char> s)
        {
            int n = Math.Min(s.Length, MaxChars + 1 - _n);
            if (n <= 0) return;
            s[..n].CopyTo(_buffer[_n..]);
            _n += n;
        }

        public void Append(uint v)
        {
            Span<char> d = stackalloc char[10];
            v.TryFormat(d, out int n, default, CultureInfo.InvariantCulture);
            Append(d[..n]);
        }

        /// <summary>A character of text from the wire, escaped as <see cref="SafeText.Clean"/> does when unsafe.</summary>
        public void AppendSafe(char c)
        {
            if (!SafeText.IsUnsafe(c)) { Append(c); return; }
            Append('\\'); Append('x');
            Span<char> hex = stackalloc char[4];
            ((int)c).TryFormat(hex, out int n, c > 0xFF ? "x4" : "x2", CultureInfo.InvariantCulture);
            Append(hex[..n]);
        }
    }
}

/// <summary>Names of record types as <see cref="DnsTransaction.TypeName"/> gives them, made once.</summary>
internal static class DnsTypeNames
{
    private static readonly string[] Known = Build();

    private static string[] Build()
    {
        var names = new string[256];
        foreach (var t in Enum.GetValues<DnsType>())
            if ((ushort)t < names.Length) names[(ushort)t] = t.ToString();
        return names;
    }

    public static string Of(DnsType t) => (ushort)t < Known.Length && Known[(ushort)t] is { } s ? s : DnsTransaction.TypeName(t);
}

/// <summary>
/// The record texts of one analysis' answers, kept as characters in 64 KiB chunks (one byte per character when all of
/// a response's text is ASCII) instead of a string per record; strings are made when a report asks. A response whose
/// texts are those of a response stored before (the same records in the same order: a resolver asking the same names
/// again, a retry, the same SPF record for every client) shares the stored copy: a table of <see cref="RecentSlots"/>
/// recently stored texts, by hash, is checked byte for byte before a copy is shared. Grows with the distinct answers
/// of the transactions kept (<see cref="DnsOptions.MaxTransactions"/>), never per packet.
/// </summary>
public sealed class DnsTextArena
{
    // Under the runtime's large-object threshold (85,000 bytes): chunks of 256 KiB went to the large-object heap, whose
    // allocations count toward full collections (benchmark set (c): 4 full collections instead of 3, a peak 10 MB higher).
    private const int ChunkBytes = 64 * 1024;
    /// <summary>Stored texts remembered for sharing (a slot per hash, the newest wins): 20 bytes a slot, 320 KiB of
    /// table, made with the first answer that has texts.</summary>
    internal const int RecentSlots = 16 * 1024;
    private readonly List<byte[]> _chunks = new(16);
    private int _used = ChunkBytes;
    private byte[] _encoded = new byte[1024];
    private Recent[]? _recent;

    private struct Recent
    {
        public int Hash, Chunk, Offset, Bytes;
        public byte Count;
        public bool Ascii;
    }

    /// <summary>Bytes held (the chunks' sizes).</summary>
    public long Bytes { get; private set; }

    /// <summary>Responses whose texts were already stored, and shared instead of stored again.</summary>
    public long Shared { get; private set; }

    /// <summary>Stores <paramref name="count"/> texts that lie one after the other in <paramref name="chars"/>.</summary>
    internal DnsRecordTexts Add(ReadOnlySpan<char> chars, ReadOnlySpan<int> lengths, int count)
    {
        if (count == 0) return default;
        int total = 0;
        for (int i = 0; i < count; i++) total += lengths[i];
        chars = chars[..total];
        bool ascii = System.Text.Ascii.IsValid(chars);
        int bytes = count * 2 + (ascii ? total : total * 2);
        if (_encoded.Length < bytes) _encoded = new byte[Math.Max(bytes, _encoded.Length * 2)];
        var enc = _encoded.AsSpan(0, bytes);
        int at = 0, from = 0;
        for (int i = 0; i < count; i++)
        {
            int n = lengths[i];
            BinaryPrimitives.WriteUInt16LittleEndian(enc[at..], (ushort)n);
            at += 2;
            var text = chars.Slice(from, n);
            if (ascii)
            {
                System.Text.Ascii.FromUtf16(text, enc.Slice(at, n), out _); // checked ASCII above: one byte a character
                at += n;
            }
            else
            {
                System.Runtime.InteropServices.MemoryMarshal.AsBytes(text).CopyTo(enc[at..]);
                at += n * 2;
            }
            from += n;
        }

        // The same texts stored before: share them.
        int hash = Hash(enc, count, ascii);
        _recent ??= new Recent[RecentSlots];
        ref var slot = ref _recent[hash & (RecentSlots - 1)];
        if (slot.Bytes == bytes && slot.Hash == hash && slot.Count == count && slot.Ascii == ascii && _chunks[slot.Chunk].AsSpan(slot.Offset, bytes).SequenceEqual(enc))
        {
            Shared++;
            return new DnsRecordTexts(this, slot.Chunk, slot.Offset, (byte)count, ascii);
        }

        if (_used + bytes > ChunkBytes)
        {
            _chunks.Add(new byte[Math.Max(ChunkBytes, bytes)]);
            Bytes += _chunks[^1].Length;
            _used = 0;
        }
        int chunk = _chunks.Count - 1;
        int start = _used;
        enc.CopyTo(_chunks[chunk].AsSpan(start, bytes));
        _used += bytes;
        slot = new Recent { Hash = hash, Chunk = chunk, Offset = start, Bytes = bytes, Count = (byte)count, Ascii = ascii };
        return new DnsRecordTexts(this, chunk, start, (byte)count, ascii);
    }

    /// <summary>A hash of the encoded texts: their length, count and encoding, and their first and last 64 bytes
    /// (a match is then compared in full).</summary>
    private static int Hash(ReadOnlySpan<byte> enc, int count, bool ascii)
    {
        var h = new HashCode();
        h.Add(enc.Length);
        h.Add(count);
        h.Add(ascii);
        h.AddBytes(enc[..Math.Min(64, enc.Length)]);
        if (enc.Length > 64) h.AddBytes(enc[Math.Max(64, enc.Length - 64)..]);
        return h.ToHashCode();
    }

    internal void WriteJson(in DnsRecordTexts t, System.Text.Json.Utf8JsonWriter w)
    {
        var src = _chunks[t.Chunk].AsSpan(t.Offset);
        int at = 0;
        for (int i = 0; i < t.Count; i++)
        {
            var text = Next(src, ref at, t.Ascii);
            if (t.Ascii) w.WriteStringValue(text); // ASCII is UTF-8
            else w.WriteStringValue(System.Runtime.InteropServices.MemoryMarshal.Cast<byte, char>(text));
        }
    }

    internal string[] Read(in DnsRecordTexts t)
    {
        var result = new string[t.Count];
        var src = _chunks[t.Chunk].AsSpan(t.Offset);
        int at = 0;
        for (int i = 0; i < t.Count; i++)
        {
            var text = Next(src, ref at, t.Ascii);
            result[i] = t.Ascii ? Encoding.ASCII.GetString(text) : new string(System.Runtime.InteropServices.MemoryMarshal.Cast<byte, char>(text));
        }
        return result;
    }

    /// <summary>The bytes of the text at <paramref name="at"/> (its 2-byte length, then one byte a character when
    /// <paramref name="ascii"/>, else two), moving <paramref name="at"/> past it.</summary>
    private static ReadOnlySpan<byte> Next(ReadOnlySpan<byte> src, ref int at, bool ascii)
    {
        int n = BinaryPrimitives.ReadUInt16LittleEndian(src[at..]);
        if (!ascii) n *= 2;
        var text = src.Slice(at + 2, n);
        at += 2 + n;
        return text;
    }
}

/// <summary>Where one response's record texts lie in its <see cref="DnsTextArena"/>.</summary>
internal readonly record struct DnsRecordTexts(DnsTextArena? Arena, int Chunk, int Offset, byte Count, bool Ascii)
{
    public IReadOnlyList<string> Read() => Arena is null || Count == 0 ? Array.Empty<string>() : Arena.Read(this);

    /// <summary>Writes each text as a JSON string value, straight from the arena (no string made).</summary>
    public void WriteJson(System.Text.Json.Utf8JsonWriter w)
    {
        if (Arena is null || Count == 0) return;
        Arena.WriteJson(this, w);
    }
}

/// <summary>The TXT and SPF records of an answer section: how many, their text bytes together, and the largest one
/// (text bytes, and whether its text starts "v=spf1", case-insensitively, as RFC 7208 §4.5 selects SPF records).</summary>
public struct DnsTxtStats
{
    public int Records;
    public int Bytes;
    public int LargestBytes;
    public bool LargestIsSpf;

    /// <summary>Adds one record's RDATA (already checked: its character-strings fit).</summary>
    internal void Add(ReadOnlySpan<byte> rdata)
    {
        if (DnsReader.CountTxtStrings(rdata, out _, out int bytes) != DnsStatus.Ok) return;
        Records++;
        Bytes += bytes;
        if (bytes <= LargestBytes) return;
        LargestBytes = bytes;
        // The strings joined without separator (RFC 7208 §3.3): the first six text bytes, across string boundaries.
        Span<byte> head = stackalloc byte[6];
        int got = 0;
        for (int p = 0; p < rdata.Length && got < head.Length; )
        {
            int n = rdata[p];
            var part = rdata.Slice(p + 1, Math.Min(n, head.Length - got));
            part.CopyTo(head[got..]);
            got += part.Length;
            p += 1 + n;
        }
        LargestIsSpf = got == head.Length && System.Text.Ascii.EqualsIgnoreCase(head, "v=spf1"u8);
    }
}
