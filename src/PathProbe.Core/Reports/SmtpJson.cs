using System.Text.Json;
using PathProbe.Analysis.Smtp;
using PathProbe.Findings;
using PathProbe.Findings.Kinds;
using PathProbe.Flows;
using PathProbe.Pipeline;
using PathProbe.Primitives;
using PathProbe.Protocols.Smtp;

namespace PathProbe.Reports;

/// <summary>The SMTP parts of the JSON document: <c>flows[].smtp</c> and <c>stats.smtp</c> (README "JSON output").
/// Every text from packets was cleaned by the decoder and is cleaned again here; credentials are never decoded.</summary>
internal static class SmtpJson
{
    public static void WriteStats(Utf8JsonWriter w, IReadOnlyList<CaptureAnalysis> analyses)
    {
        var all = analyses.Select(a => a.Smtp).Where(s => s is not null).ToList();
        if (all.Count == 0) return;
        w.WriteStartObject("smtp"u8);
        w.WriteNumber("flows"u8, all.Sum(s => s!.Flows));
        w.WriteNumber("flowsByBanner"u8, all.Sum(s => s!.FlowsByBanner));
        w.WriteNumber("flowsBehindProxy"u8, all.Sum(s => s!.FlowsBehindProxy));
        w.WriteNumber("flowsNotDecoded"u8, all.Sum(s => s!.FlowsNotDecoded));
        w.WriteNumber("streamsAbandoned"u8, all.Sum(s => s!.StreamsAbandoned));
        w.WriteNumber("budgetRefusals"u8, all.Sum(s => s!.BudgetRefusals));
        w.WriteNumber("peakBufferedBytes"u8, all.Max(s => s!.PeakBufferedBytes));
        w.WriteEndObject();
    }

    /// <summary>The flow's SMTP session, if any; <paramref name="facts"/> are the flow's (<see cref="FlowFacts.Of"/>).</summary>
    public static void WriteFlow(Utf8JsonWriter w, Flow f, FlowFacts facts)
    {
        if (f.App is not SmtpFlowState s) return;
        var session = s.Session;
        w.WriteStartObject("smtp"u8);
        w.WriteString("detectedBy"u8, s.DetectedBy switch { SmtpDetection.Banner => "banner", SmtpDetection.Proxy => "proxy", _ => "port" });
        WriteProxy(w, session.Proxy);
        w.WriteString("phase"u8, s.Phase);
        if (s.Position is { } position) new EvidenceWriter(w).Position(position, facts); else w.WriteNull("position"u8);
        Str(w, "banner", session.Banner);
        if (session.GreetingDelay is { } gd) w.WriteNumber("greetingDelay"u8, Sec(gd)); else w.WriteNull("greetingDelay"u8);
        Str(w, "ehloName", session.EhloName);
        w.WriteBoolean("usedHelo"u8, session.UsedHelo);
        WriteCapabilities(w, session.Capabilities);
        w.WriteString("tls"u8, session.ImplicitTls ? "implicit" : session.TlsStarted ? "starttls" : "none");
        JsonReport.WriteTime(w, "tlsStart"u8, session.TlsStartTime);
        if (session.AuthMechanism is { } mech)
        {
            w.WriteStartObject("auth"u8);
            w.WriteString("mechanism"u8, SafeText.Clean(mech, 40));
            if (session.AuthResult == 0) w.WriteNull("result"u8); else w.WriteNumber("result"u8, session.AuthResult);
            w.WriteString("outcome"u8, session.AuthResult switch { 0 => "no-reply", >= 200 and < 300 => "success", >= 400 and < 500 => "temporary-failure", _ => "failure" });
            w.WriteEndObject();
        }
        else w.WriteNull("auth"u8);

        w.WriteStartArray("transactions"u8);
        var transactions = session.Transactions; // indexed: a foreach over the interface would box its enumerator
        for (int i = 0; i < transactions.Count; i++) WriteTransaction(w, session, transactions[i]);
        w.WriteEndArray();
        w.WriteStartArray("commands"u8); // the commands outside transactions (EHLO, STARTTLS, AUTH, RSET, QUIT...)
        var commands = session.Commands;
        for (int i = 0; i < commands.Count; i++) if (commands[i].Transaction < 0) WriteCommand(w, commands[i]);
        w.WriteEndArray();

        w.WriteString("end"u8, SmtpFlowState.EndName(s.End));
        Str(w, "endDetail", s.EndDetail);
        Str(w, "closeReason", session.CloseReason);
        w.WriteStartObject("bytes"u8);
        w.WriteNumber("c2s"u8, session.ClientBytes);
        w.WriteNumber("s2c"u8, session.ServerBytes);
        w.WriteNumber("tlsC2s"u8, session.ClientTlsBytes);
        w.WriteNumber("tlsS2c"u8, session.ServerTlsBytes);
        w.WriteEndObject();
        Str(w, "clientAbandoned", session.ClientAbandoned);
        Str(w, "serverAbandoned", session.ServerAbandoned);
        WriteAnomalies(w, session.Anomalies);
        w.WriteEndObject();
    }

