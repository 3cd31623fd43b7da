using PathProbe.Primitives;
using Verb = PathProbe.Protocols.Smtp.SmtpCommandKind;

namespace PathProbe.Protocols.Smtp;

public sealed partial class SmtpSession
{
    /// <summary>DATA body scanner states (RFC 5321 4.1.1.4: the data ends with CRLF "." CRLF).</summary>
    private enum BodyState : byte { LineStart, Dot, DotCr, Mid }

    /// <summary>The transaction the client is sending, as the client sees it: set by MAIL, kept by a refused DATA,
    /// cleared by the end of the data, RSET, QUIT or EHLO. Commands are attributed to it when sent; the server's reply
    /// to MAIL settles whether it was ever opened (see <see cref="_serverTx"/>).</summary>
    private SmtpTransaction? _currentTx;
    /// <summary>Stands in for transactions past <see cref="SmtpLimits.MaxTransactions"/>, so the state machine
    /// keeps working without keeping them.</summary>
    private SmtpTransaction? _scratchTx;
    private BodyState _bodyState;
    private bool _bodyPrevCr;
    private long _bdatRemaining;
    private bool _bdatLast;
    private SmtpPhase _phaseBeforeStartTls;

    private void ClientLine(ReadOnlySpan<byte> line, Timestamp time)
    {
        if (_clientMode == ClientMode.Auth)
        {
            // RFC 4954 4: client responses to 334 challenges are credentials (or "*" to cancel). Never decoded.
            AnomaliesToWrite.AuthLinesSkipped++;
            return;
        }
        if (_clientMode == ClientMode.AwaitTls)
        {
            // The client must wait for the 220 before starting TLS (RFC 3207 4); plaintext sent before it would be
            // executed inside the TLS session by a vulnerable server (command injection).
            AnomaliesToWrite.BytesAfterStartTls += line.Length + 2;
            return;
        }

        var verbBytes = SmtpText.Token(line, out var args);
        Verb verb = ParseVerb(verbBytes, out string verbText);
        if (verb == Verb.Unknown)
        {
            AnomaliesToWrite.UnknownCommands++;
            if (verbBytes.IsEmpty) verbText = "(empty)";
        }

        switch (verb)
        {
            case Verb.Ehlo:
            case Verb.Helo:
            {
                var name = SmtpText.Token(args, out _);
                EhloName = SmtpText.Shared(name, _limits.MaxTextLength);
                UsedHelo = verb == Verb.Helo;
                // RFC 5321 4.1.4: EHLO in the middle of a transaction resets it.
                if (_currentTx != null) ClientEndsTransaction(_currentTx, $"{verbText} before the end of the data", time);
                CurrentPhase = SmtpPhase.Ehlo;
                Record(verb, verbText, KeepArg(args), time, null, null);
                break;
            }
            case Verb.Mail:
                StartTransaction(args, time);
                break;
            case Verb.Rcpt:
                AddRecipient(args, time);
                break;
            case Verb.Data:
                if (_currentTx != null) _currentTx.DataCommandTime ??= time;
                CurrentPhase = SmtpPhase.DataCommand;
                // The body is scanned from the next byte on, before the 354 arrives: a client that does not wait
                // for it is still counted right. A reply other than 354 switches back to commands; the client
                // waits for that reply, so no command is misread as body.
                _clientMode = ClientMode.Body;
                _bodyState = BodyState.LineStart;
                _bodyPrevCr = false; // the body starts at a line start: an empty first line "\n" is a bare LF
                Record(verb, verbText, null, time, _currentTx, null);
                break;
            case Verb.Bdat:
                StartBdat(args, verbText, time);
                break;
            case Verb.Rset:
                if (_currentTx != null) ClientEndsTransaction(_currentTx, "client sent RSET", time);
                CurrentPhase = SmtpPhase.Ready;
                Record(verb, verbText, null, time, null, null);
                break;
            case Verb.Quit:
                if (_currentTx != null) ClientEndsTransaction(_currentTx, "client sent QUIT", time);
                CurrentPhase = SmtpPhase.Quit;
                Record(verb, verbText, null, time, null, null);
                break;
            case Verb.StartTls:
                _phaseBeforeStartTls = CurrentPhase;
                CurrentPhase = SmtpPhase.StartTls;
                _clientMode = ClientMode.AwaitTls;
                Record(verb, verbText, null, time, null, null);
                break;
            case Verb.Auth:
            {
                // Only the mechanism; the optional initial response (RFC 4954 4) is a credential.
                var mech = SmtpText.Token(args, out _);
                AuthMechanism = SmtpText.Shared(mech, 40, upper: true);
                AuthResult = 0;
                CurrentPhase = SmtpPhase.Auth;
                _clientMode = ClientMode.Auth;
                Record(verb, verbText, AuthMechanism, time, null, null);
                break;
            }
            default:
                // NOOP, VRFY, EXPN, HELP and unknown verbs: by name only (VRFY/EXPN arguments are addresses probed,
                // unknown ones may be anything).
                Record(verb, verbText, null, time, null, null);
                break;
        }
    }

