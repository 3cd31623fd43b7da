using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Reflection;
using PathProbe.Analysis.Dns;
using PathProbe.Analysis.Smtp;
using PathProbe.Capture;
using PathProbe.Decoding;
using PathProbe.Decoding.Reassembly;
using PathProbe.Findings;
using PathProbe.Findings.Kinds;
using PathProbe.Flows;
using PathProbe.Primitives;

namespace PathProbe.Pipeline;

/// <summary>Takes frames one at a time (what <see cref="FileAnalyzer.Run"/> feeds): an <see cref="Engine"/>, or the
/// reader side of a <see cref="ParallelAnalyzer"/>.</summary>
public interface IFrameSink
{
    void Process(in RawFrame frame);
}

/// <summary>
/// One input analysed by several <see cref="Engine"/> workers, with output identical to one engine.
/// <para>
/// The thread that parses the file (its reads and, for gzip, its decompression on <see cref="Capture.ReadAheadStream"/>'s thread) copies frames into pooled batches
/// and gives each frame a worker by its server's address (<see cref="ShardOf"/>): both directions of a flow, every flow
/// to one server (so the UDP query and the TCP retry of a DNS exchange, the path-MTU group of the clients of one
/// server, a storm among them, SMTP sessions), the fragments of a server's datagrams, and an ICMP error by the packet
/// it quotes land in one worker. Frames that are not IP go to worker 0. Every worker reads every batch: its own frames it analyses,
/// for the others it lets capture time pass (idle flows expire, fragments and DNS queries time out at the same frames
/// as in one engine).
/// </para>
/// <para>
/// Workers number flows in their own share of the id space and note, for each flow, verdict and incomplete datagram,
/// the frame and phase it belongs to (<see cref="RaiseKey"/>). <see cref="Complete"/> merges: flows are renumbered in
/// the order they were created, listed in the order they closed, findings are grouped and numbered as one
/// <see cref="FindingLog"/> would, counters are summed.
/// </para>
/// <para>
/// What a worker cannot see: a retransmission storm is capture-wide in one engine, per worker here; when a storm may
/// involve several workers, or capture time went backwards and something timed out (idle flows, fragments, DNS
/// queries: one engine times out the oldest first across all flows, a worker across its own), <see cref="NeedsOneEngine"/>
/// is set and <see cref="FileAnalyzer"/> analyses the file again on one engine (standard input and pipes cannot be
/// read twice: there the workers' result stands). Also per worker: a path-MTU
/// group of a receiver's view when one data sender talks to servers in different workers, an ICMP flow from one
/// router whose errors quote servers in different workers, the flow-table bound (<c>--max-flows</c>), the SMTP stream
/// budget. The output-identity test checks every bundled capture and an interleaving of all of them.
/// </para>
/// </summary>
public sealed class ParallelAnalyzer : IFrameSink
{
    /// <summary>Most workers (worker indices are bytes in a batch).</summary>
    public const int MaxWorkers = 64;
    private const int BatchFrames = 512;
    private const int BatchBytes = 512 * 1024;
    private const int Batches = 16;
    private const byte FlowPacket = 1, Fragment = 2;

    private readonly AnalysisOptions _options;
    private readonly int _firstFlowId;
    private readonly Engine[] _engines;
    private readonly BlockingCollection<FrameBatch>[] _queues;
    private readonly BlockingCollection<FrameBatch> _free = new(Batches);
    private readonly Thread[] _threads;
    private readonly Exception?[] _errors;
    private InputSummary? _summary;
    private readonly CaptureAnalysis?[] _results;
    private FrameBatch? _current;
    private long _index;
    private bool _started, _ended;
    private long _maxTime = long.MinValue;
    /// <summary>A step back in capture time this large or more counts as time out of order (<see cref="TimeoutsOutOfOrder"/>).
    /// Smaller steps (packets reordered by a multi-queue NIC, merged captures) can move a timeout by at most the step.</summary>
    private const long BackwardsLimit = 1_000_000_000;
    private bool _timeWentBack;

