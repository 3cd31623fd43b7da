using PathProbe.Flows.Streams;
using PathProbe.Primitives;

namespace PathProbe.Protocols.Smtp;

/// <summary>
/// Decodes one SMTP connection (RFC 5321) from its two reassembled byte streams, fed in capture order.
/// </summary>
/// <remarks>
/// <para>Commands are paired with replies in order through a FIFO, so PIPELINING (RFC 2920) needs nothing special.
/// The transaction state follows the server's verdicts, applied in reply order (RFC 5321 4.1.4, 4.3.2): a command
/// refused with 503 changes nothing; a refused MAIL opens no transaction, and one refused while a transaction is open
/// ("503 sender already given") leaves that one open with everything pipelined after it; a refused DATA or BDAT keeps
/// the transaction open; RSET, and MAIL after a completed transaction, start the next one. Recipients are kept per
/// transaction, each with its own reply.</para>
/// <para>DATA counts the message (dot-stuffing undone, RFC 5321 4.5.2) without keeping it; BDAT chunks (RFC 3030) are
/// skipped by their exact length; after the 220 to STARTTLS (RFC 3207), or from the start for implicit TLS
/// (port 465, RFC 8314), bytes are only counted. AUTH (RFC 4954) keeps the mechanism and the result: the initial
/// response and every continuation line are skipped, never decoded. A proxy preamble before the dialogue (HTTP
/// CONNECT, PROXY protocol v1/v2, SOCKS 4/5) is read and noted (<see cref="Proxy"/>).</para>
/// <para>Bytes missing from the capture (gaps): inside DATA the body scan goes on and the server's end-of-data reply
/// ends it; inside BDAT the chunk's declared remainder is skipped when the gap fits in it; anywhere else the position
/// is unknown, so client lines are held until one that is a valid command is confirmed by a matching server reply
/// (<see cref="SmtpAnomalies.Resyncs"/>). Message content is never read as commands.</para>
/// <para>Hostile input never throws and never grows memory without bound: lines are capped
/// (<see cref="SmtpLimits.HardLineCap"/>), kept commands, transactions and recipients are capped and the rest
/// counted. Scanning a message body allocates nothing; kept strings (names, addresses, reply texts) are allocated
/// once per command and cleaned for display.</para>
/// <para>Feed it from <see cref="TcpStreamReassembler"/> through <see cref="Client"/> and <see cref="Server"/>, or
/// call <see cref="OnClientData"/> etc. directly. Not thread-safe.</para>
/// </remarks>
public sealed partial class SmtpSession
{
    private enum ClientMode : byte { Command, Body, Bdat, Auth, AwaitTls, Tls, Resync, Dead }

    /// <summary>Line assembly for one direction. The buffer is allocated on the first line split across segments.</summary>
    private struct Framer
    {
        public byte[]? Buffer;
        public int Length;
        /// <summary>Bytes of the current line seen so far, including those beyond the cap.</summary>
        public long Total;
        /// <summary>After a gap: the current line's start was lost, so skip to the next line.</summary>
        public bool SkipToEol;

        public void Reset() { Length = 0; Total = 0; }
    }

    private readonly SmtpLimits _limits;
    private readonly Timestamp _connectTime;
    /// <summary>Start of the greeting delay: the connection, or the end of a proxy exchange.</summary>
    private Timestamp _greetingClock;
    private ClientMode _clientMode;
    private bool _serverTls;
    private bool _serverDead;
    // What only the decoding of further bytes needs (Decoding): given to the next sessions of this thread when the
    // session's flow closes (ReleaseBuffers), so that a session kept for the report does not hold it.
    private Decoding? _decoding;
    private Decoding D => _decoding ??= PathProbe.Flows.ThreadSpares<Decoding>.Take() ?? new Decoding();

    /// <summary>The decoder's working state: line assembly per direction, the reply being assembled, the commands
    /// waiting for replies, client bytes held while resynchronising, and the first bytes probed for a proxy preamble
    /// or a banner.</summary>
    private sealed class Decoding
    {
        public Framer ClientFramer, ServerFramer;
        /// <summary>Client bytes since the position was lost, held until a reply confirms a command among them.</summary>
        public byte[]? Hold;
        public int HoldLen;
        public Timestamp HoldTime;
        /// <summary>The held bytes end inside a line too long to hold: skip to its end.</summary>
        public bool HoldSkipLine;
        public PendingQueue Pending;
        // The reply being assembled (multi-line: "250-" lines, then "250 ").
        public bool ReplyActive;
        public ReplyTarget ReplyTarget;
        public int ReplyCode;
        public int ReplyLines;
        public string? ReplyText;
        public string? ReplyEnhanced;
        public List<string>? ReplyMore;
        public SmtpCapabilities? NewCaps;
        public uint BannerProbe;
        public int BannerProbeLen;
        public byte[]? Probe;
        public int ProbeLen;
        public Timestamp ProbeTime;

