using PathProbe.Primitives;

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

    private enum ReplyTarget : byte { Greeting, Command, Unsolicited }

    private readonly Queue<Pending> _pending = new();
    private bool _greetingDone;

    // The reply being assembled (multi-line: "250-" lines, then "250 ").
    private bool _replyActive;
    private ReplyTarget _replyTarget;
    private int _replyCode;
    private int _replyLines;
    private string? _replyText;
    private string? _replyEnhanced;
    private SmtpCapabilities? _newCaps;

    private void Record(Verb verb, string verbText, string? arg, Timestamp time, SmtpTransaction? tx, SmtpRecipient? r, bool bdatLast = false)
    {
        SmtpCommand? kept = null;
        if (_commands.Count < _limits.MaxCommands)
        {
            kept = new SmtpCommand { Verb = verbText, Argument = arg, Time = time, Transaction = tx?.Index ?? -1 };
            _commands.Add(kept);
        }
        else _anomalies.CommandsNotKept++;

        if (_pending.Count >= _limits.MaxPending) { _anomalies.PendingOverflows++; return; }
        _pending.Enqueue(new Pending { Verb = verb, Kept = kept, Tx = tx, Rcpt = r, BdatLast = bdatLast });
        if (tx != null) tx.PendingReplies++;
    }

    private void ServerLine(ReadOnlySpan<byte> line, Timestamp time)
    {
        // RFC 5321 4.2: Reply-code [ SP / "-" textstring ] CRLF; codes 2yz..5yz (1yz is unused but harmless).
        if (line.Length < 3 || line[0] is < (byte)'1' or > (byte)'5' || line[1] is < (byte)'0' or > (byte)'9' ||
            line[2] is < (byte)'0' or > (byte)'9' || (line.Length > 3 && line[3] is not ((byte)' ' or (byte)'-')))
        {
            _anomalies.UnparsableReplies++;
            return;
        }
        int code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
        bool more = line.Length > 3 && line[3] == (byte)'-';
        var text = line.Length > 4 ? line[4..] : default;

        if (!_replyActive) StartReply(code, text);
        else if (code != _replyCode) _anomalies.ReplyCodeMismatches++;
        else if (_newCaps != null) ParseCapability(text, _newCaps);
        _replyLines++;
        if (!more) CompleteReply(time);
    }

    private void StartReply(int code, ReadOnlySpan<byte> text)
    {
        _replyActive = true;
        _replyCode = code;
        _replyLines = 0;
        // The first reply is the greeting (RFC 5321 4.3.1), even when an early-talking client sent a command before it.
        _replyTarget = !_greetingDone ? ReplyTarget.Greeting
            : _pending.Count > 0 ? ReplyTarget.Command : ReplyTarget.Unsolicited;

        int enh = SmtpText.EnhancedCodeLength(text);
        _replyEnhanced = enh > 0 ? SmtpText.ToDisplay(text[..enh], 16) : null;
        _replyText = SmtpText.ToDisplay(enh > 0 ? SmtpText.TrimStart(text[enh..]) : text, _limits.MaxTextLength);
        // RFC 5321 4.1.1.1: the first line of the EHLO reply is the server's name; each further line a keyword.
        _newCaps = _replyTarget == ReplyTarget.Command && _pending.Peek().Verb == Verb.Ehlo && code == 250
            ? new SmtpCapabilities() : null;
    }

    private void CompleteReply(Timestamp time)
    {
        _replyActive = false;
        var reply = new SmtpReply(_replyCode, _replyEnhanced, _replyText ?? "", _replyLines, time);
        int code = _replyCode;

        switch (_replyTarget)
        {
            case ReplyTarget.Greeting:
                _greetingDone = true;
                Greeting = reply;
                Banner = SmtpText.ToDisplay(System.Text.Encoding.ASCII.GetBytes($"{code} {(_replyEnhanced != null ? _replyEnhanced + " " : "")}{reply.Text}"), _limits.MaxTextLength);
                if (CurrentPhase == SmtpPhase.Connect) CurrentPhase = SmtpPhase.Greeting;
                break;
            case ReplyTarget.Unsolicited:
                // A reply no command asked for: typically 421 before closing (RFC 5321 3.8), or our pairing lost a
                // command to a gap. A reply arriving during DATA ends the data for the server, so it does for us too.
                if (_clientMode == ClientMode.Body)
                {
                    _anomalies.RepliesDuringData++;
                    var tx = _currentTx;
                    EndOfData(time);
                    var end = _pending.Dequeue();
                    if (end.Tx != null) end.Tx.PendingReplies--;
                    if (end.Kept != null) end.Kept.Reply = reply;
                    if (tx != null) FinalReply(tx, reply, time);
                    break;
                }
                _anomalies.RepliesWithoutCommand++;
                if (_commands.Count < _limits.MaxCommands)
                    _commands.Add(new SmtpCommand { Verb = "", Time = time, Reply = reply });
                else _anomalies.CommandsNotKept++;
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
            if (_clientMode is ClientMode.Body or ClientMode.Bdat or ClientMode.Auth or ClientMode.AwaitTls) _clientMode = ClientMode.Command;
        }
        _newCaps = null;
    }

    private void CommandReply(SmtpReply reply, Timestamp time)
    {
        int code = reply.Code;
        Pending p = _pending.Peek();

        // Intermediate replies keep the command at the head of the queue.
        if (p.Verb == Verb.Auth && code == 334)
        {
            if (p.Kept != null) p.Kept.Intermediate = reply;
            return;
        }

        _pending.Dequeue();
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
                if (ok && _newCaps != null) Capabilities = _newCaps;
                break;
            case Verb.Mail:
                if (tx == null) break;
                tx.MailReplyCode = code;
                if (!ok)
                {
                    SetOutcome(tx, code >= 500 ? SmtpOutcome.Rejected : SmtpOutcome.Deferred, $"MAIL refused ({code})", time);
                    if (CurrentPhase is SmtpPhase.Mail or SmtpPhase.Rcpt) CurrentPhase = SmtpPhase.Ready;
                }
                break;
            case Verb.Rcpt:
                if (p.Rcpt != null) { p.Rcpt.ReplyCode = code; p.Rcpt.EnhancedCode = reply.EnhancedCode; }
                if (tx == null) break;
                if (ok) tx.RecipientsAccepted++;
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
                    // DATA refused (no valid recipients, 503 sequence error...): back to commands.
                    if (_clientMode == ClientMode.Body) _clientMode = ClientMode.Command;
                    if (tx != null) FinalReply(tx, reply, time);
                    if (CurrentPhase is SmtpPhase.DataCommand or SmtpPhase.Data) CurrentPhase = SmtpPhase.Ready;
                }
                break;
            case Verb.DataEnd:
                if (tx != null) FinalReply(tx, reply, time);
                if (CurrentPhase == SmtpPhase.DataSent) CurrentPhase = SmtpPhase.Ready;
                break;
            case Verb.Bdat:
                // RFC 3030 2: each chunk is answered; the reply to LAST is the final one, a failure ends it early.
                if (tx != null && (p.BdatLast || !ok)) FinalReply(tx, reply, time);
                if (p.BdatLast && CurrentPhase == SmtpPhase.DataSent) CurrentPhase = SmtpPhase.Ready;
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
                    _clientFramer.Reset();
                    _clientFramer.SkipToEol = false;
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

    /// <summary>The reply that ends the data (or refuses DATA/BDAT) decides the transaction.</summary>
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
            caps.Other.Add(SmtpText.ToDisplay(kw, 64).ToUpperInvariant());
    }

    private static void AddMechanism(ReadOnlySpan<byte> m, SmtpCapabilities caps)
    {
        if (m.IsEmpty || caps.AuthMechanisms.Count >= SmtpCapabilities.MaxAuthMechanisms) return;
        string s = SmtpText.ToDisplay(m, 40).ToUpperInvariant();
        if (!caps.AuthMechanisms.Contains(s)) caps.AuthMechanisms.Add(s);
    }
}