    public ParallelAnalyzer(AnalysisOptions? options, int inputIndex, int firstFlowId, int workers)
    {
        if (workers < 2 || workers > MaxWorkers) throw new ArgumentOutOfRangeException(nameof(workers), $"2 to {MaxWorkers} workers");
        _options = options ?? new AnalysisOptions();
        _firstFlowId = firstFlowId;
        _engines = new Engine[workers];
        _queues = new BlockingCollection<FrameBatch>[workers];
        _threads = new Thread[workers];
        _errors = new Exception?[workers];
        _results = new CaptureAnalysis?[workers];
        for (int w = 0; w < workers; w++)
        {
            _engines[w] = new Engine(_options, inputIndex, w, workers);
            _queues[w] = new BlockingCollection<FrameBatch>(Batches);
            int me = w;
            _threads[w] = new Thread(() => Work(me)) { IsBackground = true, Name = $"pathprobe-worker-{w}" };
        }
        for (int i = 0; i < Batches; i++) _free.Add(new FrameBatch());
    }

    /// <summary>The workers' engines (tests, live snapshots).</summary>
    internal IReadOnlyList<Engine> Engines => _engines;

    /// <summary>Starts the workers; frames can be given from then on.</summary>
    public void Start()
    {
        if (_started) return;
        _started = true;
        foreach (var t in _threads) t.Start();
    }

    /// <summary>Copies <paramref name="frame"/> into the current batch with its worker (reader thread; no allocation).</summary>
    public void Process(in RawFrame frame)
    {
        var b = _current;
        int length = frame.Data.Length;
        if (b is not null && (b.Count == BatchFrames || b.Used + length > b.Bytes.Length && b.Count > 0)) { Hand(b); b = null; }
        if (b is null)
        {
            b = _current = _free.Take();
            b.FirstIndex = _index;
            b.Count = 0;
            b.Used = 0;
            b.Ticks = 0;
        }
        if (length > b.Bytes.Length) b.Bytes = new byte[length]; // a frame larger than a batch: this batch holds it alone
        int i = b.Count++;
        frame.Data.CopyTo(b.Bytes.AsSpan(b.Used));
        b.Offset[i] = b.Used;
        b.Length[i] = length;
        b.Used += length;
        b.OriginalLength[i] = frame.OriginalLength;
        b.Time[i] = frame.Time.UnixNanoseconds;
        b.LinkType[i] = frame.LinkType;
        b.Interface[i] = frame.InterfaceIndex;
        long time = frame.Time.UnixNanoseconds;
        if (time < _maxTime) { if (_maxTime - time >= BackwardsLimit) _timeWentBack = true; }
        else _maxTime = time;
        int worker = ShardOf(frame, out byte flags);
        _load[worker]++;
        b.Worker[i] = (byte)worker;
        b.Flags[i] = flags;
        _index++;
    }

    /// <summary>Live capture: no packet for a while, time passes all the same (see <see cref="Engine.Idle"/>); handed to
    /// every worker in order with the frames.</summary>
    public void Idle(long now)
    {
        Flush();
        var b = _free.Take();
        b.FirstIndex = _index;
        b.Count = 0;
        b.Used = 0;
        b.Ticks = now;
        Hand(b);
    }

    /// <summary>Hands out what is batched now (live capture: so a quiet link still gets its packets analysed).</summary>
    public void Flush()
    {
        var b = _current;
        if (b is not null && b.Count > 0) { Hand(b); _current = null; }
    }

    /// <summary>Live capture: hands out what is batched and waits until the workers have analysed every frame given so
    /// far, so their state can be read (the workers wait for the next batch meanwhile).</summary>
    public void Pause()
    {
        Flush();
        var spin = new SpinWait();
        while (_free.Count < Batches && !_errors.Any(e => e is not null)) spin.SpinOnce(sleep1Threshold: 20);
    }

    /// <summary>Flows in the workers' tables (after <see cref="Pause"/>).</summary>
    public int LiveFlows => _engines.Sum(e => e.Flows.LiveCount);

    private readonly Dictionary<int, int> _liveIds = new();
    private readonly int[] _createdSeen = new int[MaxWorkers];
    private Dictionary<int, Finding> _liveLast = new();

