using PathProbe.Primitives;
using Verb = PathProbe.Protocols.Smtp.SmtpCommandKind;

namespace PathProbe.Protocols.Smtp;

public sealed partial class SmtpSession
{
    /// <summary>A command waiting for its reply (FIFO: replies come in command order, RFC 2920 3).</summary>
    private struct Pending
    {
        public Verb Verb;
        public SmtpCommand? Kept;
        public SmtpTransaction? Tx;
        public SmtpRecipient? Rcpt;
        public bool BdatLast;
    }

    /// <summary>Commands awaiting replies, in order; a ring the server-side state machine can also re-point (a MAIL
    /// refused while a transaction is open hands its pipelined followers to that transaction).</summary>
    private struct PendingQueue
    {
        private Pending[] _items;
        private int _head;
        public int Count;

        public void Enqueue(in Pending p)
        {
            _items ??= new Pending[FirstSize];
            if (Count == _items.Length)
            {
                var bigger = new Pending[_items.Length * 2];
                for (int i = 0; i < Count; i++) bigger[i] = _items[(_head + i) % _items.Length];
                _items = bigger;
                _head = 0;
            }
            _items[(_head + Count++) % _items.Length] = p;
        }

        public readonly ref Pending Peek() => ref _items[_head];

        public Pending Dequeue()
        {
            var p = _items[_head];
            _items[_head] = default;
            _head = (_head + 1) % _items.Length;
            Count--;
            return p;
        }

        public readonly ref Pending this[int i] => ref _items[(_head + i) % _items.Length];

        private const int FirstSize = 8;

        /// <summary>Reads as empty, keeping (cleared) a ring of the first size for the next session to use this
        /// decoding state (a grown one is left to the collector).</summary>
        public void Clear()
        {
            var items = _items;
            this = default;
            if (items is not { Length: FirstSize }) return;
            Array.Clear(items);
            _items = items;
        }
    }

    private enum ReplyTarget : byte { Greeting, Command, Unsolicited }

    private bool _greetingDone;
    /// <summary>The transaction open on the server, as its replies say: set by a 2xx to MAIL, cleared by the reply to
    /// the data, RSET, EHLO/HELO, QUIT or a 421.</summary>
    private SmtpTransaction? _serverTx;

    private void Record(Verb verb, string verbText, string? arg, Timestamp time, SmtpTransaction? tx, SmtpRecipient? r, bool bdatLast = false)
    {
        SmtpCommand? kept = null;
        if (_commands.Count < _limits.MaxCommands)
        {
            kept = new SmtpCommand { Verb = verbText, Kind = verb, Argument = arg, Time = time, Transaction = tx?.Index ?? -1 };
            _commands.Add(kept);
        }
        else AnomaliesToWrite.CommandsNotKept++;

        if (D.Pending.Count >= _limits.MaxPending) { AnomaliesToWrite.PendingOverflows++; return; }
        D.Pending.Enqueue(new Pending { Verb = verb, Kept = kept, Tx = tx, Rcpt = r, BdatLast = bdatLast });
        if (tx != null) tx.PendingReplies++;
    }

    private void ServerLine(ReadOnlySpan<byte> line, Timestamp time)
    {
        // RFC 5321 4.2: Reply-code [ SP / "-" textstring ] CRLF; codes 2yz..5yz (1yz is unused but harmless).
        if (line.Length < 3 || line[0] is < (byte)'1' or > (byte)'5' || line[1] is < (byte)'0' or > (byte)'9' ||
            line[2] is < (byte)'0' or > (byte)'9' || line.Length > 3 && !IsReplySeparator(line[3]))
        {
            AnomaliesToWrite.UnparsableReplies++;
            return;
        }
        int code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
        bool more = line.Length > 3 && line[3] == (byte)'-';
        ReadOnlySpan<byte> text;
        if (line.Length > 3 && line[3] is not ((byte)' ' or (byte)'-'))
        {
            // "220<ESC>..." and the like: a final line whose text starts right after the code (shown escaped).
            AnomaliesToWrite.OddReplySeparators++;
            text = line[3..];
        }
        else text = line.Length > 4 ? line[4..] : default;

        if (!D.ReplyActive) StartReply(code, text);
        else if (code != D.ReplyCode) AnomaliesToWrite.ReplyCodeMismatches++;
        else
        {
            if (D.NewCaps != null) ParseCapability(text, D.NewCaps);
            AddReplyLine(text);
        }
        D.ReplyLines++;
        if (!more) CompleteReply(time);
    }