    private string? KeepArg(ReadOnlySpan<byte> args) => args.IsEmpty ? null : SmtpText.ToDisplay(SmtpText.Trim(args), _limits.MaxTextLength);

    private static Verb ParseVerb(ReadOnlySpan<byte> v, out string text)
    {
        (Verb verb, text) = v.Length switch
        {
            4 when SmtpText.EqualsIgnoreCase(v, "EHLO"u8) => (Verb.Ehlo, "EHLO"),
            4 when SmtpText.EqualsIgnoreCase(v, "HELO"u8) => (Verb.Helo, "HELO"),
            4 when SmtpText.EqualsIgnoreCase(v, "MAIL"u8) => (Verb.Mail, "MAIL"),
            4 when SmtpText.EqualsIgnoreCase(v, "RCPT"u8) => (Verb.Rcpt, "RCPT"),
            4 when SmtpText.EqualsIgnoreCase(v, "DATA"u8) => (Verb.Data, "DATA"),
            4 when SmtpText.EqualsIgnoreCase(v, "BDAT"u8) => (Verb.Bdat, "BDAT"),
            4 when SmtpText.EqualsIgnoreCase(v, "RSET"u8) => (Verb.Rset, "RSET"),
            4 when SmtpText.EqualsIgnoreCase(v, "NOOP"u8) => (Verb.Noop, "NOOP"),
            4 when SmtpText.EqualsIgnoreCase(v, "QUIT"u8) => (Verb.Quit, "QUIT"),
            4 when SmtpText.EqualsIgnoreCase(v, "AUTH"u8) => (Verb.Auth, "AUTH"),
            4 when SmtpText.EqualsIgnoreCase(v, "VRFY"u8) => (Verb.Vrfy, "VRFY"),
            4 when SmtpText.EqualsIgnoreCase(v, "EXPN"u8) => (Verb.Expn, "EXPN"),
            4 when SmtpText.EqualsIgnoreCase(v, "HELP"u8) => (Verb.Help, "HELP"),
            8 when SmtpText.EqualsIgnoreCase(v, "STARTTLS"u8) => (Verb.StartTls, "STARTTLS"),
            _ => (Verb.Unknown, null!),
        };
        if (verb == Verb.Unknown)
            text = SmtpText.Shared(v, 16, upper: true);
        return verb;
    }

    // ---- transactions --------------------------------------------------------------------------