    /// <summary>
    /// Live capture, after <see cref="Pause"/>: the findings as one log would hold them now (flows numbered as the final
    /// report numbers them: every flow created so far is known), and an event for each finding that opened or changed
    /// since the previous call (one per finding per call, with its latest version). Returns the number of findings.
    /// </summary>
    public int TakeFindingEvents(List<FindingEvent> into)
    {
        var fresh = new List<(int Id, long Frame)>();
        for (int w = 0; w < _engines.Length; w++)
        {
            var created = _engines[w].Shard!.Created;
            for (int i = _createdSeen[w]; i < created.Count; i++) fresh.Add(created[i]);
            _createdSeen[w] = created.Count;
        }
        fresh.Sort((x, y) => x.Frame.CompareTo(y.Frame));
        foreach (var (id, _) in fresh) _liveIds[id] = _firstFlowId + _liveIds.Count;
        int Map(int id) => _liveIds.TryGetValue(id, out int n) ? n : id;
        var log = FindingLog.Merge(_engines.Select(e => e.Log).ToArray(), v => Remap(v, Map), Map, recordEvents: false);
        var now = new Dictionary<int, Finding>(log.Findings.Count);
        for (int i = 0; i < log.Findings.Count; i++)
        {
            var f = log.Findings[i];
            now[f.Id] = f;
            FindingLog.AddEvents(_liveLast.GetValueOrDefault(f.Id), f, log.OpenSinceTake(i), into);
        }
        foreach (var e in _engines) e.Log.MarkTaken();
        _liveLast = now;
        return log.Findings.Count;
    }

    private void Hand(FrameBatch b)
    {
        b.Pending = _queues.Length;
        foreach (var q in _queues) q.Add(b);
    }

    /// <summary>End of input: the workers finish the batches handed to them and run their end-of-input stages.</summary>
    public void EndOfInput(InputSummary summary)
    {
        if (_ended) return;
        _ended = true;
        _summary = summary;
        Flush();
        foreach (var q in _queues) q.CompleteAdding();
        if (!_started) Start();
        foreach (var t in _threads) t.Join();
        foreach (var e in _errors)
            if (e is not null) throw new InvalidOperationException($"a parallel analysis worker failed: {e.Message}", e);
    }

    private void Work(int w)
    {
        var engine = _engines[w];
        try
        {
            foreach (var b in _queues[w].GetConsumingEnumerable())
            {
                if (b.Ticks != 0) engine.Idle(b.Ticks);
                for (int i = 0; i < b.Count; i++)
                {
                    long index = b.FirstIndex + i;
                    if (b.Worker[i] == w)
                        engine.ProcessShard(new RawFrame(b.Bytes.AsSpan(b.Offset[i], b.Length[i]), b.OriginalLength[i],
                            new Timestamp(b.Time[i]), b.LinkType[i], b.Interface[i]), index);
                    else
                        engine.AdvanceShard(b.Time[i], index, (b.Flags[i] & FlowPacket) != 0, (b.Flags[i] & Fragment) != 0);
                }
                if (Interlocked.Decrement(ref b.Pending) == 0) _free.Add(b);
            }
            _results[w] = engine.Complete(_summary!);
        }
        catch (Exception e)
        {
            _errors[w] = e;
            // Keep the reader moving: drain this worker's queue so batches go back to the pool.
            foreach (var b in _queues[w].GetConsumingEnumerable())
                if (Interlocked.Decrement(ref b.Pending) == 0) _free.Add(b);
        }
    }

    /// <summary>Server addresses seen so far and their workers: a new server goes to the worker that was given the
    /// fewest frames so far (balanced, and the same for every run over the same input).</summary>
    private readonly Dictionary<IpAddress, byte> _servers = new();
    private readonly long[] _load = new long[MaxWorkers];
    /// <summary>Servers remembered; past it a new server's worker is a hash of its address.</summary>
    private const int MaxServers = 1 << 20;

