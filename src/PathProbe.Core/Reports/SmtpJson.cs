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
        w.WriteStartObject("smtp");
        w.WriteNumber("flows", all.Sum(s => s!.Flows));
        w.WriteNumber("flowsByBanner", all.Sum(s => s!.FlowsByBanner));
        w.WriteNumber("flowsBehindProxy", all.Sum(s => s!.FlowsBehindProxy));
        w.WriteNumber("flowsNotDecoded", all.Sum(s => s!.FlowsNotDecoded));
        w.WriteNumber("streamsAbandoned", all.Sum(s => s!.StreamsAbandoned));
        w.WriteNumber("budgetRefusals", all.Sum(s => s!.BudgetRefusals));
        w.WriteNumber("peakBufferedBytes", all.Max(s => s!.PeakBufferedBytes));
        w.WriteEndObject();
    }

    public static void WriteFlow(Utf8JsonWriter w, Flow f)
    {
        if (f.App is not SmtpFlowState s) return;
        var session = s.Session;
        w.WriteStartObject("smtp");
        w.WriteString("detectedBy", s.DetectedBy switch { SmtpDetection.Banner => "banner", SmtpDetection.Proxy => "proxy", _ => "port" });
        WriteProxy(w, session.Proxy);
        w.WriteString("phase", s.Phase);
        if (s.Position is { } position) new EvidenceWriter(w).Position(position, FlowFacts.Of(f)); else w.WriteNull("position");
        Str(w, "banner", session.Banner);
        if (session.GreetingDelay is { } gd) w.WriteNumber("greetingDelay", Sec(gd)); else w.WriteNull("greetingDelay");
        Str(w, "ehloName", session.EhloName);
        w.WriteBoolean("usedHelo", session.UsedHelo);
        WriteCapabilities(w, session.Capabilities);
        w.WriteString("tls", session.ImplicitTls ? "implicit" : session.TlsStarted ? "starttls" : "none");
        Time(w, "tlsStart", session.TlsStartTime);
        if (session.AuthMechanism is { } mech)
        {
            w.WriteStartObject("auth");
            w.WriteString("mechanism", SafeText.Clean(mech, 40));
            if (session.AuthResult == 0) w.WriteNull("result"); else w.WriteNumber("result", session.AuthResult);
            w.WriteString("outcome", session.AuthResult switch { 0 => "no-reply", >= 200 and < 300 => "success", >= 400 and < 500 => "temporary-failure", _ => "failure" });
            w.WriteEndObject();
        }
        else w.WriteNull("auth");

        w.WriteStartArray("transactions");
        foreach (var tx in session.Transactions) WriteTransaction(w, session, tx);
        w.WriteEndArray();
        w.WriteStartArray("commands"); // the commands outside transactions (EHLO, STARTTLS, AUTH, RSET, QUIT...)
        foreach (var c in session.Commands) if (c.Transaction < 0) WriteCommand(w, c);
        w.WriteEndArray();

        w.WriteString("end", SmtpFlowState.EndName(s.End));
        Str(w, "endDetail", s.EndDetail);
        Str(w, "closeReason", session.CloseReason);
        w.WriteStartObject("bytes");
        w.WriteNumber("c2s", session.ClientBytes);
        w.WriteNumber("s2c", session.ServerBytes);
        w.WriteNumber("tlsC2s", session.ClientTlsBytes);
        w.WriteNumber("tlsS2c", session.ServerTlsBytes);
        w.WriteEndObject();
        Str(w, "clientAbandoned", session.ClientAbandoned);
        Str(w, "serverAbandoned", session.ServerAbandoned);
        WriteAnomalies(w, session.Anomalies);
        w.WriteEndObject();
    }

    private static void WriteProxy(Utf8JsonWriter w, SmtpProxy? p)
    {
        if (p is null) { w.WriteNull("proxy"); return; }
        w.WriteStartObject("proxy");
        w.WriteString("kind", SmtpProxy.KindName(p.Kind));
        w.WriteString("state", SmtpProxy.StateName(p.State));
        Str(w, "target", p.Target);
        // PROXY protocol's original client and the address it connected to, as endpoints (schema 2: {ip, port}); the
        // target stays text, as the client named it (a host name for CONNECT and SOCKS 4a/5).
        Endpoint(w, "source", p.Source);
        Endpoint(w, "destination", p.Destination);
        if (p.Status >= 0) w.WriteNumber("status", p.Status); else w.WriteNull("status");
        w.WriteBoolean("authenticated", p.Authenticated);
        Time(w, "established", p.EstablishedTime);
        Str(w, "failure", p.FailureReason);
        w.WriteEndObject();
    }

    private static void WriteCapabilities(Utf8JsonWriter w, SmtpCapabilities? c)
    {
        if (c is null) { w.WriteNull("capabilities"); return; }
        w.WriteStartObject("capabilities");
        // SIZE (RFC 1870): the limit in bytes, 0 for "no fixed limit", null when not advertised.
        if (c.Size) w.WriteNumber("size", Math.Max(0, c.SizeLimit)); else w.WriteNull("size");
        w.WriteBoolean("pipelining", c.Pipelining);
        w.WriteBoolean("chunking", c.Chunking);
        w.WriteBoolean("startTls", c.StartTls);
        w.WriteBoolean("eightBitMime", c.EightBitMime);
        w.WriteBoolean("smtpUtf8", c.SmtpUtf8);
        w.WriteBoolean("enhancedStatusCodes", c.EnhancedStatusCodes);
        w.WriteBoolean("dsn", c.Dsn);
        w.WriteStartArray("auth");
        foreach (var m in c.AuthMechanisms) w.WriteStringValue(SafeText.Clean(m, 40));
        w.WriteEndArray();
        w.WriteStartArray("other");
        foreach (var o in c.Other) w.WriteStringValue(SafeText.Clean(o, 64));
        w.WriteEndArray();
        w.WriteEndObject();
    }

    private static void WriteTransaction(Utf8JsonWriter w, SmtpSession session, SmtpTransaction tx)
    {
        w.WriteStartObject();
        w.WriteNumber("index", tx.Index + 1);
        w.WriteString("from", SafeText.Clean(tx.Sender));
        Str(w, "mailParameters", tx.MailParameters);
        if (tx.DeclaredSize >= 0) w.WriteNumber("declaredSize", tx.DeclaredSize); else w.WriteNull("declaredSize");
        Str(w, "body", tx.Body);
        JsonReport.WriteTime(w, "mailTime", tx.MailTime);
        if (tx.MailReplyCode == 0) w.WriteNull("mailReply"); else w.WriteNumber("mailReply", tx.MailReplyCode);
        w.WriteBoolean("mailRefused", tx.MailRefused);
        w.WriteStartArray("recipients");
        foreach (var r in tx.Recipients)
        {
            // Each recipient with its own reply: 550 then 451 is one rejected and one deferred recipient.
            w.WriteStartObject();
            w.WriteString("address", SafeText.Clean(r.Address));
            Str(w, "parameters", r.Parameters);
            if (r.ReplyCode == 0) w.WriteNull("reply"); else w.WriteNumber("reply", r.ReplyCode);
            Str(w, "enhancedCode", r.EnhancedCode);
            w.WriteString("outcome", r.Reply switch { null => "no-reply", { Code: < 400 } => "accepted", { Code: < 500 } => "deferred", _ => "rejected" });
            Str(w, "replyText", r.Reply?.FullText);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteNumber("recipientsNotListed", tx.RecipientsNotKept);
        w.WriteNumber("recipientsAccepted", tx.RecipientsAccepted);
        w.WriteNumber("recipientsDeferred", tx.RecipientsDeferred);
        w.WriteNumber("recipientsRejected", tx.RecipientsRejected);
        w.WriteString("dataCommand", tx.UsedBdat ? "bdat" : tx.DataCommandTime is null ? "none" : "data");
        w.WriteNumber("messageBytes", tx.MessageBytes);
        w.WriteBoolean("messageBytesApproximate", tx.SizeApproximate);
        w.WriteNumber("captureGapBytes", tx.CaptureGapBytes);
        if (tx.DataRefusal is { } refusal) { w.WritePropertyName("dataRefusal"); WriteReply(w, refusal); } else w.WriteNull("dataRefusal");
        Time(w, "dataCommandTime", tx.DataCommandTime);
        Time(w, "dataStartTime", tx.DataStartTime);
        Time(w, "dataEndTime", tx.DataEndTime);
        if (tx.FinalReply is { } fr) { w.WritePropertyName("finalReply"); WriteReply(w, fr); } else w.WriteNull("finalReply");
        if (tx.DataDuration is { } dd) w.WriteNumber("dataToFinalReply", Sec(dd)); else w.WriteNull("dataToFinalReply");
        if (tx.FinalReply is { } f2 && tx.DataEndTime is { } de)
            w.WriteNumber("endOfDataToFinalReply", Math.Round((f2.Time.UnixNanoseconds - de.UnixNanoseconds) / 1e9, 6));
        else w.WriteNull("endOfDataToFinalReply");
        w.WriteString("outcome", SmtpWords.OutcomeName(tx.Outcome));
        Str(w, "outcomeReason", tx.OutcomeReason);
        w.WriteString("endPhase", SmtpWords.PhaseName(tx.EndPhase));
        Time(w, "endTime", tx.EndTime);
        w.WriteStartArray("commands");
        foreach (var c in session.Commands) if (c.Transaction == tx.Index) WriteCommand(w, c);
        w.WriteEndArray();
        w.WriteEndObject();
    }

    private static void WriteCommand(Utf8JsonWriter w, SmtpCommand c)
    {
        w.WriteStartObject();
        w.WriteString("command", c.Kind == SmtpCommandKind.None ? "(none)" : SafeText.Clean(c.Verb, 16));
        Str(w, "argument", c.Argument);
        JsonReport.WriteTime(w, "time", c.Time);
        if (c.Intermediate is { } im && !ReferenceEquals(im, c.Reply)) { w.WritePropertyName("intermediate"); WriteReply(w, im); }
        if (c.Reply is { } r) { w.WritePropertyName("reply"); WriteReply(w, r); } else w.WriteNull("reply");
        if (c.Latency is { } l && c.Kind != SmtpCommandKind.None) w.WriteNumber("latency", Sec(l)); else w.WriteNull("latency");
        w.WriteEndObject();
    }

    private static void WriteReply(Utf8JsonWriter w, SmtpReply r)
    {
        w.WriteStartObject();
        w.WriteNumber("code", r.Code);
        Str(w, "enhancedCode", r.EnhancedCode);
        w.WriteString("text", SafeText.Clean(r.Text));
        w.WriteNumber("lines", r.Lines);
        // Every line (bounded by SmtpLimits.MaxReplyLines and MaxTextLength; control characters escaped).
        w.WriteStartArray("textLines");
        foreach (var line in r.TextLines) w.WriteStringValue(SafeText.Clean(line));
        w.WriteEndArray();
        w.WriteNumber("linesNotKept", r.LinesNotKept);
        JsonReport.WriteTime(w, "time", r.Time);
        w.WriteEndObject();
    }

    private static void WriteAnomalies(Utf8JsonWriter w, SmtpAnomalies a)
    {
        w.WriteStartObject("anomalies");
        w.WriteNumber("longLines", a.LongLines);
        w.WriteNumber("truncatedLines", a.TruncatedLines);
        w.WriteNumber("nulBytes", a.NulBytes);
        w.WriteNumber("nonAsciiBytes", a.NonAsciiBytes);
        w.WriteNumber("bareLfLines", a.BareLfLines);
        w.WriteNumber("unparsableReplies", a.UnparsableReplies);
        w.WriteNumber("repliesWithoutCommand", a.RepliesWithoutCommand);
        w.WriteNumber("replyCodeMismatches", a.ReplyCodeMismatches);
        w.WriteNumber("repliesDuringData", a.RepliesDuringData);
        w.WriteNumber("unknownCommands", a.UnknownCommands);
        w.WriteNumber("bytesAfterStartTls", a.BytesAfterStartTls);
        w.WriteNumber("authLinesSkipped", a.AuthLinesSkipped);
        w.WriteNumber("clientGaps", a.ClientGaps);
        w.WriteNumber("serverGaps", a.ServerGaps);
        w.WriteNumber("gapBytes", a.GapBytes);
        w.WriteNumber("commandsNotKept", a.CommandsNotKept);
        w.WriteNumber("transactionsNotKept", a.TransactionsNotKept);
        w.WriteNumber("pendingOverflows", a.PendingOverflows);
        w.WriteNumber("bdatSizeInvalid", a.BdatSizeInvalid);
        w.WriteNumber("resyncs", a.Resyncs);
        w.WriteNumber("resyncSkippedLines", a.ResyncSkippedLines);
        w.WriteNumber("oddReplySeparators", a.OddReplySeparators);
        w.WriteNumber("replyLinesNotKept", a.ReplyLinesNotKept);
        w.WriteNumber("proxyPreambleInvalid", a.ProxyPreambleInvalid);
        w.WriteEndObject();
    }

    /// <summary>Durations are seconds (schema 2).</summary>
    private static double Sec(TimeSpan t) => Math.Round(t.Ticks / 1e7, 6);

    private static void Endpoint(Utf8JsonWriter w, string name, string? ipAndPort)
    {
        if (ipAndPort is null || !System.Net.IPEndPoint.TryParse(ipAndPort, out var e)) { w.WriteNull(name); return; }
        w.WriteStartObject(name);
        w.WriteString("ip", e.Address.ToString());
        w.WriteNumber("port", e.Port);
        w.WriteEndObject();
    }

    private static void Str(Utf8JsonWriter w, string name, string? v)
    {
        if (v is null) w.WriteNull(name); else w.WriteString(name, SafeText.Clean(v));
    }

    private static void Time(Utf8JsonWriter w, string name, Timestamp? t)
    {
        if (t is { } v) JsonReport.WriteTime(w, name, v); else w.WriteNull(name);
    }
}
