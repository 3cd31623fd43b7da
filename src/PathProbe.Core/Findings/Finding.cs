using PathProbe.Primitives;

namespace PathProbe.Findings;

public enum Severity : byte { Info, Warning, Critical }

/// <summary>
/// Something a user acts on: a kind from a closed vocabulary (stable kebab-case names), a severity, the flows it
/// concerns, when, a one-line summary, the numbers that prove it, and what to change.
/// </summary>
public sealed class Finding
{
    public required string Kind { get; init; }
    public required Severity Severity { get; init; }
    public IReadOnlyList<int> Flows { get; init; } = Array.Empty<int>();
    public Timestamp Time { get; init; }
    public required string Summary { get; init; }
    /// <summary>Evidence as ordered name/value pairs; values are numbers, strings, booleans, Timestamps,
    /// nested <see cref="Evidence"/> or lists of those.</summary>
    public Evidence Evidence { get; init; } = new();
    public string? Advice { get; init; }

    public static string SeverityName(Severity s) => s switch
    {
        Severity.Critical => "critical",
        Severity.Warning => "warning",
        _ => "info",
    };
}

/// <summary>Ordered evidence fields of a finding (allocated per finding, never per packet).</summary>
public sealed class Evidence : List<KeyValuePair<string, object?>>
{
    public void Add(string name, object? value) => Add(new KeyValuePair<string, object?>(name, value));
}