    /// <summary>MAIL: a transaction as the client means it. Whether it opens is the server's call, taken when the
    /// reply comes (<see cref="MailReply"/>): a transaction still open on the server stays open until then.</summary>
    private void StartTransaction(ReadOnlySpan<byte> args, Timestamp time)
    {
        ParsePath(args, "FROM:"u8, out var path, out var pars, out bool ok);
        long size = -1;
        string? body = null;
        var rest = pars;
        while (!rest.IsEmpty)
        {
            var p = SmtpText.Token(rest, out rest);
            if (SmtpText.StartsWithIgnoreCase(p, "SIZE="u8)) { if (SmtpText.TryParseDecimal(p[5..], out long s)) size = s; }
            else if (SmtpText.StartsWithIgnoreCase(p, "BODY="u8)) body = SmtpText.Shared(p[5..], 32, upper: true);
        }

        TransactionIndex++;
        var tx = new SmtpTransaction
        {
            Index = TransactionIndex,
            Sender = ok ? SmtpText.Shared(path, _limits.MaxTextLength) : "",
            MailParameters = pars.IsEmpty ? null : SmtpText.ToDisplay(SmtpText.Trim(pars), _limits.MaxTextLength),
            DeclaredSize = size,
            Body = body,
            MailTime = time,
        };
        if (_transactions.Count < _limits.MaxTransactions) _transactions.Add(tx);
        else { AnomaliesToWrite.TransactionsNotKept++; _scratchTx = tx; }
        _currentTx = tx;
        CurrentPhase = SmtpPhase.Mail;
        Record(Verb.Mail, "MAIL", KeepArg(args), time, tx, null);
    }

    private void AddRecipient(ReadOnlySpan<byte> args, Timestamp time)
    {
        var tx = _currentTx;
        SmtpRecipient? r = null;
        if (tx != null)
        {
            ParsePath(args, "TO:"u8, out var path, out var pars, out _);
            if (tx.Recipients.Count < _limits.MaxRecipients)
            {
                r = new SmtpRecipient
                {
                    Address = SmtpText.Shared(path, _limits.MaxTextLength),
                    Parameters = pars.IsEmpty ? null : SmtpText.ToDisplay(SmtpText.Trim(pars), _limits.MaxTextLength),
                    Time = time,
                };
                tx.Recipients.Add(r);
            }
            else tx.RecipientsNotKept++;
        }
        if (CurrentPhase is not (SmtpPhase.DataCommand or SmtpPhase.Data)) CurrentPhase = SmtpPhase.Rcpt;
        Record(Verb.Rcpt, "RCPT", KeepArg(args), time, tx, r);
    }

    /// <summary>"FROM:&lt;path&gt; params" (RFC 5321 4.1.1.2). Tolerates a space after the colon and a path
    /// without angle brackets, as servers do.</summary>
    private static void ParsePath(ReadOnlySpan<byte> args, ReadOnlySpan<byte> keyword, out ReadOnlySpan<byte> path,
        out ReadOnlySpan<byte> parameters, out bool ok)
    {
        ok = SmtpText.StartsWithIgnoreCase(args, keyword);
        var s = ok ? SmtpText.TrimStart(args[keyword.Length..]) : args;
        if (!s.IsEmpty && s[0] == (byte)'<')
        {
            int close = s.IndexOf((byte)'>');
            if (close > 0)
            {
                path = s[1..close];
                parameters = SmtpText.TrimStart(s[(close + 1)..]);
                return;
            }
            s = s[1..];
        }
        path = SmtpText.Token(s, out parameters);
    }

    /// <summary>The client stopped sending this transaction without finishing its data (RSET, QUIT, EHLO). Once the
    /// replies still due have come (PIPELINING), it is decided by what the server said (<see cref="DecideEnded"/>).</summary>
    private void ClientEndsTransaction(SmtpTransaction tx, string reason, Timestamp time)
    {
        if (_currentTx == tx) _currentTx = null;
        if (tx.Outcome != SmtpOutcome.InProgress) return;
        tx.EndRequest ??= reason;
        TryDecideEnded(tx, time);
    }

    private void TryDecideEnded(SmtpTransaction tx, Timestamp time)
    {
        if (tx.Outcome == SmtpOutcome.InProgress && tx.EndRequest != null && tx.PendingReplies == 0)
            DecideEnded(tx, tx.EndRequest, time);
    }