    private static void WriteProxy(Utf8JsonWriter w, SmtpProxy? p)
    {
        if (p is null) { w.WriteNull("proxy"u8); return; }
        w.WriteStartObject("proxy"u8);
        w.WriteString("kind"u8, SmtpProxy.KindName(p.Kind));
        w.WriteString("state"u8, SmtpProxy.StateName(p.State));
        Str(w, "target", p.Target);
        // PROXY protocol's original client and the address it connected to, as endpoints (schema 2: {ip, port}); the
        // target stays text, as the client named it (a host name for CONNECT and SOCKS 4a/5).
        Endpoint(w, "source", p.Source);
        Endpoint(w, "destination", p.Destination);
        if (p.Status >= 0) w.WriteNumber("status"u8, p.Status); else w.WriteNull("status"u8);
        w.WriteBoolean("authenticated"u8, p.Authenticated);
        JsonReport.WriteTime(w, "established"u8, p.EstablishedTime);
        Str(w, "failure", p.FailureReason);
        w.WriteEndObject();
    }

    private static void WriteCapabilities(Utf8JsonWriter w, SmtpCapabilities? c)
    {
        if (c is null) { w.WriteNull("capabilities"u8); return; }
        w.WriteStartObject("capabilities"u8);
        // SIZE (RFC 1870): the limit in bytes, 0 for "no fixed limit", null when not advertised.
        if (c.Size) w.WriteNumber("size"u8, Math.Max(0, c.SizeLimit)); else w.WriteNull("size"u8);
        w.WriteBoolean("pipelining"u8, c.Pipelining);
        w.WriteBoolean("chunking"u8, c.Chunking);
        w.WriteBoolean("startTls"u8, c.StartTls);
        w.WriteBoolean("eightBitMime"u8, c.EightBitMime);
        w.WriteBoolean("smtpUtf8"u8, c.SmtpUtf8);
        w.WriteBoolean("enhancedStatusCodes"u8, c.EnhancedStatusCodes);
        w.WriteBoolean("dsn"u8, c.Dsn);
        w.WriteStartArray("auth"u8);
        var mechanisms = c.AuthMechanisms; // indexed, here and below: a foreach over the interface boxes its enumerator
        for (int i = 0; i < mechanisms.Count; i++) w.WriteStringValue(SafeText.Clean(mechanisms[i], 40));
        w.WriteEndArray();
        w.WriteStartArray("other"u8);
        var other = c.Other;
        for (int i = 0; i < other.Count; i++) w.WriteStringValue(SafeText.Clean(other[i], 64));
        w.WriteEndArray();
        w.WriteEndObject();
    }