        /// <summary>Everything as in a new one but the list for reply lines and the ring of pending commands, kept
        /// empty; the framers' buffers (sized by the session's limits) go to the collector.</summary>
        public void Clear()
        {
            var more = ReplyMore;
            Pending.Clear();
            ClientFramer = default; ServerFramer = default;
            Hold = null; HoldLen = 0; HoldTime = default; HoldSkipLine = false;
            ReplyActive = false; ReplyTarget = default; ReplyCode = 0; ReplyLines = 0; ReplyText = null; ReplyEnhanced = null;
            NewCaps = null; BannerProbe = 0; BannerProbeLen = 0; Probe = null; ProbeLen = 0; ProbeTime = default;
            more?.Clear();
            ReplyMore = more;
        }
    }
    private const int SpareDecodings = 1024;

    private readonly List<SmtpCommand> _commands = new();
    private readonly List<SmtpTransaction> _transactions = new();
    // Made with the session's first anomaly: most sessions have none (184 bytes of counters not kept with each).
    private AnomaliesBox? _anomalies;
    private sealed class AnomaliesBox { public SmtpAnomalies Value; }
    private ref SmtpAnomalies AnomaliesToWrite => ref (_anomalies ??= new()).Value;

    /// <param name="connectTime">Time the connection was set up (SYN, or first packet): the greeting delay is
    /// measured from it.</param>
    /// <param name="implicitTls">TLS from the first byte (SMTP submission over TLS, port 465).</param>
    public SmtpSession(Timestamp connectTime, bool implicitTls = false, SmtpLimits? limits = null)
    {
        _limits = limits ?? SmtpLimits.Default;
        _connectTime = connectTime;
        _greetingClock = connectTime;
        ImplicitTls = implicitTls;
        _preambleCheck = !implicitTls;
        if (implicitTls)
        {
            _clientMode = ClientMode.Tls;
            _serverTls = true;
            CurrentPhase = SmtpPhase.Tls;
        }
    }

    // ---- what the engine reads -----------------------------------------------------------------
    public bool ImplicitTls { get; }
    public SmtpPhase CurrentPhase { get; private set; }
    /// <summary>Index of the latest transaction (counting those not kept), or -1.</summary>
    public int TransactionIndex { get; private set; } = -1;
    /// <summary>Message bytes sent so far in the current DATA or BDAT (RFC 5321 size).</summary>
    public long CurrentMessageBytes => CurrentTransaction?.MessageBytes ?? 0;
    /// <summary>The transaction the client is sending (MAIL sent, data not finished), or the latest one.</summary>
    public SmtpTransaction? CurrentTransaction => _currentTx ?? (_transactions.Count > 0 ? _transactions[^1] : null);

    /// <summary>First line of the greeting with its code ("220 mx.example ESMTP"), cleaned; null before it.</summary>
    public string? Banner { get; private set; }
    public SmtpReply? Greeting { get; private set; }
    /// <summary>Connect (or the end of a proxy exchange) → greeting.</summary>
    public TimeSpan? GreetingDelay => Greeting == null ? null : TimeSpan.FromTicks((Greeting.Time.UnixNanoseconds - _greetingClock.UnixNanoseconds) / 100);
    /// <summary>The proxy exchange before the dialogue (HTTP CONNECT, PROXY v1/v2, SOCKS), or null.</summary>
    public SmtpProxy? Proxy => _preamble?.Proxy;
    /// <summary>After a proxy exchange: whether the server's first bytes were an SMTP greeting (null until they come).</summary>
    public bool? BannerAfterProxy { get; private set; }
    /// <summary>Name in the latest EHLO/HELO.</summary>
    public string? EhloName { get; private set; }
    public bool UsedHelo { get; private set; }
    /// <summary>Capabilities of the latest successful EHLO reply.</summary>
    public SmtpCapabilities? Capabilities { get; private set; }
    /// <summary>Mechanism of the latest AUTH, and its final reply code (0 while running).</summary>
    public string? AuthMechanism { get; private set; }
    public int AuthResult { get; private set; }
    /// <summary>STARTTLS was accepted (220): everything after is encrypted.</summary>
    public bool TlsStarted { get; private set; }
    public Timestamp? TlsStartTime { get; private set; }

