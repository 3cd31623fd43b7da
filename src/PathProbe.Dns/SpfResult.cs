using PathProbe.Primitives;

namespace PathProbe.Dns;

/// <summary>check_host() results (RFC 7208 §2.6).</summary>
public enum SpfResultCode : byte { None, Neutral, Pass, Fail, SoftFail, TempError, PermError }

/// <summary>One SPF record looked at, and how it was reached (the checked domain, an include or a redirect).</summary>
public sealed record SpfStep(string Domain, string Record, string Via);

public sealed class SpfResult
{
    public required SpfResultCode Code { get; init; }
    public required string Domain { get; init; }
    /// <summary>Records evaluated in order (the checked domain first, then includes and redirects).</summary>
    public IReadOnlyList<SpfStep> Chain { get; init; } = Array.Empty<SpfStep>();
    /// <summary>The term that decided (e.g. "-all", "ip4:192.0.2.0/24" in example.com) or null when none matched.</summary>
    public string? Mechanism { get; init; }
    /// <summary>The domain whose record held <see cref="Mechanism"/>.</summary>
    public string? MechanismDomain { get; init; }
    /// <summary>The expanded exp= text on fail (RFC 7208 §6.2), from the domain's owner: untrusted, display through SafeText.</summary>
    public string? Explanation { get; init; }
    /// <summary>Why temperror/permerror/none.</summary>
    public string? Reason { get; init; }
    public int DnsLookups { get; init; }
    public int VoidLookups { get; init; }
    /// <summary>On temperror: the DNS lookup that got no definite answer (REFUSED, timeout, ...), whose reason says why
    /// the check could not be made.</summary>
    public DnsResult? FailedLookup { get; init; }
    /// <summary>The checked domain's own SPF record (the first step), when there is one.</summary>
    public string? Record => Chain.Count > 0 ? Chain[0].Record : null;

    public static string Name(SpfResultCode c) => c.ToString().ToLowerInvariant();

    public override string ToString() =>
        $"{Name(Code)}{(Mechanism is null ? "" : $" by '{SafeText.Clean(Mechanism)}' in {SafeText.Clean(MechanismDomain)}")}{(Reason is null ? "" : $": {SafeText.Clean(Reason)}")}";
}