    /// <summary>
    /// The worker of a frame: the worker of its server's address (of the quoted packet's server for an ICMP error), so
    /// every flow to one server, both directions, DNS over UDP and its TCP retry, and the detectors' per-peer state of
    /// a host talking to many (path-MTU groups, storms of one server's clients) stay in one worker. The server is the
    /// side on a service port (the lower port when both or neither are), as the flow table orients flows, but by ports
    /// alone so both directions agree. A fragment without ports, and ICMP other than errors, goes to the worker of
    /// whichever of its addresses is a known server (else by a hash of the smaller address). Not IP: worker 0.
    /// <paramref name="flags"/>: the frame reaches the flow table in one engine (TCP, UDP or ICMP, not a fragment), or
    /// is a fragment. Bounds-checked; never throws; no allocation once a server is known.
    /// </summary>
    internal int ShardOf(in RawFrame frame, out byte flags)
    {
        flags = 0;
        var link = new LinkLayerReader();
        if (link.Read(frame.LinkType, frame.Data) != LinkStatus.Ip) return 0;
        var net = link.Network;
        // As the decoder reads it: flags say what one engine would do with the frame (expire idle flows when it reaches
        // the flow table, time out fragments when it reaches the reassembler), so the other workers do the same.
        int wire = net.Length + Math.Max(0, frame.OriginalLength - frame.Data.Length);
        IpAddress a, b;
        byte protocol;
        ReadOnlySpan<byte> payload;
        int payloadWire, offset;
        bool valid, fragment, more;
        bool v6 = link.IpVersion == 6;
        if (!v6)
        {
            var ip = new Ipv4Reader();
            if (ip.ReadHeader(net) != MalformedReason.None) return 0;
            // Ipv4Reader.Read's length rules without its checksum (a bad checksum is counted, not fatal).
            int total = ip.TotalLength == 0 && wire > ip.HeaderLength ? wire : ip.TotalLength;
            valid = total >= ip.HeaderLength;
            a = ip.Src; b = ip.Dst; protocol = ip.Protocol;
            fragment = ip.IsFragment; more = ip.MoreFragments; offset = ip.FragmentOffset;
            payload = valid ? net.Slice(ip.HeaderLength, Math.Min(total, net.Length) - ip.HeaderLength) : default;
            payloadWire = valid ? total - ip.HeaderLength : 0;
        }
        else
        {
            var ip = new Ipv6Reader();
            valid = ip.Read(net, wire) == MalformedReason.None;
            if (!valid)
            {
                // A broken extension header chain still has its addresses.
                if (net.Length < Ipv6Reader.FixedHeaderLength || net[0] >> 4 != 6) return 0;
                ip = new Ipv6Reader();
                ip.ReadHeader(net);
            }
            a = ip.Src; b = ip.Dst; protocol = ip.NextHeader;
            fragment = ip.IsFragment; more = ip.MoreFragments; offset = ip.FragmentOffset;
            payload = valid ? ip.Payload : default;
            payloadWire = valid ? ip.PayloadWireLength : 0;
        }
        bool icmp = protocol == (v6 ? IpProtocols.IcmpV6 : IpProtocols.Icmp);
        // A tunnel (IP in IP, GRE, MPLS in IP, VXLAN, Geneve, MPLS or GRE in UDP) goes whole to one worker, chosen by its
        // two endpoints: the connections inside it keep both directions together (each direction of a VXLAN connection
        // has its own outer source port, and its server is not on the outer ports). Its fragments, and ICMP errors about
        // its packets, follow: both endpoints become known servers of that worker.
        bool tunnel = FrameDecoder.IsDecodedIpTunnel(protocol) ||
                      protocol == IpProtocols.Udp && valid && !fragment && payload.Length >= 4 && TunnelPorts.IsTunnel(BinaryPrimitives.ReadUInt16BigEndian(payload[2..]));
        if (valid && fragment)
        {
            // The decoder's fragment rules (FrameDecoder.AddFragment): what reaches the reassembler.
            bool bad = more && (payloadWire == 0 || (payloadWire & 7) != 0) || offset + payloadWire > IpReassembler.MaxPayload(v6 ? (byte)6 : (byte)4);
            if (!bad && payload.Length >= payloadWire) flags = Fragment;
        }
        else if (valid)
        {
            if (protocol == IpProtocols.Tcp)
            {
                // TcpReader.Read's rules for a segment it rejects (options are never fatal).
                int h = payload.Length >= 20 ? (payload[12] >> 4) * 4 : 0;
                if (h >= 20 && h <= payloadWire && h <= payload.Length) flags = FlowPacket;
            }
            else if (protocol == IpProtocols.Udp) { var u = new UdpReader(); if (u.Read(payload, payloadWire) == MalformedReason.None) flags = FlowPacket; }
            else if (icmp)
            {
                var r = new IcmpReader();
                if (r.Read(payload, v6) == MalformedReason.None)
                {
                    flags = FlowPacket;
                    if (r.IsError)
                    {
                        var q = new QuotedPacket();
                        if (IcmpReader.ReadQuote(r.Body, ref q) == MalformedReason.None && q.Present)
                        {
                            if (q.HasPorts && q.Protocol is IpProtocols.Tcp or IpProtocols.Udp)
                                return WorkerOf(ServerOf(q.Src, q.SrcPort, q.Dst, q.DstPort));
                            return ByKnownServer(q.Src, q.Dst);
                        }
                    }
                }
                return ByKnownServer(a, b);
            }
        }
        if (tunnel) return TunnelWorker(a, b);
        if (protocol is IpProtocols.Tcp or IpProtocols.Udp && !fragment && payload.Length >= 4)
            return WorkerOf(ServerOf(a, BinaryPrimitives.ReadUInt16BigEndian(payload), b, BinaryPrimitives.ReadUInt16BigEndian(payload[2..])));
        // Every fragment of a datagram by its addresses alone, whatever order they come in.
        return ByKnownServer(a, b);
    }