    /// <summary>A transaction that ended without a reply to its data: every recipient deferred (or refused with at
    /// least one deferral) is a deferral, every one rejected a rejection; a refused DATA or BDAT with nothing sent after
    /// it decides by its code; anything else was aborted.</summary>
    private void DecideEnded(SmtpTransaction tx, string reason, Timestamp time)
    {
        if (tx.RecipientsAccepted == 0 && tx.RecipientsDeferred > 0)
            SetOutcome(tx, SmtpOutcome.Deferred,
                (tx.RecipientsRejected > 0 ? $"every recipient refused ({tx.RecipientsRejected} rejected, {tx.RecipientsDeferred} deferred); " : "every recipient deferred; ") + reason, time);
        else if (tx.RecipientsAccepted == 0 && tx.RecipientsRejected > 0)
            SetOutcome(tx, SmtpOutcome.Rejected, "every recipient rejected; " + reason, time);
        else if (tx.DataRefusal is { } refused && tx.DataCommandTime is null)
            SetOutcome(tx, refused.Code >= 500 ? SmtpOutcome.Rejected : SmtpOutcome.Deferred,
                $"{(tx.UsedBdat ? "BDAT" : "DATA")} refused ({refused.Code}); {reason}", time);
        else
            SetOutcome(tx, SmtpOutcome.Aborted, reason, time);
    }

    /// <summary>End of input, close or abort: anything not decided gets <paramref name="outcome"/>, unless the
    /// server's replies already decided it (every recipient refused, DATA refused) and nothing was sent after.</summary>
    private void EndTransaction(SmtpTransaction tx, SmtpOutcome outcome, string reason, Timestamp time)
    {
        if (_currentTx == tx) _currentTx = null;
        if (_serverTx == tx) _serverTx = null;
        if (tx.Outcome != SmtpOutcome.InProgress) return;
        bool refusedByServer = tx.RecipientsAccepted == 0 && tx.RecipientsDeferred + tx.RecipientsRejected > 0 ||
                               tx.DataRefusal != null && tx.DataCommandTime is null;
        if (outcome == SmtpOutcome.Aborted && tx.DataEndTime == null && tx.PendingReplies == 0 && refusedByServer)
        {
            DecideEnded(tx, reason, time);
            return;
        }
        SetOutcome(tx, outcome, reason, time);
    }

    private void SetOutcome(SmtpTransaction tx, SmtpOutcome outcome, string? reason, Timestamp time)
    {
        if (tx.Outcome != SmtpOutcome.InProgress) return;
        tx.Outcome = outcome;
        tx.OutcomeReason = reason ?? tx.OutcomeReason;
        tx.EndPhase = CurrentPhase;
        tx.EndTime = time;
        if (_currentTx == tx) _currentTx = null;
        if (_serverTx == tx) _serverTx = null;
    }

    // ---- DATA body (RFC 5321 4.1.1.4, 4.5.2) ---------------------------------------------------

    /// <summary>Scans message bytes for the end of data, counting the size with dot-stuffing undone. Allocates
    /// nothing. Returns the bytes consumed (stops right after the terminating line).</summary>
    private int ScanBody(ReadOnlySpan<byte> data, Timestamp time)
    {
        long bytes = 0;
        int i = 0;
        while (i < data.Length)
        {
            switch (_bodyState)
            {
                case BodyState.LineStart:
                    if (data[i] == (byte)'.') { _bodyState = BodyState.Dot; i++; }
                    else _bodyState = BodyState.Mid;
                    break;
                case BodyState.Dot:
                    if (data[i] == (byte)'\r') { _bodyState = BodyState.DotCr; i++; }
                    else if (data[i] == (byte)'\n')
                    {
                        // "." LF: bare LF end, accepted by many servers (and a smuggling vector); counted.
                        AnomaliesToWrite.BareLfLines++;
                        AddBody(bytes);
                        EndOfData(time);
                        return i + 1;
                    }
                    else _bodyState = BodyState.Mid; // a stuffed dot: not part of the message
                    break;
                case BodyState.DotCr:
                    if (data[i] == (byte)'\n')
                    {
                        AddBody(bytes);
                        EndOfData(time);
                        return i + 1;
                    }
                    bytes++; // "." CR x: the dot was stuffing, the CR is message content
                    _bodyPrevCr = true;
                    _bodyState = BodyState.Mid;
                    break;
                default:
                {
                    int lf = data[i..].IndexOf((byte)'\n');
                    if (lf < 0)
                    {
                        bytes += data.Length - i;
                        _bodyPrevCr = data[^1] == (byte)'\r';
                        i = data.Length;
                        break;
                    }
                    bool cr = lf > 0 ? data[i + lf - 1] == (byte)'\r' : _bodyPrevCr;
                    if (!cr) AnomaliesToWrite.BareLfLines++;
                    bytes += lf + 1;
                    i += lf + 1;
                    _bodyPrevCr = false;
                    _bodyState = BodyState.LineStart;
                    break;
                }
            }
        }
        AddBody(bytes);
        return data.Length;
    }

