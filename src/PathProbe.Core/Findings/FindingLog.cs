namespace PathProbe.Findings;

/// <summary>What happened to a finding: it opened (its first version; it may already be closed), it changed, or it
/// closed (no verdict under it is ongoing any more).</summary>
public enum FindingChange : byte { Opened, Updated, Closed }

/// <summary>A new version of a finding. <see cref="Notable"/>: opened, closed, or its severity or verdict changed
/// (what <c>capture</c> prints a line for); other updates (new numbers) only go to NDJSON.</summary>
public readonly record struct FindingEvent(FindingChange Change, Finding Finding, bool Notable);

/// <summary>
/// Where in the input a verdict was raised, for parallel analysis: the frame being processed, the phase within it (idle
/// expiry of TCP flows, then of other flows, then of ended TCP flows, then the frame's own stages; end-of-input stages after every frame), the
/// least-recently-used place of the closing flow (or the verdict's time at the end of input), and the order within
/// one worker. Verdicts of several workers sorted by this key are in the order one thread raises them.
/// </summary>
public readonly record struct RaiseKey(long Frame, int Phase, long Sub, long Seq) : IComparable<RaiseKey>
{
    /// <summary>Phases within a frame: what a new second of capture time publishes (Engine's clock), the flow table's
    /// expiry walks in its order (idle TCP flows, idle other flows, ended TCP flows), then the frame's own stages.</summary>
    public const int Clock = -1, ExpireTcp = 0, ExpireOther = 1, ExpireEnded = 2, Own = 3, AfterFrame = 4;
    /// <summary>End-of-input stages use <c>Frame = long.MaxValue</c> and phases from this one on, in stage order.</summary>
    public const int End = 10;

    /// <summary>Second place within the phase, after <see cref="Sub"/> (ended connections timing out: their last
    /// packet's time, then the order they were touched in).</summary>
    public long Sub2 { get; init; }

    public int CompareTo(RaiseKey o)
    {
        int c = Frame.CompareTo(o.Frame);
        if (c == 0) c = Phase.CompareTo(o.Phase);
        if (c == 0) c = Sub.CompareTo(o.Sub);
        if (c == 0) c = Sub2.CompareTo(o.Sub2);
        return c != 0 ? c : Seq.CompareTo(o.Seq);
    }
}

/// <summary>Where a verdict sits in the log, to update it later; <c>default</c> is no verdict.</summary>
public readonly record struct VerdictHandle
{
    private readonly int _item1;
    public VerdictHandle(int findingIndex, int item) { FindingIndex = findingIndex; _item1 = item + 1; }
    public int FindingIndex { get; }
    public int Item => _item1 - 1;
    public bool IsValid => _item1 > 0;
}

/// <summary>
/// The one writer of findings for an analysis (the engine owns it; detectors raise and update verdicts through it).
/// Verdicts of one kind with one identifier join one finding (Zeek's notice identifier); every change publishes a
/// new immutable version of that finding with the same id, and, when <see cref="RecordEvents"/> is on, an event for
/// live output. Work happens only when a detector decides, never per packet.
/// </summary>
public sealed class FindingLog
{
    private readonly List<Finding> _findings = new();
    private readonly Dictionary<(FindingKind, string), int> _groups = new();
    private readonly Dictionary<int, List<VerdictHandle>> _byFlow = new();
    /// <summary>Live output: the findings changed since the last <see cref="TakeEvents"/>, in the order they first
    /// changed, and each finding as the last take reported it (absent: not reported yet).</summary>
    private readonly List<int> _changed = new();
    private readonly HashSet<int> _changedSet = new();
    private readonly Dictionary<int, Finding> _taken = new();
    /// <summary>Per finding: some version of it was open (ongoing) since the last take. A finding that opened (or
    /// reopened) and closed between two takes is reported with its closing (<see cref="AddEvents"/>).</summary>
    private readonly List<bool> _openSinceTake = new();
    /// <summary>Final numbers of closed flows that findings name.</summary>
    private readonly Dictionary<int, FlowFacts> _final = new();
    /// <summary>Per finding, per kept verdict: where it was raised (parallel workers only; empty otherwise).</summary>
    private readonly List<List<RaiseKey>> _keys = new();
    private long _seq;