    /// <summary>The worker of a tunnel between <paramref name="a"/> and <paramref name="b"/>: as its fragments are
    /// routed (<see cref="ByKnownServer"/>), and from now on both endpoints are known to be that worker's.</summary>
    private int TunnelWorker(IpAddress a, IpAddress b)
    {
        int w = ByKnownServer(a, b);
        if (_servers.Count < MaxServers - 1)
        {
            _servers.TryAdd(a, (byte)w);
            _servers.TryAdd(b, (byte)w);
        }
        return w;
    }

    /// <summary>The server's address by ports alone, the same for both directions.</summary>
    private static IpAddress ServerOf(IpAddress a, ushort ap, IpAddress b, ushort bp)
    {
        bool aKnown = FlowTable.IsServicePort(ap), bKnown = FlowTable.IsServicePort(bp);
        if (aKnown != bKnown) return aKnown ? a : b;
        if (ap != bp) return ap < bp ? a : b;
        return a.CompareTo(b) <= 0 ? a : b;
    }

    private int ByKnownServer(IpAddress a, IpAddress b)
    {
        bool ak = _servers.TryGetValue(a, out byte wa), bk = _servers.TryGetValue(b, out byte wb);
        if (ak && bk) return a.CompareTo(b) <= 0 ? wa : wb;
        if (ak) return wa;
        if (bk) return wb;
        return (int)(Hash(a.CompareTo(b) <= 0 ? a : b) % (uint)_engines.Length);
    }

    private int WorkerOf(IpAddress server)
    {
        if (_servers.TryGetValue(server, out byte w)) return w;
        if (_servers.Count >= MaxServers) return (int)(Hash(server) % (uint)_engines.Length);
        w = 0;
        for (int i = 1; i < _engines.Length; i++)
            if (_load[i] < _load[w]) w = (byte)i;
        _servers[server] = w;
        return w;
    }

    private static uint Hash(IpAddress x)
    {
        ulong h = x.High * 0xBF58476D1CE4E5B9UL ^ x.Low;
        h ^= h >> 31; h *= 0x94D049BB133111EBUL; h ^= h >> 29;
        return (uint)(h >> 32);
    }