    public IReadOnlyList<SmtpCommand> Commands => _commands;
    public IReadOnlyList<SmtpTransaction> Transactions => _transactions;
    public SmtpAnomalies Anomalies => _anomalies?.Value ?? default;

    public long ClientBytes { get; private set; }
    public long ServerBytes { get; private set; }
    /// <summary>Bytes after TLS started (not decoded).</summary>
    public long ClientTlsBytes { get; private set; }
    public long ServerTlsBytes { get; private set; }
    public Timestamp? ClientLastTime { get; private set; }
    public Timestamp? ServerLastTime { get; private set; }
    /// <summary>Why a direction stopped being decoded (reassembly bound), or null.</summary>
    public string? ClientAbandoned { get; private set; }
    public string? ServerAbandoned { get; private set; }
    public bool Finished { get; private set; }
    public string? CloseReason { get; private set; }

    // ---- sinks for the stream reassembler -------------------------------------------------------

    /// <summary>Sink for the client → server stream.</summary>
    public ClientSink Client => new(this);
    /// <summary>Sink for the server → client stream.</summary>
    public ServerSink Server => new(this);

    public readonly struct ClientSink(SmtpSession session) : ITcpStreamSink
    {
        public void OnData(ReadOnlySpan<byte> data, Timestamp time) => session.OnClientData(data, time);
        public void OnGap(int bytes, Timestamp time) => session.OnClientGap(bytes, time);
        public void OnAbandon(string reason) => session.OnClientAbandon(reason);
    }

    public readonly struct ServerSink(SmtpSession session) : ITcpStreamSink
    {
        public void OnData(ReadOnlySpan<byte> data, Timestamp time) => session.OnServerData(data, time);
        public void OnGap(int bytes, Timestamp time) => session.OnServerGap(bytes, time);
        public void OnAbandon(string reason) => session.OnServerAbandon(reason);
    }

    // ---- input ---------------------------------------------------------------------------------

    /// <summary>In-order client → server bytes. The span is only read during the call.</summary>
    public void OnClientData(ReadOnlySpan<byte> data, Timestamp time)
    {
        ClientBytes += data.Length;
        ClientLastTime = time;
        if (_preambleCheck || _preamble is { ClientDone: false })
        {
            data = ClientPreamble(data, time);
            if (data.IsEmpty) return;
        }
        ClientStream(data, time);
    }

    private void ClientStream(ReadOnlySpan<byte> data, Timestamp time)
    {
        while (!data.IsEmpty)
        {
            switch (_clientMode)
            {
                case ClientMode.Tls:
                    ClientTlsBytes += data.Length;
                    return;
                case ClientMode.Dead:
                    return;
                case ClientMode.Body:
                    data = data[ScanBody(data, time)..];
                    break;
                case ClientMode.Bdat:
                    data = data[SkipBdat(data, time)..];
                    break;
                case ClientMode.Resync:
                    HoldForResync(data, time);
                    return;
                default:
                    data = data[FrameLine(ref D.ClientFramer, data, time, client: true)..];
                    break;
            }
        }
    }

    /// <summary>In-order server → client bytes.</summary>
    public void OnServerData(ReadOnlySpan<byte> data, Timestamp time)
    {
        ServerBytes += data.Length;
        ServerLastTime = time;
        _preambleCheck = false; // the server spoke first: no proxy preamble
        if (_preamble is { } pre && !_serverDead)
        {
            if (!pre.ServerDone)
            {
                data = data[pre.Server(data, time)..];
                AfterPreambleStep();
            }
            // The first bytes after the tunnel came up tell whether SMTP runs inside it (four are enough).
            if (BannerAfterProxy is null && pre.Proxy.State == SmtpProxyState.Established && !data.IsEmpty)
                CheckBannerAfterProxy(data);
        }
        while (!data.IsEmpty)
        {
            if (_serverDead) return;
            if (_serverTls) { ServerTlsBytes += data.Length; return; }
            data = data[FrameLine(ref D.ServerFramer, data, time, client: false)..];
        }
    }