    private void StartReply(int code, ReadOnlySpan<byte> text)
    {
        D.ReplyActive = true;
        D.ReplyCode = code;
        D.ReplyLines = 0;
        D.ReplyMore?.Clear();
        // After a gap in the client stream: this reply may confirm where the dialogue resumes.
        if (_clientMode == ClientMode.Resync && _greetingDone && D.Pending.Count == 0) TryResync(code);
        // The first reply is the greeting (RFC 5321 4.3.1), even when an early-talking client sent a command before it.
        D.ReplyTarget = !_greetingDone ? ReplyTarget.Greeting
            : D.Pending.Count > 0 ? ReplyTarget.Command : ReplyTarget.Unsolicited;

        int enh = SmtpText.EnhancedCodeLength(text);
        D.ReplyEnhanced = enh > 0 ? SmtpText.Shared(text[..enh], 16) : null;
        D.ReplyText = SmtpText.Shared(enh > 0 ? SmtpText.TrimStart(text[enh..]) : text, _limits.MaxTextLength);
        // RFC 5321 4.1.1.1: the first line of the EHLO reply is the server's name; each further line a keyword.
        D.NewCaps = D.ReplyTarget == ReplyTarget.Command && D.Pending.Peek().Verb == Verb.Ehlo && code == 250
            ? new SmtpCapabilities() : null;
    }

    /// <summary>A continuation line's text, without an enhanced code that repeats the first line's.</summary>
    private void AddReplyLine(ReadOnlySpan<byte> text)
    {
        D.ReplyMore ??= new List<string>();
        if (D.ReplyMore.Count + 1 >= _limits.MaxReplyLines) { AnomaliesToWrite.ReplyLinesNotKept++; return; }
        int enh = SmtpText.EnhancedCodeLength(text);
        if (enh > 0 && D.ReplyEnhanced != null && SmtpText.EqualsAscii(text[..enh], D.ReplyEnhanced))
            text = SmtpText.TrimStart(text[enh..]);
        D.ReplyMore.Add(SmtpText.Shared(text, _limits.MaxTextLength));
    }

