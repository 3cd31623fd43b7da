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

/// <summary>
/// Stands in <see cref="Flow.App"/> for application state that is made only when first read: a flow whose only packet
/// so far is a client's SYN to an application's port holds this (one object for all such flows) instead of a session
/// of its own. <see cref="Flow.App"/> never returns it: reading the flow's application makes the state, as it would
/// have been had it been made with the SYN.
/// </summary>
public abstract class PendingApplication : IFlowApplication
{
    /// <summary>Makes <paramref name="flow"/>'s state, as it would be after the flow's first packet (its SYN).</summary>
    internal abstract IFlowApplication Create(Flow flow);

    string? IFlowApplication.Phase => null;
    PathProbe.Findings.SmtpPosition? IFlowApplication.Position => null;
}

/// <summary>Application state that is reused when its flow record is recycled (its flow was not kept for the report)
/// instead of being let go: a DNS resolver's traffic is one short flow per query, and a state made for each of them
/// would be garbage the collector copies from generation to generation.</summary>
internal interface IReusableApplication : IFlowApplication
{
    /// <summary>The record is recycled (<see cref="Flow.Reset"/>): the state lets go of everything its flow referred to
    /// and waits, reading as new, for its analyzer to take it for another flow.</summary>
    void Recycle();
}