    private static void WriteTransaction(Utf8JsonWriter w, SmtpSession session, SmtpTransaction tx)
    {
        w.WriteStartObject();
        w.WriteNumber("index"u8, tx.Index + 1);
        w.WriteString("from"u8, SafeText.Clean(tx.Sender));
        Str(w, "mailParameters", tx.MailParameters);
        if (tx.DeclaredSize >= 0) w.WriteNumber("declaredSize"u8, tx.DeclaredSize); else w.WriteNull("declaredSize"u8);
        Str(w, "body", tx.Body);
        JsonReport.WriteTime(w, "mailTime"u8, tx.MailTime);
        if (tx.MailReplyCode == 0) w.WriteNull("mailReply"u8); else w.WriteNumber("mailReply"u8, tx.MailReplyCode);
        w.WriteBoolean("mailRefused"u8, tx.MailRefused);
        w.WriteStartArray("recipients"u8);
        var recipients = tx.Recipients;
        for (int i = 0; i < recipients.Count; i++)
        {
            var r = recipients[i];
            // Each recipient with its own reply: 550 then 451 is one rejected and one deferred recipient.
            w.WriteStartObject();
            w.WriteString("address"u8, SafeText.Clean(r.Address));
            Str(w, "parameters", r.Parameters);
            if (r.ReplyCode == 0) w.WriteNull("reply"u8); else w.WriteNumber("reply"u8, r.ReplyCode);
            Str(w, "enhancedCode", r.EnhancedCode);
            w.WriteString("outcome"u8, r.Reply switch { null => "no-reply", { Code: < 400 } => "accepted", { Code: < 500 } => "deferred", _ => "rejected" });
            Str(w, "replyText", r.Reply?.FullText);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteNumber("recipientsNotListed"u8, tx.RecipientsNotKept);
        w.WriteNumber("recipientsAccepted"u8, tx.RecipientsAccepted);
        w.WriteNumber("recipientsDeferred"u8, tx.RecipientsDeferred);
        w.WriteNumber("recipientsRejected"u8, tx.RecipientsRejected);
        w.WriteString("dataCommand"u8, tx.UsedBdat ? "bdat" : tx.DataCommandTime is null ? "none" : "data");
        w.WriteNumber("messageBytes"u8, tx.MessageBytes);
        w.WriteBoolean("messageBytesApproximate"u8, tx.SizeApproximate);
        w.WriteNumber("captureGapBytes"u8, tx.CaptureGapBytes);
        if (tx.DataRefusal is { } refusal) { w.WritePropertyName("dataRefusal"u8); WriteReply(w, refusal); } else w.WriteNull("dataRefusal"u8);
        JsonReport.WriteTime(w, "dataCommandTime"u8, tx.DataCommandTime);
        JsonReport.WriteTime(w, "dataStartTime"u8, tx.DataStartTime);
        JsonReport.WriteTime(w, "dataEndTime"u8, tx.DataEndTime);
        if (tx.FinalReply is { } fr) { w.WritePropertyName("finalReply"u8); WriteReply(w, fr); } else w.WriteNull("finalReply"u8);
        if (tx.DataDuration is { } dd) w.WriteNumber("dataToFinalReply"u8, Sec(dd)); else w.WriteNull("dataToFinalReply"u8);
        if (tx.FinalReply is { } f2 && tx.DataEndTime is { } de)
            w.WriteNumber("endOfDataToFinalReply"u8, Math.Round((f2.Time.UnixNanoseconds - de.UnixNanoseconds) / 1e9, 6));
        else w.WriteNull("endOfDataToFinalReply"u8);
        w.WriteString("outcome"u8, SmtpWords.OutcomeName(tx.Outcome));
        Str(w, "outcomeReason", tx.OutcomeReason);
        w.WriteString("endPhase"u8, SmtpWords.PhaseName(tx.EndPhase));
        JsonReport.WriteTime(w, "endTime"u8, tx.EndTime);
        w.WriteStartArray("commands"u8);
        var commands = session.Commands;
        for (int i = 0; i < commands.Count; i++) if (commands[i].Transaction == tx.Index) WriteCommand(w, commands[i]);
        w.WriteEndArray();
        w.WriteEndObject();
    }

    private static void WriteCommand(Utf8JsonWriter w, SmtpCommand c)
    {
        w.WriteStartObject();
        w.WriteString("command"u8, c.Kind == SmtpCommandKind.None ? "(none)" : SafeText.Clean(c.Verb, 16));
        Str(w, "argument", c.Argument);
        JsonReport.WriteTime(w, "time"u8, c.Time);
        if (c.Intermediate is { } im && !ReferenceEquals(im, c.Reply)) { w.WritePropertyName("intermediate"u8); WriteReply(w, im); }
        if (c.Reply is { } r) { w.WritePropertyName("reply"u8); WriteReply(w, r); } else w.WriteNull("reply"u8);
        if (c.Latency is { } l && c.Kind != SmtpCommandKind.None) w.WriteNumber("latency"u8, Sec(l)); else w.WriteNull("latency"u8);
        w.WriteEndObject();
    }

    private static void WriteReply(Utf8JsonWriter w, SmtpReply r)
    {
        w.WriteStartObject();
        w.WriteNumber("code"u8, r.Code);
        Str(w, "enhancedCode", r.EnhancedCode);
        w.WriteString("text"u8, SafeText.Clean(r.Text));
        w.WriteNumber("lines"u8, r.Lines);
        // Every line (bounded by SmtpLimits.MaxReplyLines and MaxTextLength; control characters escaped).
        w.WriteStartArray("textLines"u8);
        for (int i = 0; i < r.KeptLineCount; i++) w.WriteStringValue(SafeText.Clean(r.KeptLine(i)));
        w.WriteEndArray();
        w.WriteNumber("linesNotKept"u8, r.LinesNotKept);
        JsonReport.WriteTime(w, "time"u8, r.Time);
        w.WriteEndObject();
    }

    private static void WriteAnomalies(Utf8JsonWriter w, SmtpAnomalies a)
    {
        w.WriteStartObject("anomalies"u8);
        w.WriteNumber("longLines"u8, a.LongLines);
        w.WriteNumber("truncatedLines"u8, a.TruncatedLines);
        w.WriteNumber("nulBytes"u8, a.NulBytes);
        w.WriteNumber("nonAsciiBytes"u8, a.NonAsciiBytes);
        w.WriteNumber("bareLfLines"u8, a.BareLfLines);
        w.WriteNumber("unparsableReplies"u8, a.UnparsableReplies);
        w.WriteNumber("repliesWithoutCommand"u8, a.RepliesWithoutCommand);
        w.WriteNumber("replyCodeMismatches"u8, a.ReplyCodeMismatches);
        w.WriteNumber("repliesDuringData"u8, a.RepliesDuringData);
        w.WriteNumber("unknownCommands"u8, a.UnknownCommands);
        w.WriteNumber("bytesAfterStartTls"u8, a.BytesAfterStartTls);
        w.WriteNumber("authLinesSkipped"u8, a.AuthLinesSkipped);
        w.WriteNumber("clientGaps"u8, a.ClientGaps);
        w.WriteNumber("serverGaps"u8, a.ServerGaps);
        w.WriteNumber("gapBytes"u8, a.GapBytes);
        w.WriteNumber("commandsNotKept"u8, a.CommandsNotKept);
        w.WriteNumber("transactionsNotKept"u8, a.TransactionsNotKept);
        w.WriteNumber("pendingOverflows"u8, a.PendingOverflows);
        w.WriteNumber("bdatSizeInvalid"u8, a.BdatSizeInvalid);
        w.WriteNumber("resyncs"u8, a.Resyncs);
        w.WriteNumber("resyncSkippedLines"u8, a.ResyncSkippedLines);
        w.WriteNumber("oddReplySeparators"u8, a.OddReplySeparators);
        w.WriteNumber("replyLinesNotKept"u8, a.ReplyLinesNotKept);
        w.WriteNumber("proxyPreambleInvalid"u8, a.ProxyPreambleInvalid);
        w.WriteEndObject();
    }

    /// <summary>Durations are seconds (schema 2).</summary>
    private static double Sec(TimeSpan t) => Math.Round(t.Ticks / 1e7, 6);

    private static void Endpoint(Utf8JsonWriter w, string name, string? ipAndPort)
    {
        if (ipAndPort is null || !System.Net.IPEndPoint.TryParse(ipAndPort, out var e)) { w.WriteNull(name); return; }
        w.WriteStartObject(name);
        w.WriteString("ip"u8, e.Address.ToString());
        w.WriteNumber("port"u8, e.Port);
        w.WriteEndObject();
    }

    private static void Str(Utf8JsonWriter w, string name, string? v)
    {
        if (v is null) w.WriteNull(name); else w.WriteString(name, SafeText.Clean(v));
    }
}