    private void CompleteReply(Timestamp time)
    {
        D.ReplyActive = false;
        string first = D.ReplyText ?? "";
        var reply = D.ReplyMore is { Count: > 0 } more
            ? new SmtpReply(D.ReplyCode, D.ReplyEnhanced, first, D.ReplyLines, time, [first, .. more])
            : new SmtpReply(D.ReplyCode, D.ReplyEnhanced, first, D.ReplyLines, time);
        D.ReplyMore?.Clear(); // kept for the session's next reply of several lines
        int code = D.ReplyCode;

        switch (D.ReplyTarget)
        {
            case ReplyTarget.Greeting:
                _greetingDone = true;
                Greeting = reply;
                Banner = SmtpText.ToDisplay(System.Text.Encoding.ASCII.GetBytes($"{code} {(D.ReplyEnhanced != null ? D.ReplyEnhanced + " " : "")}{reply.Text}"), _limits.MaxTextLength);
                if (CurrentPhase == SmtpPhase.Connect) CurrentPhase = SmtpPhase.Greeting;
                break;
            case ReplyTarget.Unsolicited:
                // A reply no command asked for: typically 421 before closing (RFC 5321 3.8), or the answer to a command
                // the capture lost. A reply arriving during DATA ends the data for the server, so it does for us too:
                // after a gap in the body this is how the end of the data is found again.
                if (_clientMode == ClientMode.Body)
                {
                    AnomaliesToWrite.RepliesDuringData++;
                    var tx = _currentTx;
                    if (code is >= 200 and < 300)
                    {
                        // The terminating dot was lost in a capture gap: the server's end-of-data reply ends the data.
                        EndOfData(time);
                        var end = D.Pending.Dequeue();
                        if (end.Tx != null) end.Tx.PendingReplies--;
                        if (end.Kept != null) end.Kept.Reply = reply;
                        if (tx != null) FinalReply(tx, reply, time);
                        break;
                    }
                    // The server ended the data itself (its timeout while the data stalled, a size limit, a policy):
                    // no dot was sent. The transaction ends with this reply, in the phase it was cut in.
                    _clientMode = ClientMode.Command;
                    if (tx != null) FinalReply(tx, reply, time);
                    _currentTx = null;
                    CurrentPhase = SmtpPhase.Ready;
                    KeepUnsolicited(reply, time, tx);
                    break;
                }
                AnomaliesToWrite.RepliesWithoutCommand++;
                KeepUnsolicited(reply, time, null);
                break;
            default:
                CommandReply(reply, time);
                break;
        }

        if (code == 421)
        {
            // Service closing (RFC 5321 3.8): whatever transaction is open ends here, deferred.
            foreach (var t in _transactions) SetOutcome(t, SmtpOutcome.Deferred, "421 service closing", time);
            if (_scratchTx != null) SetOutcome(_scratchTx, SmtpOutcome.Deferred, "421 service closing", time);
            _serverTx = null;
            if (_clientMode is ClientMode.Body or ClientMode.Bdat or ClientMode.Auth or ClientMode.AwaitTls) _clientMode = ClientMode.Command;
            if (D.ReplyTarget != ReplyTarget.Greeting && CurrentPhase is not (SmtpPhase.Closed or SmtpPhase.Tls)) CurrentPhase = SmtpPhase.ServerClosing;
        }
        D.NewCaps = null;
    }

    private void KeepUnsolicited(SmtpReply reply, Timestamp time, SmtpTransaction? tx)
    {
        if (_commands.Count < _limits.MaxCommands)
            _commands.Add(new SmtpCommand { Verb = "", Kind = Verb.None, Time = time, Reply = reply, Transaction = tx?.Index ?? -1 });
        else AnomaliesToWrite.CommandsNotKept++;
    }

