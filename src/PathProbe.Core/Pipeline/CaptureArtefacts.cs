using PathProbe.Findings;

namespace PathProbe.Pipeline;

/// <summary>
/// Capture drops are not path loss (issue 13 item 6). After the analysis, a finding that rests on packets missing
/// (a stall, a black hole, a storm, a lost fragment, an unanswered query or SYN, a session cut off) is marked as a
/// possible artefact of the capture when the capture itself lost packets near its time (a drop window of the pcapng
/// interface statistics or of pcap_stats, within <see cref="SlackNanos"/>), or when the receiver in its flows
/// acknowledged data the capture never saw. A marked finding is never critical, so it never decides the exit status.
/// </summary>
public static class CaptureArtefacts
{
    /// <summary>How far from a drop window a finding's time may lie and still rest on packets dropped in it: an RTO
    /// back-off and the stall detector's threshold are about a second.</summary>
    public const long SlackNanos = 2_000_000_000;

    public static bool RestsOnMissingPackets(FindingKind kind) => kind is FindingKind.Stall or FindingKind.ConnectTimeout
        or FindingKind.RetransmissionStorm or FindingKind.MtuBlackhole or FindingKind.MssMismatch or FindingKind.DnsTimeout
        or FindingKind.FragmentLoss or FindingKind.SmtpAborted;

    public static void Mark(FindingLog log, CaptureDrops? drops, IReadOnlyDictionary<int, (long Count, long First, long Last)> ackedUnseenByFlow)
    {
        bool dropped = drops is { Dropped: > 0 } && drops.Windows.Count > 0;
        if (!dropped && ackedUnseenByFlow.Count == 0) return;
        log.MarkCaptureArtefacts(v =>
        {
            if (!RestsOnMissingPackets(v.Kind)) return null;
            long near = 0;
            if (dropped)
            {
                long t = v.Time.UnixNanoseconds;
                foreach (var w in drops!.Windows)
                    if (t >= w.From.UnixNanoseconds - SlackNanos && t <= w.To.UnixNanoseconds + SlackNanos) near += w.Dropped;
            }
            long acked = 0, t0 = v.Time.UnixNanoseconds;
            foreach (var f in v.Flows)
                if (ackedUnseenByFlow.TryGetValue(f.Id, out var a) && t0 >= a.First - SlackNanos && t0 <= a.Last + SlackNanos) acked += a.Count;
            if (near == 0 && acked == 0) return null;
            return new CaptureArtefact { Dropped = near, DropSource = near > 0 ? drops!.Source : null, AckedUnseen = acked };
        });
    }
}