    /// <summary>Parallel workers: record a <see cref="RaiseKey"/> for each verdict (for <see cref="Merge"/>).</summary>
    internal bool TrackKeys { get; init; }
    /// <summary>Parallel workers: where the worker is in the input; set by the engine before detectors run. With
    /// <c>Sub = long.MinValue</c> the verdict's own time takes its place.</summary>
    internal RaiseKey Position;

    /// <summary>Verdicts kept per finding; further ones are counted in <see cref="Finding.ItemsNotListed"/>.</summary>
    public int MaxItemsPerFinding { get; init; } = 200;
    /// <summary>Keep events for <see cref="TakeEvents"/> (live output); off for offline analysis.</summary>
    public bool RecordEvents { get; set; }

    /// <summary>The latest version of every finding, in the order they opened (index = id - 1).</summary>
    public IReadOnlyList<Finding> Findings => _findings;

    /// <summary>A new verdict: opens a finding, or joins the finding of the same kind and identifier.</summary>
    public VerdictHandle Raise(Verdict v)
    {
        v = WithFinalFacts(v);
        if (_groups.TryGetValue((v.Kind, v.Identifier), out int index))
        {
            var cur = _findings[index];
            if (cur.Items.Count >= MaxItemsPerFinding)
            {
                Publish(index, cur.WithOneMoreNotListed());
                return new VerdictHandle(index, -1);
            }
            var items = new Verdict[cur.Items.Count + 1];
            for (int i = 0; i < cur.Items.Count; i++) items[i] = cur.Items[i];
            items[^1] = v;
            var handle = new VerdictHandle(index, items.Length - 1);
            if (TrackKeys) _keys[index].Add(NextKey(v));
            Index(v, handle);
            Publish(index, new Finding(cur.Id, cur.Version + 1, items, cur.ItemsNotListed));
            return handle;
        }
        index = _findings.Count;
        _groups[(v.Kind, v.Identifier)] = index;
        var f = new Finding(index + 1, 1, [v]);
        _findings.Add(f);
        _openSinceTake.Add(f.State == FindingState.Open);
        if (TrackKeys) _keys.Add([NextKey(v)]);
        var h = new VerdictHandle(index, 0);
        Index(v, h);
        Changed(index);
        return h;
    }

    /// <summary>A new version of a verdict raised before (more numbers, a changed conclusion, closed).</summary>
    public void Update(VerdictHandle h, Verdict v)
    {
        if (!h.IsValid) return;
        v = WithFinalFacts(v);
        var cur = _findings[h.FindingIndex];
        if (cur.Items[h.Item].Kind != v.Kind) throw new ArgumentException("an update keeps the verdict's kind", nameof(v));
        var items = cur.Items.ToArray();
        items[h.Item] = v;
        Index(v, h);
        Publish(h.FindingIndex, new Finding(cur.Id, cur.Version + 1, items, cur.ItemsNotListed));
    }

    /// <summary>The verdict at <paramref name="h"/> as last published.</summary>
    public Verdict? Get(VerdictHandle h) => h.IsValid ? _findings[h.FindingIndex].Items[h.Item] : null;

    /// <summary>A flow's numbers changed for good (it left the flow table): every verdict that names it gets them,
    /// so the final report has the final numbers.</summary>
    public void RefreshFlow(FlowFacts facts)
    {
        if (!_byFlow.TryGetValue(facts.Id, out var handles)) return;
        _final[facts.Id] = facts;
        foreach (var h in handles.ToArray())
        {
            var v = _findings[h.FindingIndex].Items[h.Item];
            var flows = v.Flows.ToArray();
            bool changed = false;
            for (int i = 0; i < flows.Length; i++)
                if (flows[i].Id == facts.Id && flows[i] != facts) { flows[i] = facts; changed = true; }
            if (changed) Update(h, v with { Flows = flows });
        }
    }

