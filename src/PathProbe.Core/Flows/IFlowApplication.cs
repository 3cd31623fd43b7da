namespace PathProbe.Flows;

/// <summary>
/// Application-layer state a protocol analyzer (SMTP, DNS) attaches to a flow, so that TCP and path-MTU detectors
/// can say where in the dialogue a problem hit ("stalled in DATA after 354, transaction 2, 1.2 MB sent").
/// </summary>
public interface IFlowApplication
{
    /// <summary>Machine-readable name of the current phase (e.g. "data", "ehlo"), or null when unknown.</summary>
    string? Phase { get; }

    /// <summary>Where an SMTP dialogue is now (typed; the finding writers put it into words), or null for other
    /// applications.</summary>
    PathProbe.Findings.SmtpPosition? Position { get; }
}