    /// <summary>Decides <see cref="BannerAfterProxy"/> on the server's first four bytes after the tunnel came up,
    /// keeping fewer while they still start a greeting code.</summary>
    private void CheckBannerAfterProxy(ReadOnlySpan<byte> data)
    {
        Span<byte> look = stackalloc byte[4];
        for (int i = 0; i < D.BannerProbeLen; i++) look[i] = (byte)(D.BannerProbe >> (8 * i));
        int n = Math.Min(4 - D.BannerProbeLen, data.Length);
        data[..n].CopyTo(look[D.BannerProbeLen..]);
        int have = D.BannerProbeLen + n;
        if (have < 4 && ("220"u8.StartsWith(look[..have]) || "421"u8.StartsWith(look[..have]) || "554"u8.StartsWith(look[..have])))
        {
            for (int i = D.BannerProbeLen; i < have; i++) D.BannerProbe |= (uint)look[i] << (8 * i);
            D.BannerProbeLen = have;
            return;
        }
        BannerAfterProxy = have == 4 && LooksLikeGreeting(look);
    }

    /// <summary>"220", "421" or "554" (RFC 5321 4.3.2, connection establishment) followed by a space, a hyphen or a
    /// control character (a banner "220&lt;ESC&gt;..." is still a greeting), or the start of one cut short.</summary>
    public static bool LooksLikeGreeting(ReadOnlySpan<byte> d)
    {
        if (d.Length < 3) return false;
        bool code = d[0] == (byte)'2' && d[1] == (byte)'2' && d[2] == (byte)'0' ||
                    d[0] == (byte)'4' && d[1] == (byte)'2' && d[2] == (byte)'1' ||
                    d[0] == (byte)'5' && d[1] == (byte)'5' && d[2] == (byte)'4';
        return code && (d.Length == 3 || IsReplySeparator(d[3]));
    }

    /// <summary>What may follow a reply code: SP or "-" (RFC 5321 4.2), or a control character, which is read as the
    /// start of the text (counted in <see cref="SmtpAnomalies.OddReplySeparators"/>).</summary>
    internal static bool IsReplySeparator(byte b) => b is (byte)' ' or (byte)'-' or < 0x20 or 0x7F;

    // ---- proxy preamble ------------------------------------------------------------------------

    /// <summary>The proxy exchange <paramref name="firstClientBytes"/> start (the whole signature must be there), or
    /// null. For detecting SMTP behind a proxy on ports that are not SMTP ports.</summary>
    public static SmtpProxyKind? ProxyPreambleStart(ReadOnlySpan<byte> firstClientBytes) =>
        SmtpPreamble.Check(firstClientBytes, out var kind) == SmtpPreamble.Detect.Yes ? kind : null;

    private bool _preambleCheck;
    private SmtpPreamble? _preamble;

    /// <summary>The client's first bytes: a proxy preamble is consumed (and noted); anything else is returned for the
    /// SMTP decoder. Up to 12 bytes are kept while they could still start a preamble signature.</summary>
    private ReadOnlySpan<byte> ClientPreamble(ReadOnlySpan<byte> data, Timestamp time)
    {
        if (_preambleCheck)
        {
            SmtpPreamble.Detect d;
            SmtpProxyKind kind;
            if (D.ProbeLen == 0) d = SmtpPreamble.Check(data, out kind);
            else
            {
                Span<byte> look = stackalloc byte[16];
                D.Probe.AsSpan(0, D.ProbeLen).CopyTo(look);
                int n = Math.Min(data.Length, look.Length - D.ProbeLen);
                data[..n].CopyTo(look[D.ProbeLen..]);
                d = SmtpPreamble.Check(look[..(D.ProbeLen + n)], out kind);
            }
            if (d == SmtpPreamble.Detect.NeedMore && D.ProbeLen + data.Length < 16)
            {
                D.Probe ??= new byte[16];
                if (D.ProbeLen == 0) D.ProbeTime = time;
                data.CopyTo(D.Probe.AsSpan(D.ProbeLen));
                D.ProbeLen += data.Length;
                return default;
            }
            _preambleCheck = false;
            if (d != SmtpPreamble.Detect.Yes)
            {
                if (D.ProbeLen > 0)
                {
                    int held = D.ProbeLen;
                    D.ProbeLen = 0;
                    ClientStream(D.Probe.AsSpan(0, held), D.ProbeTime);
                }
                return data;
            }
            _preamble = new SmtpPreamble(kind, D.ProbeLen > 0 ? D.ProbeTime : time);
            if (D.ProbeLen > 0)
            {
                int held = D.ProbeLen;
                D.ProbeLen = 0;
                _preamble.Client(D.Probe.AsSpan(0, held), D.ProbeTime);
            }
        }
        var pre = _preamble!;
        if (!pre.ClientDone) data = data[pre.Client(data, time)..];
        AfterPreambleStep();
        return data;
    }

