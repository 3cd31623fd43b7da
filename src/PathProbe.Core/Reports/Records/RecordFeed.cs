using PathProbe.Findings;
using PathProbe.Flows;
using PathProbe.Pipeline;

namespace PathProbe.Reports.Records;

/// <summary>
/// Turns an analysis into records for up to two sinks: <c>Stream</c> (NDJSON) and <c>Archive</c> (Parquet).
/// Offline (<see cref="WriteAnalysis"/>) both get the same records: per input, its input record, then each flow with
/// its smtp and dns records, then the findings' final versions. Live (<c>capture</c>) the engine calls
/// <see cref="FlowClosed"/> as each flow leaves the table (chained after the engine's own hook on
/// <c>FlowTable.FlowClosing</c>, so the flow's SMTP session and DNS transactions are final), finding events go
/// to <see cref="FindingChanged"/> (the stream gets every change, the archive a finding when it closes), and
/// <see cref="Finish"/> adds the input record and the final version of each finding the archive has not seen.
/// Everything runs on the engine's thread, per flow or finding, never per packet.
/// </summary>
public sealed class RecordFeed(RecordScope scope, IRecordSink? stream, IRecordSink? archive)
{
    private readonly List<Record> _records = new();
    private readonly Dictionary<int, int> _archivedVersion = new();

    public RecordScope Scope => scope;
    public long FlowRecords { get; private set; }

    /// <summary>Offline: every record of <paramref name="analyses"/>.</summary>
    public void WriteAnalysis(IReadOnlyList<CaptureAnalysis> analyses)
    {
        for (int i = 0; i < analyses.Count; i++)
        {
            var a = analyses[i];
            Both(RecordBuilder.Input(a, i, scope));
            foreach (var f in a.Flows) FlowClosed(f);
            foreach (var f in a.Findings) Both(RecordBuilder.Finding(f, scope, i));
        }
    }

    /// <summary>A flow left the table: its flow, smtp and dns records.</summary>
    public void FlowClosed(Flow flow)
    {
        _records.Clear();
        RecordBuilder.OfFlow(flow, scope, _records);
        foreach (var r in _records) Both(r);
        FlowRecords++;
    }

    /// <summary>Live: a finding opened, changed or closed.</summary>
    public void FindingChanged(FindingEvent e)
    {
        string change = e.Change switch { FindingChange.Opened => "opened", FindingChange.Closed => "closed", _ => "updated" };
        if (stream is not null) stream.Write(RecordBuilder.Finding(e.Finding, scope, 0, change));
        if (archive is not null && e.Change == FindingChange.Closed) Archive(e.Finding, 0);
    }

    /// <summary>Live, at the end: the input record, and each finding's final version the archive has not had.</summary>
    public void Finish(CaptureAnalysis analysis, int inputIndex = 0)
    {
        Both(RecordBuilder.Input(analysis, inputIndex, scope));
        if (archive is null) return;
        foreach (var f in analysis.Findings)
            if (!_archivedVersion.TryGetValue(f.Id, out int v) || v != f.Version) Archive(f, inputIndex);
    }

    private void Archive(Finding f, int input)
    {
        archive!.Write(RecordBuilder.Finding(f, scope, input));
        _archivedVersion[f.Id] = f.Version;
    }

    private void Both(Record r)
    {
        stream?.Write(r);
        if (archive is not null && r.Table.ParquetName is not null) archive.Write(r);
    }
}
