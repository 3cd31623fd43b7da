using System.Text.Json.Nodes;

namespace PathProbe.Reports.Records;

/// <summary>The JSON Schema of the NDJSON records (schemas/pathprobe.records-1.schema.json), generated from
/// <see cref="RecordTables"/>: one line is one of the tables' records (every column present, nothing else), or
/// capture's final "summary" line (the pathprobe.analysis/2 document with "type":"summary").</summary>
public static class RecordSchema
{
    public const string Id = "urn:pathprobe:schema:records:1";

    public static JsonObject Generate()
    {
        var defs = new JsonObject();
        var oneOf = new JsonArray();
        foreach (var t in RecordTables.All)
        {
            var props = new JsonObject { ["type"] = new JsonObject { ["const"] = t.Type } };
            var required = new JsonArray(JsonValue.Create("type"));
            foreach (var c in t.Columns)
            {
                var p = Column(c);
                p["description"] = c.Description;
                props[c.Name] = p;
                required.Add((JsonNode)JsonValue.Create(c.Name));
            }
            defs[t.Type] = new JsonObject
            {
                ["description"] = t.Description,
                ["type"] = "object",
                ["properties"] = props,
                ["required"] = required,
                ["additionalProperties"] = false,
            };
            oneOf.Add((JsonNode)new JsonObject { ["$ref"] = $"#/$defs/{t.Type}" });
        }
        defs["summary"] = new JsonObject
        {
            ["description"] = "capture --ndjson's last line: the whole analysis document (schema pathprobe.analysis/2) with \"type\":\"summary\".",
            ["type"] = "object",
            ["properties"] = new JsonObject { ["type"] = new JsonObject { ["const"] = "summary" }, ["schema"] = new JsonObject { ["const"] = "pathprobe.analysis/2" } },
            ["required"] = new JsonArray(JsonValue.Create("type"), JsonValue.Create("schema")),
        };
        oneOf.Add((JsonNode)new JsonObject { ["$ref"] = "#/$defs/summary" });
        defs["time"] = new JsonObject
        {
            ["type"] = "string",
            ["pattern"] = "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{1,9})?Z$",
        };
        return new JsonObject
        {
            ["$schema"] = "https://json-schema.org/draft/2020-12/schema",
            ["$id"] = Id,
            ["title"] = $"PathProbe records ({RecordTables.Schema}): one JSON object per line of analyze --ndjson and capture --ndjson",
            ["description"] = "Generated from src/PathProbe.Core/Reports/Records/RecordTables.cs (tests: PATHPROBE_UPDATE_SCHEMA=1 rewrites it).",
            ["oneOf"] = oneOf,
            ["$defs"] = defs,
        };
    }

    private static JsonObject Column(RecordColumn c)
    {
        JsonObject p = c.Kind switch
        {
            ColumnKind.Text => new JsonObject { ["type"] = Type("string", c.Nullable) },
            ColumnKind.Integer => new JsonObject { ["type"] = Type("integer", c.Nullable) },
            ColumnKind.Number => new JsonObject { ["type"] = Type("number", c.Nullable) },
            ColumnKind.Boolean => new JsonObject { ["type"] = Type("boolean", c.Nullable) },
            ColumnKind.Time => c.Nullable
                ? new JsonObject { ["anyOf"] = new JsonArray(new JsonObject { ["$ref"] = "#/$defs/time" }, new JsonObject { ["type"] = "null" }) }
                : new JsonObject { ["$ref"] = "#/$defs/time" },
            ColumnKind.IntegerList => new JsonObject { ["type"] = Type("array", c.Nullable), ["items"] = new JsonObject { ["type"] = "integer" } },
            ColumnKind.TextList => new JsonObject { ["type"] = Type("array", c.Nullable), ["items"] = new JsonObject { ["type"] = "string" } },
            _ => new JsonObject { ["type"] = Type("object", c.Nullable) },
        };
        return p;
    }

    private static JsonNode Type(string type, bool nullable) => nullable ? new JsonArray(JsonValue.Create(type), JsonValue.Create("null")) : JsonValue.Create(type);
}