    /// <summary>After the analysis: gives each verdict its capture-artefact mark (<paramref name="mark"/> returns null
    /// for a verdict that does not rest on missing packets or lies away from any capture loss), publishing a new
    /// version of each finding whose marks changed.</summary>
    public void MarkCaptureArtefacts(Func<Verdict, CaptureArtefact?> mark)
    {
        for (int i = 0; i < _findings.Count; i++)
        {
            var cur = _findings[i];
            Verdict[]? items = null;
            for (int j = 0; j < cur.Items.Count; j++)
            {
                var a = mark(cur.Items[j]);
                if (a == cur.Items[j].CaptureArtefact) continue;
                items ??= cur.Items.ToArray();
                items[j] = cur.Items[j] with { CaptureArtefact = a };
            }
            if (items is not null) Publish(i, new Finding(cur.Id, cur.Version + 1, items, cur.ItemsNotListed));
        }
    }

    /// <summary>Some finding names flow <paramref name="flowId"/>.</summary>
    public bool Names(int flowId) => _byFlow.ContainsKey(flowId);

    /// <summary>A closed flow's numbers in any verdict are its final numbers.</summary>
    private Verdict WithFinalFacts(Verdict v)
    {
        if (_final.Count == 0) return v;
        FlowFacts[]? flows = null;
        for (int i = 0; i < v.Flows.Count; i++)
            if (_final.TryGetValue(v.Flows[i].Id, out var f) && f != v.Flows[i])
            {
                flows ??= v.Flows.ToArray();
                flows[i] = f;
            }
        return flows is null ? v : v with { Flows = flows };
    }

    /// <summary>Appends an event for each finding that opened or changed since the last call, with its latest version
    /// (one per finding however often it changed: a flood past a finding's verdict cap changes its count with every
    /// verdict, and live output gets one line per finding per call, as from parallel workers; two when it also closed), and
    /// returns how many findings had events.</summary>
    public int TakeEvents(List<FindingEvent> into)
    {
        int n = 0;
        foreach (int index in _changed)
        {
            var f = _findings[index];
            if (!AddEvents(_taken.GetValueOrDefault(index), f, _openSinceTake[index], into)) continue;
            _taken[index] = f;
            _openSinceTake[index] = f.State == FindingState.Open;
            n++;
        }
        _changed.Clear();
        _changedSet.Clear();
        return n;
    }

    private void Changed(int index)
    {
        if (RecordEvents && _changedSet.Add(index)) _changed.Add(index);
    }

    private RaiseKey NextKey(Verdict v)
    {
        var p = Position;
        return p with { Sub = p.Sub == long.MinValue ? v.Time.UnixNanoseconds : p.Sub, Seq = _seq++ };
    }

    /// <summary>
    /// The log one thread would have written, from the logs of parallel workers (each kept <see cref="TrackKeys"/>):
    /// verdicts of one kind and identifier join one finding whichever worker raised them, in the order they were raised
    /// (<see cref="RaiseKey"/>); findings are numbered in the order their first verdict was raised; a finding keeps its
    /// first <see cref="MaxItemsPerFinding"/> verdicts and counts the rest; its version counts every change of every
    /// worker. <paramref name="remap"/> renumbers the flows a verdict names (workers number flows in their own space).
    /// </summary>
    internal static FindingLog Merge(IReadOnlyList<FindingLog> parts, Func<Verdict, Verdict> remap, Func<int, int> flowId, bool recordEvents)
    {
        var groups = new Dictionary<(FindingKind, string), MergeGroup>();
        foreach (var part in parts)
        {
            if (!part.TrackKeys) throw new InvalidOperationException("merging needs logs that kept raise keys");
            for (int i = 0; i < part._findings.Count; i++)
            {
                var f = part._findings[i];
                var keys = part._keys[i];
                if (!groups.TryGetValue((f.Kind, f.Identifier), out var g)) groups[(f.Kind, f.Identifier)] = g = new MergeGroup();
                for (int j = 0; j < f.Items.Count; j++) g.Items.Add((keys[j], f.Items[j]));
                g.NotListed += f.ItemsNotListed;
                g.Version += f.Version;
                g.OpenSinceTake |= part._openSinceTake[i];
            }
        }
        var merged = new FindingLog { RecordEvents = recordEvents };
        int max = merged.MaxItemsPerFinding;
        foreach (var g in groups.Values) g.Items.Sort((a, b) => a.Key.CompareTo(b.Key));
        foreach (var g in groups.Values.OrderBy(g => g.Items[0].Key))
        {
            int kept = Math.Min(max, g.Items.Count);
            var items = new Verdict[kept];
            for (int j = 0; j < kept; j++) items[j] = remap(g.Items[j].Verdict);
            int index = merged._findings.Count;
            var f = new Finding(index + 1, g.Version, items, g.NotListed + g.Items.Count - kept);
            merged._findings.Add(f);
            merged._openSinceTake.Add(g.OpenSinceTake || f.State == FindingState.Open);
            merged._groups[(f.Kind, f.Identifier)] = index;
            for (int j = 0; j < kept; j++) merged.Index(items[j], new VerdictHandle(index, j));
        }
        foreach (var part in parts)
            foreach (var (id, facts) in part._final)
                merged._final[flowId(id)] = facts with { Id = flowId(id) };
        return merged;
    }