    private void AddBody(long bytes)
    {
        if (_currentTx != null) _currentTx.MessageBytes += bytes;
    }

    private void BodyGap(int bytes)
    {
        if (_currentTx != null)
        {
            _currentTx.MessageBytes += bytes;
            _currentTx.SizeApproximate = true;
        }
        // Position within the line is unknown: resume at the next line start.
        _bodyState = BodyState.Mid;
        _bodyPrevCr = false;
    }

    private void EndOfData(Timestamp time)
    {
        _clientMode = ClientMode.Command;
        var tx = _currentTx;
        if (tx != null) tx.DataEndTime = time;
        _currentTx = null;
        CurrentPhase = SmtpPhase.DataSent;
        Record(Verb.EndOfData, ".", null, time, tx, null);
    }

    // ---- BDAT (RFC 3030) -------------------------------------------------------------------------

    private void StartBdat(ReadOnlySpan<byte> args, string verbText, Timestamp time)
    {
        var sizeTok = SmtpText.Token(args, out var rest);
        bool last = SmtpText.EqualsIgnoreCase(SmtpText.Trim(rest), "LAST"u8);
        var tx = _currentTx;
        if (!SmtpText.TryParseDecimal(sizeTok, out long size))
        {
            // The server answers 501 and reads the next line as a command; so do we.
            AnomaliesToWrite.BdatSizeInvalid++;
            Record(Verb.Bdat, verbText, KeepArg(args), time, tx, null);
            return;
        }
        if (tx != null)
        {
            tx.DataCommandTime ??= time;
            tx.UsedBdat = true;
        }
        _bdatRemaining = size;
        _bdatLast = last;
        CurrentPhase = SmtpPhase.Bdat;
        Record(Verb.Bdat, verbText, KeepArg(args), time, tx, null, bdatLast: last);
        if (size > 0) _clientMode = ClientMode.Bdat;
        else BdatChunkDone(time);
    }

    private int SkipBdat(ReadOnlySpan<byte> data, Timestamp time)
    {
        int n = (int)Math.Min(data.Length, _bdatRemaining);
        SkipBdat(n, time);
        return n;
    }

    private void SkipBdat(long n, Timestamp time)
    {
        _bdatRemaining -= n;
        if (_currentTx != null) _currentTx.MessageBytes += n;
        if (_bdatRemaining == 0) BdatChunkDone(time);
    }

    private void BdatChunkDone(Timestamp time)
    {
        _clientMode = ClientMode.Command;
        if (_bdatLast)
        {
            var tx = _currentTx;
            if (tx != null) tx.DataEndTime = time;
            _currentTx = null;
            CurrentPhase = SmtpPhase.DataSent;
        }
    }

    // ---- resynchronising after a capture gap ------------------------------------------------------

    /// <summary>A gap left the position in the client stream unknown: from here, lines are held, and only one that
    /// is a valid command and gets a matching reply (<see cref="ReplyFits"/>) puts the decoder back on track. The
    /// first bytes after the gap are taken as a line start (a segment usually starts one).</summary>
    private void StartResync(Timestamp time)
    {
        AnomaliesToWrite.Resyncs++;
        if (D.ClientFramer.Length > 0 || D.ClientFramer.Total > 0) AnomaliesToWrite.ResyncSkippedLines++; // the line the gap cut
        D.ClientFramer.Reset();
        D.ClientFramer.SkipToEol = false;
        _clientMode = ClientMode.Resync;
        D.HoldLen = 0;
        D.HoldSkipLine = false;
        D.HoldTime = time;
    }