    /// <summary>After <see cref="EndOfInput"/>: the workers' results as one engine would have produced them.</summary>
    public CaptureAnalysis Complete(InputSummary input)
    {
        EndOfInput(input);
        return Merge(input);
    }

    /// <summary>
    /// After <see cref="Complete"/>: a retransmission storm (or SYN flood) may involve the flows of several workers, so
    /// the storm findings could differ from one engine's (the storm detector judges capture-wide windows). True when
    /// more than one worker analysed TCP segments and a worker reported a storm, or the workers' counts summed per
    /// second reach a storm or flood threshold in some window. <see cref="FileAnalyzer"/> then analyses the input again
    /// on one engine when it can be read twice.
    /// </summary>
    public bool StormsSpanWorkers { get; private set; }

    /// <summary>After <see cref="Complete"/>: capture time went backwards in the input by a second or more (the largest
    /// time so far was that much larger than a frame's), and some worker timed out an idle flow, a fragmented datagram or a DNS query. One engine
    /// walks its oldest-first lists across all flows and stops at the first that is not due, which with times out of
    /// order can differ from each worker walking its own.</summary>
    public bool TimeoutsOutOfOrder { get; private set; }

    /// <summary>After <see cref="Complete"/>: some frames were decapsulated (GRE, IP-in-IP, VXLAN, Geneve, MPLS, PPPoE,
    /// ...). Frames go to workers by their outer headers, but flows are keyed on the inner 5-tuple: the two directions
    /// of a tunnelled connection can reach two workers (VXLAN's source port differs per direction), which would split
    /// the connection in two.</summary>
    public bool Tunnelled { get; private set; }

    /// <summary>The workers' result may differ from one engine's (<see cref="StormsSpanWorkers"/>,
    /// <see cref="TimeoutsOutOfOrder"/> or <see cref="Tunnelled"/>): analyse the input again with one engine when it
    /// can be read twice.</summary>
    public bool NeedsOneEngine => StormsSpanWorkers || TimeoutsOutOfOrder || Tunnelled;

    private bool StormMayDiffer(CaptureAnalysis[] results)
    {
        if (_engines.Count(e => e.Shard!.TcpSegments > 0) < 2) return false;
        if (results.Any(r => r.Findings.Any(f => f.Kind == FindingKind.RetransmissionStorm))) return true;
        var o = _engines[0].StormOptions;
        var sum = new SortedDictionary<long, (long Data, long Retx, long Syns, long SynAcks)>();
        foreach (var e in _engines)
        {
            e.Shard!.FlushSecond();
            foreach (var (sec, c) in e.Shard.StormSeconds)
            {
                var t = sum.GetValueOrDefault(sec);
                sum[sec] = (t.Data + c.Data, t.Retx + c.Retx, t.Syns + c.Syns, t.SynAcks + c.SynAcks);
            }
        }
        long window = Math.Max(1, (long)Math.Ceiling(o.Window.TotalSeconds));
        var secs = sum.Keys.ToArray();
        for (int i = 0, start = 0; i < secs.Length; i++)
        {
            while (secs[start] <= secs[i] - window) start++;
            long data = 0, retx = 0, halfOpen = 0;
            for (int j = start; j <= i; j++) { var c = sum[secs[j]]; data += c.Data; retx += c.Retx; halfOpen += c.Syns - c.SynAcks; }
            double share = data == 0 ? 0 : (double)retx / data;
            if (retx >= o.MinRetransmissions && share >= o.MinShare || halfOpen >= o.FloodMinHalfOpen) return true;
        }
        return false;
    }

