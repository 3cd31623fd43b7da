namespace PathProbe.Decoding;

/// <summary>Counters kept by the decoder. Plain fields and one array: incrementing never allocates.</summary>
public sealed class DecodeCounters
{
    private readonly long[] _malformed = new long[(int)MalformedReason.Count];
    private readonly Dictionary<int, long> _unsupportedLinkTypes = new();
    private readonly long[] _undecoded = new long[(int)UndecodedReason.Count];
    // (reason << 16 | detail) -> frames; bounded so crafted traffic cannot grow it (the rest is counted in _undecoded only).
    private readonly Dictionary<int, long> _undecodedDetail = new();
    private readonly long[] _layers = new long[(int)EncapsulationLayer.Count];
    /// <summary>Distinct (reason, detail) pairs kept for the report.</summary>
    public const int MaxUndecodedDetails = 64;

    public long Frames;
    public long IpPackets;
    public long NotIp;
    public long Ipv4ChecksumErrors;
    /// <summary>Frames whose captured length is smaller than their wire length (snap length cut).</summary>
    public long SnapTruncated;

    public void CountMalformed(MalformedReason reason) => _malformed[(int)reason]++;
    public long Malformed(MalformedReason reason) => _malformed[(int)reason];
    public long MalformedTotal { get { long t = 0; foreach (long v in _malformed) t += v; return t; } }

    public void CountUnsupportedLinkType(int linkType) =>
        _unsupportedLinkTypes[linkType] = _unsupportedLinkTypes.GetValueOrDefault(linkType) + 1;

    public IReadOnlyDictionary<int, long> UnsupportedLinkTypes => _unsupportedLinkTypes;
    public long UnsupportedTotal { get { long t = 0; foreach (var v in _unsupportedLinkTypes.Values) t += v; return t; } }

    /// <summary>Frames whose IP packet was found inside an encapsulation (anything beyond VLAN tags on the capture link).</summary>
    public long Decapsulated;
    /// <summary>PPPoE discovery frames (EtherType 0x8863: PADI, PADO, PADR, PADS, PADT); also counted in <see cref="NotIp"/>.</summary>
    public long PppoeDiscovery;
    /// <summary>PPP control frames (LCP, IPCP, IPv6CP, PAP, CHAP, ...) on PPPoE, PPTP or PPP links; also in <see cref="NotIp"/>.</summary>
    public long PppControl;

    /// <summary>A frame with a valid encapsulation PathProbe does not look into; <paramref name="detail"/> is e.g. the
    /// GRE protocol type (0 when there is none).</summary>
    public void CountUndecoded(UndecodedReason reason, int detail = 0)
    {
        _undecoded[(int)reason]++;
        int key = (int)reason << 16 | (detail & 0xFFFF);
        if (_undecodedDetail.TryGetValue(key, out long n)) _undecodedDetail[key] = n + 1;
        else if (_undecodedDetail.Count < MaxUndecodedDetails) _undecodedDetail[key] = 1;
    }

    public long Undecoded(UndecodedReason reason) => _undecoded[(int)reason];
    public long UndecodedTotal { get { long t = 0; foreach (long v in _undecoded) t += v; return t; } }

    /// <summary>Non-zero undecoded counters by stable name.</summary>
    public IEnumerable<KeyValuePair<string, long>> UndecodedByName()
    {
        for (int i = 1; i < _undecoded.Length; i++)
            if (_undecoded[i] != 0) yield return new(UndecodedReasons.Name((UndecodedReason)i), _undecoded[i]);
    }

    /// <summary>The first <see cref="MaxUndecodedDetails"/> distinct (reason, detail) pairs seen, with their frames.</summary>
    public IEnumerable<(UndecodedReason Reason, int Detail, long Frames)> UndecodedDetails() =>
        _undecodedDetail.Select(kv => ((UndecodedReason)(kv.Key >> 16), kv.Key & 0xFFFF, kv.Value));

    /// <summary>Counts each layer kind once per decapsulated frame.</summary>
    internal void CountLayers(in Encapsulation e)
    {
        ulong seen = 0;
        for (int i = 0; i < e.Depth; i++)
        {
            int k = (int)e[i];
            if ((seen & (1UL << k)) == 0) { seen |= 1UL << k; _layers[k]++; }
        }
    }

    /// <summary>Frames with at least one layer of this kind (decoded frames only).</summary>
    public long FramesWithLayer(EncapsulationLayer layer) => _layers[(int)layer];

    /// <summary>Non-zero layer counts by stable name, in layer order.</summary>
    public IEnumerable<KeyValuePair<string, long>> LayersByName()
    {
        for (int i = 1; i < _layers.Length; i++)
            if (_layers[i] != 0) yield return new(Encapsulation.LayerName((EncapsulationLayer)i), _layers[i]);
    }

    /// <summary>Non-zero malformed counters by stable name.</summary>
    public IEnumerable<KeyValuePair<string, long>> MalformedByName()
    {
        for (int i = 1; i < _malformed.Length; i++)
            if (_malformed[i] != 0) yield return new(MalformedReasons.Name((MalformedReason)i), _malformed[i]);
    }
}