    private void HoldForResync(ReadOnlySpan<byte> data, Timestamp time)
    {
        D.Hold ??= new byte[_limits.MaxResyncHold];
        while (!data.IsEmpty)
        {
            if (D.HoldSkipLine)
            {
                int lf = data.IndexOf((byte)'\n');
                if (lf < 0) return;
                data = data[(lf + 1)..];
                D.HoldSkipLine = false;
                continue;
            }
            if (D.HoldLen == 0) D.HoldTime = time;
            int n = Math.Min(data.Length, D.Hold.Length - D.HoldLen);
            data[..n].CopyTo(D.Hold.AsSpan(D.HoldLen));
            D.HoldLen += n;
            data = data[n..];
            DropLeadingNonCommands();
            if (D.HoldLen == D.Hold.Length)
            {
                // Full without a confirming reply: the first line was not the command we are looking for.
                int lf = D.Hold.AsSpan(0, D.HoldLen).IndexOf((byte)'\n');
                if (lf < 0) { D.HoldLen = 0; D.HoldSkipLine = true; }
                else DropHeld(lf + 1);
                AnomaliesToWrite.ResyncSkippedLines++;
                DropLeadingNonCommands();
            }
        }
    }

    /// <summary>Drops complete held lines from the front while they are not valid commands (message content, or the
    /// tail of a line the gap cut).</summary>
    private void DropLeadingNonCommands()
    {
        while (D.HoldLen > 0)
        {
            int lf = D.Hold.AsSpan(0, D.HoldLen).IndexOf((byte)'\n');
            if (lf < 0) return;
            if (IsCommandLine(TrimCr(D.Hold.AsSpan(0, lf)), out _)) return;
            DropHeld(lf + 1);
            AnomaliesToWrite.ResyncSkippedLines++;
        }
    }

    private void DropHeld(int n)
    {
        D.Hold.AsSpan(n, D.HoldLen - n).CopyTo(D.Hold);
        D.HoldLen -= n;
    }

    /// <summary>Another gap while resynchronising: the held line in progress is cut too.</summary>
    private void DropPartialHold()
    {
        if (D.HoldLen == 0) { D.HoldSkipLine = false; return; }
        int last = D.Hold.AsSpan(0, D.HoldLen).LastIndexOf((byte)'\n');
        if (last + 1 < D.HoldLen) AnomaliesToWrite.ResyncSkippedLines++;
        D.HoldLen = last + 1;
        D.HoldSkipLine = false;
    }

    /// <summary>A reply came while resynchronising and no command before the gap is waiting for one. The first held
    /// line that is a valid command fitting this reply is where the dialogue resumes: the lines before it are
    /// skipped, it and the rest are decoded now (before the reply is paired). Returns false when no held line fits
    /// (the reply answers a command the capture lost).</summary>
    private bool TryResync(int code)
    {
        int pos = 0, skipped = 0;
        while (pos < D.HoldLen)
        {
            int lf = D.Hold.AsSpan(pos, D.HoldLen - pos).IndexOf((byte)'\n');
            if (lf < 0) break;
            if (IsCommandLine(TrimCr(D.Hold.AsSpan(pos, lf)), out var verb) && ReplyFits(verb, code) && PlausibleFrom(pos + lf + 1, verb))
            {
                AnomaliesToWrite.ResyncSkippedLines += skipped;
                _clientMode = ClientMode.Command;
                int len = D.HoldLen - pos;
                D.HoldLen = 0;
                ClientStream(D.Hold.AsSpan(pos, len), D.HoldTime);
                return true;
            }
            skipped++;
            pos += lf + 1;
        }
        return false;
    }