    private void CommandReply(SmtpReply reply, Timestamp time)
    {
        int code = reply.Code;
        ref Pending head = ref D.Pending.Peek();

        // Intermediate replies keep the command at the head of the queue.
        if (head.Verb == Verb.Auth && code == 334)
        {
            if (head.Kept != null) head.Kept.Intermediate = reply;
            return;
        }

        Pending p = D.Pending.Dequeue();
        if (p.Tx != null) p.Tx.PendingReplies--;
        if (p.Kept != null)
        {
            if (p.Verb == Verb.Data && code == 354) p.Kept.Intermediate = reply;
            p.Kept.Reply = reply;
        }
        var tx = p.Tx;
        bool ok = code is >= 200 and < 300;

        switch (p.Verb)
        {
            case Verb.Ehlo:
            case Verb.Helo:
                if (ok && D.NewCaps != null) Capabilities = D.NewCaps.Shared();
                if (ok) ServerReset("EHLO/HELO before the end of the data", time); // RFC 5321 4.1.4
                break;
            case Verb.Mail:
                if (tx != null) MailReply(tx, p.Kept, reply, time);
                break;
            case Verb.Rcpt:
                if (p.Rcpt != null) p.Rcpt.Reply = reply;
                if (tx == null) break;
                if (code is >= 200 and < 300) tx.RecipientsAccepted++;
                else if (code >= 500) tx.RecipientsRejected++;
                else if (code >= 400) tx.RecipientsDeferred++;
                break;
            case Verb.Data:
                if (code == 354)
                {
                    // RFC 5321 4.1.1.4: go ahead. The body is already being scanned (see ClientLine).
                    if (tx != null) tx.DataStartTime = time;
                    if (CurrentPhase == SmtpPhase.DataCommand) CurrentPhase = SmtpPhase.Data;
                }
                else
                {
                    // DATA refused (503 no valid recipients, 554, 451...): back to commands. RFC 5321 4.1.4: a
                    // refused command changes nothing, so the transaction stays open (a later RCPT and DATA may
                    // complete it).
                    if (_clientMode == ClientMode.Body) _clientMode = ClientMode.Command;
                    if (tx != null) DataRefused(tx, reply);
                    if (CurrentPhase is SmtpPhase.DataCommand or SmtpPhase.Data) PhaseFromTransaction();
                }
                break;
            case Verb.EndOfData:
                if (tx != null) FinalReply(tx, reply, time);
                if (CurrentPhase == SmtpPhase.DataSent) CurrentPhase = SmtpPhase.Ready;
                break;
            case Verb.Bdat:
                // RFC 3030 2: each chunk is answered; the reply to LAST is the final one. A 503 (BDAT out of sequence)
                // changes nothing; any other failure ends the transaction.
                if (tx != null && code == 503)
                {
                    DataRefused(tx, reply);
                    if (p.BdatLast && tx.Outcome == SmtpOutcome.InProgress)
                    {
                        // The client thought LAST ended its data; the server says the transaction is still open.
                        tx.DataEndTime = null;
                        if (_currentTx == null && tx.EndRequest == null) _currentTx = tx;
                        if (CurrentPhase == SmtpPhase.DataSent) PhaseFromTransaction();
                    }
                }
                else if (tx != null && (p.BdatLast || !ok)) FinalReply(tx, reply, time);
                if (p.BdatLast && CurrentPhase == SmtpPhase.DataSent) CurrentPhase = SmtpPhase.Ready;
                break;
            case Verb.Rset:
                if (ok) ServerReset("client sent RSET", time);
                break;
            case Verb.Quit:
                _serverTx = null;
                break;
            case Verb.StartTls:
                if (code == 220)
                {
                    // RFC 3207 4: TLS starts right after this reply; nothing after it is decoded. Plaintext the
                    // client sent before the reply was counted as BytesAfterStartTls.
                    TlsStarted = true;
                    TlsStartTime = time;
                    _serverTls = true;
                    _clientMode = ClientMode.Tls;
                    D.ClientFramer.Reset();
                    D.ClientFramer.SkipToEol = false;
                    CurrentPhase = SmtpPhase.Tls;
                }
                else
                {
                    if (_clientMode == ClientMode.AwaitTls) _clientMode = ClientMode.Command;
                    if (CurrentPhase == SmtpPhase.StartTls) CurrentPhase = _phaseBeforeStartTls;
                }
                break;
            case Verb.Auth:
                AuthResult = code;
                if (_clientMode == ClientMode.Auth) _clientMode = ClientMode.Command;
                break;
        }
        if (tx != null) TryDecideEnded(tx, time);
    }

    /// <summary>The server's verdict on MAIL (RFC 5321 4.1.1.2, 4.1.4). Accepted: the transaction is open (and one
    /// the server still had open was reset by it). Refused while another is open ("503 5.5.1 sender already given"):
    /// the open one goes on, and the commands pipelined after this MAIL belong to it. Refused otherwise: no
    /// transaction was opened; the record keeps the attempt and its reply.</summary>
    private void MailReply(SmtpTransaction tx, SmtpCommand? mail, SmtpReply reply, Timestamp time)
    {
        tx.MailReplyCode = reply.Code;
        if (reply.Code is >= 200 and < 300)
        {
            if (_serverTx is { } old && old != tx) ClientEndsTransaction(old, "a new MAIL was accepted before the end of the data", time);
            _serverTx = tx;
            return;
        }
        if (_serverTx is { Outcome: SmtpOutcome.InProgress } open && open != tx)
        {
            MergeInto(tx, open);
            return;
        }
        SetOutcome(tx, reply.Code >= 500 ? SmtpOutcome.Rejected : SmtpOutcome.Deferred, $"MAIL refused ({reply.Code})", time);
        if (CurrentPhase is SmtpPhase.Mail or SmtpPhase.Rcpt) CurrentPhase = SmtpPhase.Ready;
    }