    private sealed class MergeGroup
    {
        public readonly List<(RaiseKey Key, Verdict Verdict)> Items = new();
        public int NotListed;
        public int Version;
        public bool OpenSinceTake;
    }

    private void Index(Verdict v, VerdictHandle h)
    {
        foreach (var f in v.Flows)
        {
            if (!_byFlow.TryGetValue(f.Id, out var list)) _byFlow[f.Id] = list = new List<VerdictHandle>(1);
            if (!list.Contains(h)) list.Add(h);
        }
    }

    private void Publish(int index, Finding next)
    {
        _findings[index] = next;
        if (next.State == FindingState.Open) _openSinceTake[index] = true;
        Changed(index);
    }

    /// <summary>Some version of the finding at <paramref name="index"/> was open (ongoing) since the last take (a
    /// merged log: since the workers' logs were last marked taken, <see cref="MarkTaken"/>).</summary>
    internal bool OpenSinceTake(int index) => _openSinceTake[index];

    /// <summary>Parallel workers' logs, after a live take of their merged findings: what is open now is what counts as
    /// open since the take.</summary>
    internal void MarkTaken()
    {
        for (int i = 0; i < _findings.Count; i++) _openSinceTake[i] = _findings[i].State == FindingState.Open;
    }

    /// <summary>
    /// The live events of finding <paramref name="f"/>, last reported as <paramref name="before"/> (null: not reported
    /// yet); false when it has not changed since. A new finding is "opened"; a changed one "closed" when it was open
    /// and is no more, else "updated", notable when it closed, changed state or severity, or its conclusion changed.
    /// A finding that was open since the last report (<paramref name="openSinceTake"/>) and is closed again already
    /// (it opened, or reopened, and closed between two takes: a stall of a fraction of a second) is also "closed"
    /// after its "opened" or (notable) "updated", so that a reader pairing them (NDJSON, OTLP, the live text) sees it
    /// end.
    /// </summary>
    internal static bool AddEvents(Finding? before, Finding f, bool openSinceTake, List<FindingEvent> into)
    {
        bool openedAndClosed = openSinceTake && f.State == FindingState.Closed;
        if (before is null)
        {
            into.Add(new FindingEvent(FindingChange.Opened, f, true));
            if (openedAndClosed) into.Add(new FindingEvent(FindingChange.Closed, f, true));
            return true;
        }
        if (before.Version == f.Version) return false;
        var writer = f.Kind.Writer();
        bool closed = before.State == FindingState.Open && f.State == FindingState.Closed;
        if (!closed && openedAndClosed)
        {
            // Reopened and closed again since the last report.
            into.Add(new FindingEvent(FindingChange.Updated, f, true));
            into.Add(new FindingEvent(FindingChange.Closed, f, true));
            return true;
        }
        bool notable = closed || f.State != before.State || f.Severity != before.Severity || writer.Conclusion(f) != writer.Conclusion(before);
        into.Add(new FindingEvent(closed ? FindingChange.Closed : FindingChange.Updated, f, notable));
        return true;
    }
}