    /// <summary>Whether the held lines after a candidate command could follow it: a client sends only commands, until
    /// DATA or BDAT hands over to message data. "RSET" in the middle of message lines is content.</summary>
    private bool PlausibleFrom(int pos, SmtpCommandKind candidate)
    {
        if (candidate is Verb.Data or Verb.Bdat) return true;
        while (pos < D.HoldLen)
        {
            int lf = D.Hold.AsSpan(pos, D.HoldLen - pos).IndexOf((byte)'\n');
            if (lf < 0) return true; // a line still coming
            if (!IsCommandLine(TrimCr(D.Hold.AsSpan(pos, lf)), out var verb)) return false;
            if (verb is Verb.Data or Verb.Bdat) return true;
            pos += lf + 1;
        }
        return true;
    }

    /// <summary>The session ends while resynchronising: held lines were never confirmed, so they are not decoded.</summary>
    private void EndResyncUnconfirmed()
    {
        if (D.HoldLen > 0)
        {
            int lines = D.Hold.AsSpan(0, D.HoldLen).Count((byte)'\n');
            AnomaliesToWrite.ResyncSkippedLines += Math.Max(1, lines);
        }
        D.HoldLen = 0;
        _clientMode = ClientMode.Command;
    }

    private static ReadOnlySpan<byte> TrimCr(ReadOnlySpan<byte> s) => s.Length > 0 && s[^1] == (byte)'\r' ? s[..^1] : s;

    /// <summary>A line that is a well-formed command (RFC 5321 4.1.1, RFC 3030, 3207, 4954), strictly: a known verb and
    /// the argument syntax it requires ("MAIL FROM:&lt;...&gt;", "RCPT TO:&lt;...&gt;", "BDAT 1234[ LAST]", bare "DATA",
    /// "QUIT", "RSET"...), printable ASCII, at most 512 bytes (4.5.3.1.4). Message lines ("From: a@b", "Hello!")
    /// are not.</summary>
    internal static bool IsCommandLine(ReadOnlySpan<byte> line, out SmtpCommandKind verb)
    {
        verb = Verb.Unknown;
        if (line.IsEmpty || line.Length > 510) return false;
        foreach (byte b in line)
            if (b is < 0x20 or > 0x7E) return false;
        var v = SmtpText.Token(line, out var args);
        if (line[0] == (byte)' ') return false;
        verb = ParseVerb(v, out _);
        args = SmtpText.Trim(args);
        switch (verb)
        {
            case Verb.Data or Verb.Rset or Verb.Quit or Verb.StartTls:
                return args.IsEmpty;
            case Verb.Noop or Verb.Help:
                return true;
            case Verb.Ehlo or Verb.Helo:
                return !args.IsEmpty && args.IndexOf((byte)' ') < 0;
            case Verb.Mail:
                return PathArgument(args, "FROM:"u8);
            case Verb.Rcpt:
                return PathArgument(args, "TO:"u8);
            case Verb.Bdat:
            {
                var size = SmtpText.Token(args, out var rest);
                rest = SmtpText.Trim(rest);
                return SmtpText.TryParseDecimal(size, out _) && (rest.IsEmpty || SmtpText.EqualsIgnoreCase(rest, "LAST"u8));
            }
            case Verb.Auth:
            {
                var mech = SmtpText.Token(args, out _);
                if (mech.IsEmpty || mech.Length > 20) return false;
                foreach (byte b in mech)
                    if (!(b is >= (byte)'A' and <= (byte)'Z' or >= (byte)'0' and <= (byte)'9' or (byte)'-' or (byte)'_')) return false;
                return true;
            }
            case Verb.Vrfy or Verb.Expn:
                return !args.IsEmpty;
            default:
                return false;
        }
    }

    /// <summary>"FROM:&lt;path&gt;[ params]": the keyword, then a path in angle brackets.</summary>
    private static bool PathArgument(ReadOnlySpan<byte> args, ReadOnlySpan<byte> keyword)
    {
        if (!SmtpText.StartsWithIgnoreCase(args, keyword)) return false;
        var s = SmtpText.TrimStart(args[keyword.Length..]);
        return s.Length >= 2 && s[0] == (byte)'<' && s.IndexOf((byte)'>') > 0;
    }
}
