using System.CommandLine;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using PathProbe.Cli.Commands;
using PathProbe.Pipeline;
using PathProbe.Primitives;
using PathProbe.Reports.Records;

namespace PathProbe.Cli.Records;

/// <summary>
/// The record options of <c>analyze</c> and <c>capture</c> (README "Records: NDJSON and Parquet"): --parquet DIR,
/// --host, --capture-id, and analyze's --ndjson (capture has its own --ndjson, which streams the same records).
/// A hidden --parquet-rotate SECONDS shortens capture's hourly rotation (tests).
/// </summary>
public sealed class RecordOptions
{
    /// <summary>capture rotates its Parquet files on clock-hour boundaries.</summary>
    public const double DefaultRotateSeconds = 3600;

    public Option<bool>? Ndjson { get; private init; }
    public required Option<string?> Parquet { get; init; }
    public required Option<string?> Host { get; init; }
    public required Option<string?> CaptureId { get; init; }
    public Option<double>? Rotate { get; private init; }

    /// <summary>Adds the options to <paramref name="cmd"/>; <paramref name="live"/>: capture (rotation, no --ndjson
    /// here: capture's own --ndjson streams the records).</summary>
    public static RecordOptions AddTo(Command cmd, bool live)
    {
        var o = new RecordOptions
        {
            Ndjson = live ? null : new Option<bool>("--ndjson")
            {
                Description = "Write records, one JSON object per line (like Zeek's logs as JSON): {\"type\":\"input\"|\"flow\"|\"smtp\"|\"dns\"|\"finding\",...}, " +
                              "linked by the flow's \"uid\" (schemas/pathprobe.records-1.schema.json; README \"Records\"). Instead of the text report.",
            },
            Parquet = CliOptions.Text("--parquet", null, "DIR",
                "Also write flows, findings, mail (smtp) and DNS transactions as Parquet files under DIR/flows, DIR/findings, DIR/smtp, DIR/dns " +
                "(created if missing), each record with --host and --capture-id, for DuckDB, Spark or ClickHouse across servers" +
                (live ? "; rotated hourly and on exit, each finished *.parquet complete even if the process is killed." : ".")),
            Host = CliOptions.Text("--host", null, "NAME", "The host name every record carries" +
                (live ? ", and the OTLP resource's host.name" : "") + " (default: this machine's name)."),
            CaptureId = CliOptions.Text("--capture-id", null, "ID",
                "The capture id every record carries" + (live ? ", and the OTLP resource's pathprobe.capture.id" : "") + " (default: " +
                (live ? "the start time (UTC) and the process id" :
                "a hash of the inputs' file names, packet counts and first packet times, so the same files give the same ids") + ")."),
            Rotate = live ? CliOptions.Number("--parquet-rotate", null, "S", "Rotate the Parquet files every S seconds (default 3600).", 0, 1e9, "seconds", DefaultRotateSeconds) : null,
        };
        if (o.Rotate is not null) o.Rotate.Hidden = true;
        if (o.Ndjson is not null) cmd.Add(o.Ndjson);
        cmd.Add(o.Parquet);
        cmd.Add(o.Host);
        cmd.Add(o.CaptureId);
        if (o.Rotate is not null) cmd.Add(o.Rotate);
        return o;
    }

    public RecordSettings Settings(ParseResult parse) => new()
    {
        Ndjson = Ndjson is not null && parse.GetValue(Ndjson),
        ParquetDirectory = parse.GetValue(Parquet),
        Host = parse.GetValue(Host),
        CaptureId = parse.GetValue(CaptureId),
        RotateSeconds = Rotate is null ? DefaultRotateSeconds : parse.GetValue(Rotate),
    };
}

/// <summary>The values of <see cref="RecordOptions"/>.</summary>
public sealed class RecordSettings
{
    public bool Ndjson { get; init; }
    public string? ParquetDirectory { get; init; }
    public string? Host { get; init; }
    public string? CaptureId { get; init; }
    public double RotateSeconds { get; init; } = RecordOptions.DefaultRotateSeconds;

    public bool Any => Ndjson || ParquetDirectory is not null;

    public string HostName => Host ?? Environment.MachineName;

    /// <summary>capture's default id: "20261205T154045Z-4242".</summary>
    public string LiveCaptureId(DateTime startUtc) =>
        CaptureId ?? $"{startUtc.ToString("yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture)}-{Environment.ProcessId}";

    /// <summary>analyze's default id: 12 hex digits of SHA-256 over each input's file name, packets and first time.</summary>
    public string OfflineCaptureId(IReadOnlyList<CaptureAnalysis> analyses)
    {
        if (CaptureId is not null) return CaptureId;
        var sb = new StringBuilder();
        foreach (var a in analyses)
            sb.Append(Path.GetFileName(a.Input.Path)).Append('\n').Append(a.Input.Packets.ToString(CultureInfo.InvariantCulture)).Append('\n')
              .Append(a.Input.FirstTime?.UnixNanoseconds.ToString(CultureInfo.InvariantCulture) ?? "-").Append('\n');
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(sb.ToString())))[..12];
    }

    /// <summary>--parquet DIR: makes the directory before anything is read or captured; returns the error a user can
    /// act on when it cannot be made, else null (also without --parquet).</summary>
    public string? PrepareParquetDirectory()
    {
        if (ParquetDirectory is null) return null;
        try
        {
            Directory.CreateDirectory(ParquetDirectory);
            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return CannotCreate(e);
        }
    }

    /// <summary>Opens the Parquet writer, or returns null with an error a user can act on.</summary>
    public ParquetRecordWriter? OpenParquet(RecordScope scope, out string? error)
    {
        error = null;
        if (ParquetDirectory is null) return null;
        try
        {
            return new ParquetRecordWriter(ParquetDirectory, scope);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            error = CannotCreate(e);
            return null;
        }
    }

    private string CannotCreate(Exception e) =>
        $"--parquet: cannot create the directory {SafeText.Clean(ParquetDirectory, 200)}: {e.Message}; name a directory you can write to";

    /// <summary>The period a time falls in, for rotation on boundaries (clock hours by default).</summary>
    public long Period(DateTime utc) => (long)Math.Floor((utc - DateTime.UnixEpoch).TotalSeconds / RotateSeconds);
}