    /// <summary><paramref name="refused"/> (a MAIL the server refused while <paramref name="open"/> was open) was never a
    /// transaction: its command, its pipelined followers, recipients and data go to the open one.</summary>
    private void MergeInto(SmtpTransaction refused, SmtpTransaction open)
    {
        if (!_transactions.Remove(refused) && _scratchTx == refused)
        {
            _scratchTx = null;
            AnomaliesToWrite.TransactionsNotKept--;
        }
        if (refused.Index == TransactionIndex) TransactionIndex--;
        for (int i = _commands.Count - 1; i >= 0 && _commands[i].Time >= refused.MailTime; i--)
            if (_commands[i].Transaction == refused.Index) _commands[i].Transaction = open.Index;
        for (int i = 0; i < D.Pending.Count; i++)
        {
            ref Pending q = ref D.Pending[i];
            if (q.Tx != refused) continue;
            q.Tx = open;
            open.PendingReplies++;
        }
        foreach (var r in refused.Recipients)
        {
            if (open.Recipients.Count < _limits.MaxRecipients) open.Recipients.Add(r);
            else open.RecipientsNotKept++;
        }
        open.RecipientsNotKept += refused.RecipientsNotKept;
        open.RecipientsAccepted += refused.RecipientsAccepted;
        open.RecipientsDeferred += refused.RecipientsDeferred;
        open.RecipientsRejected += refused.RecipientsRejected;
        open.DataCommandTime ??= refused.DataCommandTime;
        open.DataEndTime ??= refused.DataEndTime;
        open.UsedBdat |= refused.UsedBdat;
        open.MessageBytes += refused.MessageBytes;
        open.SizeApproximate |= refused.SizeApproximate;
        open.CaptureGapBytes += refused.CaptureGapBytes;
        if (refused.EndRequest != null) open.EndRequest ??= refused.EndRequest;
        if (_currentTx == refused) _currentTx = open.EndRequest == null && open.DataEndTime == null ? open : null;
        PhaseFromTransaction();
    }

    /// <summary>The server reset its transaction state (2xx to RSET, EHLO or HELO): an open transaction ends.</summary>
    private void ServerReset(string reason, Timestamp time)
    {
        if (_serverTx is { } open) ClientEndsTransaction(open, reason, time);
        _serverTx = null;
    }

    /// <summary>DATA or BDAT refused: the transaction stays open (RFC 5321 4.1.4); the refusal decides it only if
    /// the client gives up afterwards (<see cref="DecideEnded"/>).</summary>
    private static void DataRefused(SmtpTransaction tx, SmtpReply reply)
    {
        tx.DataRefusal = reply;
        tx.DataCommandTime = null;
        tx.DataStartTime = null;
        if (tx.DataEndTime == null && !tx.UsedBdat) tx.MessageBytes = 0; // the server took no message
    }

    /// <summary>After a refusal: the phase the open transaction is in (MAIL or RCPT given), or Ready.</summary>
    private void PhaseFromTransaction()
    {
        if (CurrentPhase is SmtpPhase.Closed or SmtpPhase.Quit or SmtpPhase.Tls or SmtpPhase.StartTls or SmtpPhase.Auth) return;
        var tx = _currentTx;
        CurrentPhase = tx is null ? SmtpPhase.Ready : tx.Recipients.Count + tx.RecipientsNotKept > 0 ? SmtpPhase.Rcpt : SmtpPhase.Mail;
    }

    /// <summary>The reply that ends the data (or refuses a BDAT chunk) decides the transaction.</summary>
    private void FinalReply(SmtpTransaction tx, SmtpReply reply, Timestamp time)
    {
        if (tx.Outcome != SmtpOutcome.InProgress) return;
        tx.FinalReply = reply;
        int code = reply.Code;
        if (code is >= 200 and < 300) SetOutcome(tx, SmtpOutcome.Accepted, null, time);
        else if (code is >= 400 and < 500) SetOutcome(tx, SmtpOutcome.Deferred, $"{code} after data", time);
        else if (code >= 500 && tx.RecipientsAccepted == 0 && tx.RecipientsDeferred > 0 && tx.RecipientsRejected == 0)
            // "554 no valid recipients" after every RCPT got a 4xx: the mail will be retried, so it is deferred.
            SetOutcome(tx, SmtpOutcome.Deferred, "every recipient deferred", time);
        else SetOutcome(tx, SmtpOutcome.Rejected, $"{code} after data", time);
        if (_serverTx == tx) _serverTx = null;
    }

