namespace PathProbe.Decoding;

/// <summary>Counters kept by the decoder. Plain fields and one array: incrementing never allocates.</summary>
public sealed class DecodeCounters
{
    private readonly long[] _malformed = new long[(int)MalformedReason.Count];
    private readonly Dictionary<int, long> _unsupportedLinkTypes = new();

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

    /// <summary>Non-zero malformed counters by stable name.</summary>
    public IEnumerable<KeyValuePair<string, long>> MalformedByName()
    {
        for (int i = 1; i < _malformed.Length; i++)
            if (_malformed[i] != 0) yield return new(MalformedReasons.Name((MalformedReason)i), _malformed[i]);
    }
}