    private CaptureAnalysis Merge(InputSummary input)
    {
        var results = _results.Select(r => r ?? throw new InvalidOperationException("a worker did not finish")).ToArray();
        StormsSpanWorkers = StormMayDiffer(results);
        Tunnelled = results.Any(r => r.Decode.Decapsulated > 0);
        TimeoutsOutOfOrder = _timeWentBack &&
            (results.Any(r => r.Fragments.TimedOut > 0 || (r.Dns?.TimedOut ?? 0) > 0) || _engines.Any(e => e.Flows.Expired > 0 || e.Flows.EndedTimedOut > 0))
            || _engines.Any(e => e.Flows.EndedOutOfOrder > 0);

        // Flow ids: in the order the flows were created, from the first id this input was given.
        var created = new List<(int Id, long Frame)>();
        foreach (var e in _engines) created.AddRange(e.Shard!.Created);
        created.Sort((x, y) => x.Frame.CompareTo(y.Frame));
        var ids = new Dictionary<int, int>(created.Count);
        for (int i = 0; i < created.Count; i++) ids[created[i].Id] = _firstFlowId + i;
        int Map(int id) => ids.TryGetValue(id, out int n) ? n : id;

        // Flows in the order they closed.
        var closed = new List<(RaiseKey Key, Flow Flow)>();
        long notReported = 0, evicted = 0;
        for (int w = 0; w < _engines.Length; w++)
        {
            var keys = _engines[w].Shard!.Closed;
            var flows = results[w].Flows;
            for (int i = 0; i < flows.Count; i++) closed.Add((keys[i], flows[i]));
            notReported += results[w].FlowsNotReported;
            evicted += results[w].FlowsEvicted;
        }
        closed.Sort((x, y) => x.Key.CompareTo(y.Key));
        int maxReported = _options.Flows.MaxReportedFlows;
        if (closed.Count > maxReported)
        {
            notReported += closed.Count - maxReported;
            closed.RemoveRange(maxReported, closed.Count - maxReported);
        }
        var allFlows = new List<Flow>(closed.Count);
        foreach (var (_, f) in closed)
        {
            f.Id = Map(f.Id);
            if (f.Timeline is { } tl) tl.FlowId = f.Id;
            if (f.App is DnsFlowState dns)
                foreach (var t in dns.Transactions) t.FlowId = Map(t.FlowId);
            allFlows.Add(f);
        }

        // Incomplete datagrams in the order they were recorded.
        var incomplete = new List<(RaiseKey Key, IncompleteDatagram D)>();
        for (int w = 0; w < _engines.Length; w++)
        {
            var keys = _engines[w].Shard!.Incomplete;
            var list = results[w].IncompleteDatagrams;
            for (int i = 0; i < list.Count; i++) incomplete.Add((keys[i], list[i]));
        }
        incomplete.Sort((x, y) => x.Key.CompareTo(y.Key));

        var log = FindingLog.Merge(results.Select(r => r.Log).ToArray(), v => Remap(v, Map), Map, _options.FindingEvents);

        var decode = new DecodeCounters();
        var fragments = new ReassemblyCounters();
        var dnsCounters = new DnsCounters();
        SmtpStats? smtp = results[0].Smtp is null ? null : new SmtpStats();
        foreach (var r in results)
        {
            Counters.Add(decode, r.Decode);
            Counters.Add(fragments, r.Fragments);
            if (r.Dns is not null) Counters.Add(dnsCounters, r.Dns);
            if (smtp is not null && r.Smtp is not null) Counters.Add(smtp, r.Smtp);
        }
        return new CaptureAnalysis
        {
            Input = input,
            Decode = decode,
            Fragments = fragments,
            IncompleteDatagrams = incomplete.Select(x => x.D).ToArray(),
            Flows = allFlows,
            FlowsEvicted = evicted,
            FlowsNotReported = notReported,
            Decoded = results.Sum(r => r.Decoded),
            FragmentsHeld = results.Sum(r => r.FragmentsHeld),
            OffloadFrames = results.Sum(r => r.OffloadFrames),
            AckedUnseen = results.Sum(r => r.AckedUnseen),
            Dns = dnsCounters,
            Smtp = smtp,
            Log = log,
        };
    }