    private bool _preambleSettled;

    private void AfterPreambleStep()
    {
        if (_preambleSettled || _preamble is not { } pre) return;
        if (pre.Proxy.State == SmtpProxyState.Established)
        {
            _preambleSettled = true;
            _greetingClock = pre.Proxy.EstablishedTime ?? _greetingClock;
        }
        else if (pre.Proxy.State == SmtpProxyState.Failed)
        {
            _preambleSettled = true;
            AnomaliesToWrite.ProxyPreambleInvalid++;
        }
    }

    /// <summary>Set while the connection flushes holes nobody acknowledged (end of input, RST, close): bytes lost on
    /// the path or not yet resent, so not counted in <see cref="SmtpTransaction.CaptureGapBytes"/>.</summary>
    internal bool FlushingUnacknowledged { get; set; }

    /// <summary>Bytes of the client stream that will never be seen: the peer acknowledged bytes the capture missed, a
    /// snap length cut them, or (<see cref="FlushingUnacknowledged"/>) a hole was left at the end.</summary>
    public void OnClientGap(int bytes, Timestamp time)
    {
        AnomaliesToWrite.ClientGaps++;
        AnomaliesToWrite.GapBytes += bytes;
        ClientBytes += bytes;
        if (_preambleCheck || _preamble is { ClientDone: false })
        {
            // Lost inside (or instead of) a proxy preamble: where SMTP starts is unknown.
            _preambleCheck = false;
            D.ProbeLen = 0;
            if (_preamble is { } pre && !pre.ClientDone) { pre.Abandon("bytes missing from the capture"); AfterPreambleStep(); }
            StartResync(time);
            return;
        }
        if (!FlushingUnacknowledged && _clientMode is not (ClientMode.Tls or ClientMode.Dead) && (_currentTx ?? _serverTx) is { } tx)
            tx.CaptureGapBytes += bytes;
        switch (_clientMode)
        {
            case ClientMode.Tls: ClientTlsBytes += bytes; break;
            case ClientMode.Dead: break;
            // The body scan goes on: the terminating dot, or the server's end-of-data reply, ends it.
            case ClientMode.Body: BodyGap(bytes); break;
            case ClientMode.Bdat:
                // RFC 3030: the chunk's remainder is known; a gap that fits in it is skipped exactly.
                if (bytes <= _bdatRemaining) { SkipBdat(bytes, time); break; }
                // Past the chunk's end: what else the client sent (more chunks?) is unknown.
                if (_currentTx != null) _currentTx.SizeApproximate = true;
                SkipBdat(_bdatRemaining, time);
                StartResync(time);
                break;
            // AUTH continuation lines are skipped anyway; the next line after the gap is still one of them.
            case ClientMode.Auth or ClientMode.AwaitTls: LoseLine(ref D.ClientFramer); break;
            case ClientMode.Resync: DropPartialHold(); break;
            default: StartResync(time); break;
        }
    }

    public void OnServerGap(int bytes, Timestamp time)
    {
        AnomaliesToWrite.ServerGaps++;
        AnomaliesToWrite.GapBytes += bytes;
        ServerBytes += bytes;
        if (_serverTls) ServerTlsBytes += bytes;
        else LoseLine(ref D.ServerFramer);
    }

    public void OnClientAbandon(string reason)
    {
        ClientAbandoned = reason;
        if (_clientMode == ClientMode.Resync) EndResyncUnconfirmed();
        if (_clientMode != ClientMode.Tls) _clientMode = ClientMode.Dead;
    }

    public void OnServerAbandon(string reason)
    {
        ServerAbandoned = reason;
        _serverDead = true;
    }

    /// <summary>The connection ended normally (FIN both ways): an open transaction is aborted.</summary>
    public void Close(Timestamp time) => End("connection closed", time, SmtpOutcome.Aborted);

