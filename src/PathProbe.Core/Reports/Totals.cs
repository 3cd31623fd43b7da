using PathProbe.Decoding.Reassembly;
using PathProbe.Pipeline;

namespace PathProbe.Reports;

/// <summary>Counters summed over several inputs, for the report's "stats".</summary>
public sealed class Totals
{
    public long Packets, Decoded, NotIp, SnapTruncated, Ipv4ChecksumErrors, Flows, FlowsEvicted, FlowsNotReported, FragmentsHeld;
    public SortedDictionary<string, long> Malformed { get; } = new(StringComparer.Ordinal);
    public SortedDictionary<int, long> Unsupported { get; } = new();
    public ReassemblyCounters Fragments { get; } = new();
    public long MalformedTotal => Malformed.Values.Sum();
    public long UnsupportedTotal => Unsupported.Values.Sum();

    public static Totals Of(IReadOnlyList<CaptureAnalysis> analyses)
    {
        var t = new Totals();
        foreach (var a in analyses)
        {
            t.Packets += a.Input.Packets;
            t.Decoded += a.Decoded;
            t.NotIp += a.Decode.NotIp;
            t.SnapTruncated += a.Decode.SnapTruncated;
            t.Ipv4ChecksumErrors += a.Decode.Ipv4ChecksumErrors;
            t.Flows += a.Flows.Count + a.FlowsNotReported;
            t.FlowsEvicted += a.FlowsEvicted;
            t.FlowsNotReported += a.FlowsNotReported;
            t.FragmentsHeld += a.FragmentsHeld;
            foreach (var kv in a.Decode.MalformedByName()) t.Malformed[kv.Key] = t.Malformed.GetValueOrDefault(kv.Key) + kv.Value;
            foreach (var kv in a.Decode.UnsupportedLinkTypes) t.Unsupported[kv.Key] = t.Unsupported.GetValueOrDefault(kv.Key) + kv.Value;
            var f = a.Fragments;
            t.Fragments.Fragments += f.Fragments;
            t.Fragments.Completed += f.Completed;
            t.Fragments.TimedOut += f.TimedOut;
            t.Fragments.OpenAtEnd += f.OpenAtEnd;
            t.Fragments.Overlaps += f.Overlaps;
            t.Fragments.Duplicates += f.Duplicates;
            t.Fragments.Oversize += f.Oversize;
            t.Fragments.DroppedMemoryBound += f.DroppedMemoryBound;
            t.Fragments.Inconsistent += f.Inconsistent;
            t.Fragments.TooManyFragments += f.TooManyFragments;
            t.Fragments.BadFragments += f.BadFragments;
            t.Fragments.AtomicFragments += f.AtomicFragments;
        }
        return t;
    }
}
