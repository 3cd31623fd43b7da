using System.Text.Json;
using PathProbe.Findings;
using PathProbe.Reports;

namespace PathProbe.Tests.Support;

/// <summary>A finding as the JSON report writes it, for tests that read its evidence.</summary>
internal static class FindingJson
{
    public static JsonElement Of(Finding f)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms)) JsonReport.WriteFinding(w, f);
        return JsonDocument.Parse(ms.ToArray()).RootElement.Clone();
    }

    public static JsonElement Evidence(Finding f) => Of(f).GetProperty("evidence");

    /// <summary>An evidence key at the top level, else in the first item of <c>flows</c>.</summary>
    public static JsonElement Ev(Finding f, string key)
    {
        var e = Evidence(f);
        if (e.TryGetProperty(key, out var v)) return v;
        if (e.TryGetProperty("flows", out var flows) && flows.GetArrayLength() > 0 && flows[0].TryGetProperty(key, out var w)) return w;
        throw new KeyNotFoundException($"evidence of {f.Name} has no '{key}': {e}");
    }

    /// <summary>A JSON value as .NET: string, int (or long), double, bool, null; objects and arrays stay JsonElements.</summary>
    public static object? Value(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.String => e.GetString(),
        JsonValueKind.Number when e.TryGetInt32(out int i) => i,
        JsonValueKind.Number when e.TryGetInt64(out long l) => l,
        JsonValueKind.Number => e.GetDouble(),
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        JsonValueKind.Null => null,
        _ => e,
    };
}