    /// <summary>The TCP layer gave up on the connection (RST, stalled mid-DATA, idle timeout): an open transaction
    /// is aborted with <paramref name="reason"/> and keeps the phase it stalled in (<see cref="SmtpTransaction.EndPhase"/>).</summary>
    public void Abort(string reason, Timestamp time) => End(reason, time, SmtpOutcome.Aborted);

    /// <summary>The capture ended: open transactions become incomplete; <see cref="CurrentPhase"/> is left as it was,
    /// so the caller can say where the session stood.</summary>
    public void Finish(Timestamp time)
    {
        if (Finished || CloseReason != null) return;
        Finished = true;
        if (_clientMode == ClientMode.Resync) EndResyncUnconfirmed();
        foreach (var tx in _transactions) EndTransaction(tx, SmtpOutcome.Incomplete, "capture ended", time);
        if (_scratchTx != null) EndTransaction(_scratchTx, SmtpOutcome.Incomplete, "capture ended", time);
    }

    /// <summary>Drops the decoder's working state of a session whose connection is gone (the line-assembly buffers, up
    /// to <see cref="SmtpLimits.HardLineCap"/> bytes per direction, the reply being assembled, the queue of commands
    /// awaiting replies, held and probed bytes), so a closed session kept for the report holds only its summary; the
    /// state goes, cleared, to the next sessions of this thread. A partial line or reply is discarded; data fed
    /// afterwards is decoded from a fresh line start, and a reply to a command sent before is taken as unsolicited.</summary>
    public void ReleaseBuffers()
    {
        // Commands still waiting for a reply when the session ended are in the commands kept for the report.
        if (_decoding is not { } d) return;
        _decoding = null;
        d.Clear();
        PathProbe.Flows.ThreadSpares<Decoding>.Give(d, SpareDecodings);
    }

    private void End(string reason, Timestamp time, SmtpOutcome outcome)
    {
        if (CloseReason != null) return;
        CloseReason = reason;
        if (_clientMode == ClientMode.Resync) EndResyncUnconfirmed();
        foreach (var tx in _transactions) EndTransaction(tx, outcome, reason, time);
        if (_scratchTx != null) EndTransaction(_scratchTx, outcome, reason, time);
        CurrentPhase = SmtpPhase.Closed;
    }

    // ---- line framing --------------------------------------------------------------------------

    private static void LoseLine(ref Framer f)
    {
        f.Reset();
        f.SkipToEol = true;
    }

    /// <summary>Frames at most one line (CRLF, or bare LF) and hands it to the client or server handler.
    /// Returns the bytes consumed. A line in one span is parsed in place; a split one is assembled in the
    /// framer's buffer. Either way only the first <see cref="SmtpLimits.HardLineCap"/> bytes are kept.</summary>
    private int FrameLine(ref Framer f, ReadOnlySpan<byte> data, Timestamp time, bool client)
    {
        int cap = _limits.HardLineCap;
        int lf = data.IndexOf((byte)'\n');
        int take = lf < 0 ? data.Length : lf;
        if (f.SkipToEol)
        {
            if (lf < 0) return data.Length;
            f.SkipToEol = false;
            return lf + 1;
        }
        if (lf < 0 || f.Length > 0)
        {
            f.Buffer ??= new byte[cap];
            int n = Math.Min(take, cap - f.Length);
            data[..n].CopyTo(f.Buffer.AsSpan(f.Length));
            f.Length += n;
            f.Total += take;
            if (lf < 0) return data.Length;
        }
        else
        {
            f.Total = take;
        }

        ReadOnlySpan<byte> line = f.Length > 0 ? f.Buffer.AsSpan(0, f.Length) : data[..Math.Min(take, cap)];
        long total = f.Total + 1; // with the LF
        bool truncated = f.Total > cap;
        f.Reset();

        if (truncated) AnomaliesToWrite.TruncatedLines++;
        if (line.Length > 0 && line[^1] == (byte)'\r' && !truncated) line = line[..^1];
        else if (!truncated) AnomaliesToWrite.BareLfLines++;
        if (total > (client ? 1000 : 512)) AnomaliesToWrite.LongLines++; // RFC 5321 4.5.3.1.4, 4.5.3.1.5
        // Counters made only for a line with such bytes (most sessions have none), scanned once.
        if (SmtpText.FirstOdd(line) is var odd and >= 0) SmtpText.CountOdd(line[odd..], ref AnomaliesToWrite);

        if (client) ClientLine(line, time);
        else ServerLine(line, time);
        return lf + 1;
    }
}