    /// <summary>Whether <paramref name="code"/> can answer <paramref name="verb"/>: RFC 5321 4.3.2 (command-reply
    /// sequences), RFC 3030 (BDAT), RFC 3207 (STARTTLS), RFC 4954 (AUTH). 421 may answer anything (3.8), and
    /// 500-504 any line the server read as a command. Used to confirm where the dialogue resumes after a gap.</summary>
    internal static bool ReplyFits(SmtpCommandKind verb, int code)
    {
        if (code == 421 || code is >= 500 and <= 504) return true;
        bool failure = code is >= 400 and < 600;
        return verb switch
        {
            Verb.Ehlo or Verb.Helo => code == 250 || failure,
            Verb.Mail => code == 250 || failure,
            Verb.Rcpt => code is 250 or 251 || failure,
            Verb.Data => code == 354 || failure,
            Verb.Bdat => code == 250 || failure,
            Verb.Rset or Verb.Noop => code == 250,
            Verb.Quit => code == 221,
            Verb.Vrfy => code is 250 or 251 or 252 || failure,
            Verb.Expn => code is 250 or 252 || failure,
            Verb.Help => code is 211 or 214 || failure,
            Verb.StartTls => code == 220 || failure,
            Verb.Auth => code is 334 or 235 || failure,
            _ => false,
        };
    }

    /// <summary>One EHLO keyword line (RFC 5321 4.1.1.1: ehlo-keyword *(SP ehlo-param)).</summary>
    private static void ParseCapability(ReadOnlySpan<byte> text, SmtpCapabilities caps)
    {
        var kw = SmtpText.Token(text, out var rest);
        if (kw.IsEmpty) return;
        if (SmtpText.EqualsIgnoreCase(kw, "PIPELINING"u8)) caps.Pipelining = true;
        else if (SmtpText.EqualsIgnoreCase(kw, "CHUNKING"u8)) caps.Chunking = true;
        else if (SmtpText.EqualsIgnoreCase(kw, "STARTTLS"u8)) caps.StartTls = true;
        else if (SmtpText.EqualsIgnoreCase(kw, "8BITMIME"u8)) caps.EightBitMime = true;
        else if (SmtpText.EqualsIgnoreCase(kw, "SMTPUTF8"u8)) caps.SmtpUtf8 = true;
        else if (SmtpText.EqualsIgnoreCase(kw, "ENHANCEDSTATUSCODES"u8)) caps.EnhancedStatusCodes = true;
        else if (SmtpText.EqualsIgnoreCase(kw, "DSN"u8)) caps.Dsn = true;
        else if (SmtpText.EqualsIgnoreCase(kw, "SIZE"u8))
        {
            caps.Size = true;
            caps.SizeLimit = SmtpText.TryParseDecimal(SmtpText.Token(rest, out _), out long limit) ? limit : 0;
        }
        else if (SmtpText.EqualsIgnoreCase(kw, "AUTH"u8) || SmtpText.StartsWithIgnoreCase(kw, "AUTH="u8))
        {
            // "AUTH=LOGIN PLAIN" is the pre-RFC 4954 form some servers still send.
            if (kw.Length > 5) AddMechanism(kw[5..], caps);
            while (!rest.IsEmpty) AddMechanism(SmtpText.Token(rest, out rest), caps);
        }
        else if (caps.Other.Count < SmtpCapabilities.MaxOther)
            caps.Other.Add(SmtpText.Shared(kw, 64, upper: true));
    }

    private static void AddMechanism(ReadOnlySpan<byte> m, SmtpCapabilities caps)
    {
        if (m.IsEmpty || caps.AuthMechanisms.Count >= SmtpCapabilities.MaxAuthMechanisms) return;
        string s = SmtpText.Shared(m, 40, upper: true);
        if (!caps.AuthMechanisms.Contains(s)) caps.AuthMechanisms.Add(s);
    }
}
