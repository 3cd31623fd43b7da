namespace PathProbe.Findings;

/// <summary>Why a finding may be an artefact of the capture rather than loss on the path (issue 13 item 6): the
/// capture itself dropped packets around the time the finding's packets went missing (pcapng interface statistics or
/// libpcap's pcap_stats), or the receiver acknowledged data of the finding's flows that the capture never saw.</summary>
public sealed record CaptureArtefact
{
    /// <summary>Packets the capture dropped in the drop windows near the finding (0 when only ACKs show the loss).</summary>
    public long Dropped { get; init; }
    /// <summary>Where the drop counts come from ("pcapng interface statistics", "pcap_stats"), null without drops.</summary>
    public string? DropSource { get; init; }
    /// <summary>ACKs in the finding's flows for data the capture never saw (flows whose handshake is in the capture).</summary>
    public long AckedUnseen { get; init; }

    /// <summary>"possible capture artefact: the capture itself dropped 1,234 packets around then (pcap_stats)".</summary>
    public string Words()
    {
        var parts = new List<string>();
        if (Dropped > 0) parts.Add($"the capture itself dropped {FindingText.N(Dropped)} packet{(Dropped == 1 ? "" : "s")} around then ({DropSource})");
        if (AckedUnseen > 0) parts.Add($"{FindingText.N(AckedUnseen)} ACK{(AckedUnseen == 1 ? "" : "s")} in these flows acknowledged data the capture never saw");
        return "possible capture artefact: " + string.Join(", and ", parts) +
               "; the packets this rests on may have been lost by the capture, not the path (never critical)";
    }
}