    /// <summary>A verdict with the flows it names renumbered (also the flows of the verdicts it holds).</summary>
    internal static Verdict Remap(Verdict v, Func<int, int> id)
    {
        if (v.Flows.Count > 0)
        {
            var flows = new FlowFacts[v.Flows.Count];
            for (int i = 0; i < flows.Length; i++) flows[i] = v.Flows[i] with { Id = id(v.Flows[i].Id) };
            v = v with { Flows = flows };
        }
        return v switch
        {
            DnsTruncatedVerdict d when d.TcpFlow is int t => d with { TcpFlow = id(t) },
            FragmentLossVerdict f when f.RetryFlow != 0 => f with { RetryFlow = id(f.RetryFlow) },
            SmtpFailureVerdict s => s with
            {
                StallBefore = s.StallBefore is { } st ? (StallVerdict)Remap(st, id) : null,
                BlackHole = s.BlackHole is { } bh ? (BlackHoleVerdict)Remap(bh, id) : null,
            },
            SmtpAbortedVerdict a => a with
            {
                Stall = a.Stall is { } st ? (StallVerdict)Remap(st, id) : null,
                BlackHole = a.BlackHole is { } bh ? (BlackHoleVerdict)Remap(bh, id) : null,
            },
            _ => v,
        };
    }

    /// <summary>Sums counter objects field by field (long and int fields and properties, long arrays, per-key
    /// dictionaries); a "Peak…" number takes the largest (each worker's peak: the capture-wide peak is not known).</summary>
    internal static class Counters
    {
        private const BindingFlags All = BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic;

        public static void Add<[System.Diagnostics.CodeAnalysis.DynamicallyAccessedMembers(
            System.Diagnostics.CodeAnalysis.DynamicallyAccessedMemberTypes.PublicFields | System.Diagnostics.CodeAnalysis.DynamicallyAccessedMemberTypes.NonPublicFields)] T>(T into, T from) where T : class
        {
            foreach (var f in typeof(T).GetFields(All))
            {
                if (f.Name.Contains("k__BackingField", StringComparison.Ordinal))
                {
                    string name = f.Name[1..f.Name.IndexOf('>')];
                    if (f.FieldType == typeof(long))
                        f.SetValue(into, name.StartsWith("Peak", StringComparison.Ordinal)
                            ? Math.Max((long)f.GetValue(into)!, (long)f.GetValue(from)!) : (long)f.GetValue(into)! + (long)f.GetValue(from)!);
                    else if (f.FieldType == typeof(int)) f.SetValue(into, (int)f.GetValue(into)! + (int)f.GetValue(from)!);
                    continue;
                }
                if (f.FieldType == typeof(long)) f.SetValue(into, (long)f.GetValue(into)! + (long)f.GetValue(from)!);
                else if (f.FieldType == typeof(int)) f.SetValue(into, (int)f.GetValue(into)! + (int)f.GetValue(from)!);
                else if (f.FieldType == typeof(long[]))
                {
                    var a = (long[])f.GetValue(into)!;
                    var b = (long[])f.GetValue(from)!;
                    for (int i = 0; i < Math.Min(a.Length, b.Length); i++) a[i] += b[i];
                }
                else if (f.FieldType == typeof(Dictionary<int, long>))
                {
                    var a = (Dictionary<int, long>)f.GetValue(into)!;
                    foreach (var (k, n) in (Dictionary<int, long>)f.GetValue(from)!) a[k] = a.GetValueOrDefault(k) + n;
                }
                else if (!f.IsInitOnly || f.FieldType.IsValueType)
                    throw new NotSupportedException($"{typeof(T).Name}.{f.Name}: a counter field of type {f.FieldType.Name} has no merge rule");
            }
        }
    }

    private sealed class FrameBatch
    {
        public byte[] Bytes = new byte[BatchBytes];
        public int Used;
        public int Count;
        public long FirstIndex;
        /// <summary>Live capture: a time tick instead of frames (0: none).</summary>
        public long Ticks;
        public int Pending;
        public readonly int[] Offset = new int[BatchFrames];
        public readonly int[] Length = new int[BatchFrames];
        public readonly int[] OriginalLength = new int[BatchFrames];
        public readonly int[] LinkType = new int[BatchFrames];
        public readonly int[] Interface = new int[BatchFrames];
        public readonly long[] Time = new long[BatchFrames];
        public readonly byte[] Worker = new byte[BatchFrames];
        public readonly byte[] Flags = new byte[BatchFrames];
    }
}
