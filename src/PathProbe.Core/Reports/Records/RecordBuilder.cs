using System.Buffers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using PathProbe.Analysis.Dns;
using PathProbe.Analysis.Smtp;
using PathProbe.Findings;
using PathProbe.Findings.Kinds;
using PathProbe.Flows;
using PathProbe.Pipeline;
using PathProbe.Primitives;
using PathProbe.Protocols.Smtp;

namespace PathProbe.Reports.Records;

/// <summary>Who wrote the records: every record carries both, so the files of many servers and runs can be queried
/// together.</summary>
public sealed record RecordScope(string Host, string CaptureId);

/// <summary>The flow uid every record of a flow carries (Zeek's uid): "F" and the first 16 hex digits of
/// SHA-256(capture_id "/" flow id). The engine's flow id is unique and stable within a capture (analyze numbers flows
/// deterministically, so the same files and capture id give the same uids); the capture id makes it unique across
/// servers and runs.</summary>
public static class FlowUid
{
    public static string Of(string captureId, int flowId)
    {
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes($"{captureId}/{flowId}"), hash);
        return "F" + Convert.ToHexStringLower(hash[..8]);
    }
}

/// <summary>
/// Builds records from what the engine decided: a closed flow (its flow, smtp and dns records), a finding's version,
/// an input. Called when a flow, finding or input ends, never per packet; the record holds values only (the flow
/// record may be recycled after its close).
/// </summary>
public static class RecordBuilder
{
    /// <summary>The records of one flow, in order: the flow, its mail transactions, its DNS transactions.</summary>
    public static void OfFlow(Flow f, RecordScope scope, List<Record> into)
    {
        string uid = FlowUid.Of(scope.CaptureId, f.Id);
        into.Add(Flow(f, scope, uid));
        if (f.App is SmtpFlowState smtp)
            foreach (var tx in smtp.Session.Transactions) into.Add(Mail(f, smtp.Session, tx, scope, uid));
        if (f.App is DnsFlowState dns)
            foreach (var t in dns.Transactions) into.Add(Dns(t, scope, uid));
    }

    private static Record New(RecordTable table, RecordScope scope) =>
        new Record(table).Set("host", scope.Host).Set("capture_id", scope.CaptureId);

    private static Record Peers(Record r, IpAddress client, int clientPort, IpAddress server, int serverPort) =>
        r.Set("client_ip", client.ToString()).Set("client_port", (long)clientPort)
         .Set("server_ip", server.ToString()).Set("server_port", (long)serverPort);

    public static Record Flow(Flow f, RecordScope scope, string uid)
    {
        var facts = FlowFacts.Of(f);
        var r = New(RecordTables.Flow, scope)
            .Set("uid", uid).Set("flow", (long)f.Id).Set("input", (long)f.InputIndex).Set("protocol", f.ProtocolName)
            .Set("start", f.Start).Set("end", f.End)
            .Set("duration", Math.Round((f.End.UnixNanoseconds - f.Start.UnixNanoseconds) / 1e9, 9))
            .Set("state", JsonReport.EndName(f.EndReason)).Set("application", f.Application)
            .Set("packets_c2s", f.ClientToServer.Packets).Set("packets_s2c", f.ServerToClient.Packets)
            .Set("payload_bytes_c2s", f.ClientToServer.PayloadBytes).Set("payload_bytes_s2c", f.ServerToClient.PayloadBytes)
            .Set("mss_c2s", f.ClientToServer.Mss == 0 ? null : (long)f.ClientToServer.Mss)
            .Set("mss_s2c", f.ServerToClient.Mss == 0 ? null : (long)f.ServerToClient.Mss)
            .Set("max_ip_packet_c2s", (long)f.ClientToServer.MaxIpPacket).Set("max_ip_packet_s2c", (long)f.ServerToClient.MaxIpPacket);
        Peers(r, facts.Client.Ip, facts.Client.Port, facts.Server.Ip, facts.Server.Port);
        if (f.Protocol == FlowProtocol.Tcp && f.Tcp is { } tcp)
        {
            r.Set("handshake", JsonReport.HandshakeName(tcp.Handshake));
            r.Set("rtt", facts.RttNanos >= 0 ? Math.Round(facts.RttNanos / 1e9, 9) : null);
            r.Set("retransmissions_c2s", facts.Retransmissions.C2s).Set("retransmissions_s2c", facts.Retransmissions.S2c);
            r.Set("data_segments_c2s", facts.DataSegments.C2s).Set("data_segments_s2c", facts.DataSegments.S2c);
            r.Set("longest_gap", tcp.LongestGapOutstanding > 0 ? Math.Round(tcp.LongestGapOutstanding / 1e9, 9) : null);
        }
        if (f.App is SmtpFlowState smtp) r.Set("mail_transactions", (long)smtp.Session.Transactions.Count);
        if (f.App is DnsFlowState dns) r.Set("dns_transactions", (long)dns.Transactions.Count);
        return r;
    }

    public static Record Mail(Flow f, SmtpSession session, SmtpTransaction tx, RecordScope scope, string uid)
    {
        var r = New(RecordTables.Smtp, scope)
            .Set("uid", uid).Set("flow", (long)f.Id).Set("index", (long)tx.Index + 1).Set("time", tx.MailTime)
            .Set("ehlo_name", Clean(session.EhloName))
            .Set("tls", session.ImplicitTls ? "implicit" : session.TlsStarted ? "starttls" : "none")
            .Set("from", SafeText.Clean(tx.Sender))
            .Set("recipients", (long)(tx.Recipients.Count + tx.RecipientsNotKept))
            .Set("recipients_accepted", (long)tx.RecipientsAccepted).Set("recipients_deferred", (long)tx.RecipientsDeferred)
            .Set("recipients_rejected", (long)tx.RecipientsRejected)
            .Set("message_bytes", tx.MessageBytes)
            .Set("outcome", SmtpWords.OutcomeName(tx.Outcome))
            .Set("end_phase", SmtpWords.PhaseName(tx.EndPhase))
            .Set("end_time", tx.EndTime)
            .Set("data_to_final_reply", tx.DataDuration is { } dd ? Math.Round(dd.Ticks / 1e7, 6) : null);
        Peers(r, f.ClientAddress, f.ClientPort, f.ServerAddress, f.ServerPort);
        if (tx.Recipients.Count > 0)
        {
            string first = SafeText.Clean(tx.Recipients[0].Address);
            r.Set("first_recipient", first).Set("recipient_domain", Domain(first));
        }
        if (MailReport.DecidingReply(session, tx) is { } reply)
        {
            r.Set("reply_code", (long)reply.Code).Set("enhanced_code", Clean(reply.EnhancedCode)).Set("reply_text", SafeText.Clean(reply.FullText));
            if (tx.Outcome is SmtpOutcome.Deferred or SmtpOutcome.Rejected)
            {
                var meaning = SmtpReplyClass.Classify(reply);
                r.Set("class", meaning.Class);
                if (meaning.Rule is { } rule)
                    r.Set("provider", rule.Provider.ToString().ToLowerInvariant()).Set("provider_rule", rule.Id);
            }
        }
        else if (tx.Outcome is SmtpOutcome.Deferred or SmtpOutcome.Rejected) r.Set("class", "other");
        return r;
    }

    public static Record Dns(DnsTransaction t, RecordScope scope, string uid)
    {
        var r = New(RecordTables.Dns, scope)
            .Set("uid", uid).Set("flow", (long)t.FlowId).Set("transport", t.Transport == DnsTransport.Udp ? "udp" : "tcp")
            .Set("dns_id", (long)t.Id).Set("time", t.FirstSent)
            .Set("name", t.Name is null ? null : SafeText.Clean(t.Name, 300))
            .Set("qtype", DnsTransaction.TypeName(t.Type)).Set("sends", (long)t.Sends).Set("query_size", (long)t.QuerySize)
            .Set("edns_size", t.QueryEdnsSize is { } e ? (long)e : null)
            .Set("outcome", DnsTransaction.OutcomeName(t.Outcome));
        Peers(r, t.Client, t.ClientPort, t.Server, t.ServerPort);
        if (t.Response is { } resp)
        {
            r.Set("rcode", DnsTransaction.RcodeName(resp.Rcode))
             .Set("response_time", Math.Round((resp.Time.UnixNanoseconds - t.FirstSent.UnixNanoseconds) / 1e9, 6))
             .Set("response_size", (long)resp.Size).Set("truncated", resp.Truncated).Set("fragmented", resp.Fragmented)
             .Set("answers", (long)resp.AnswerCount);
        }
        return r;
    }

    /// <summary>A finding's version. <paramref name="change"/> is set for capture's live stream only.</summary>
    public static Record Finding(Finding f, RecordScope scope, int input, string? change = null)
    {
        var first = f.Items[0];
        var (peer, vantage) = first switch
        {
            BlackHoleVerdict b => (b.Peer.ToString(), b.ReceiverVantage ? "receiver" : "sender"),
            MssMismatchVerdict m => (m.Peer.ToString(), m.ReceiverVantage ? "receiver" : "sender"),
            StallVerdict s => (s.Peer.ToString(), (string?)null),
            _ => (first.Flows.Count > 0 ? first.Flows[0].Server.Ip.ToString() : null, (string?)null),
        };
        var flows = f.Flows.Select(id => (long)id).ToArray();
        return New(RecordTables.Finding, scope)
            .Set("change", change).Set("input", (long)input).Set("id", (long)f.Id).Set("kind", f.Name).Set("severity", FindingKinds.SeverityName(f.Severity))
            .Set("state", f.State == FindingState.Open ? "open" : "closed").Set("version", (long)f.Version)
            .Set("title", f.Kind.Info().Title).Set("time", f.Time).Set("identifier", SafeText.Clean(f.Identifier, 300))
            .Set("peer", peer).Set("vantage", vantage)
            .Set("flows", flows).Set("uids", f.Flows.Select(id => FlowUid.Of(scope.CaptureId, id)).ToArray())
            .Set("summary", f.Summary).Set("evidence", Evidence(f)).Set("advice", f.Advice);
    }

    /// <summary>The finding's evidence object as JSON text (findings[].evidence of the analysis JSON).</summary>
    public static string Evidence(Finding f)
    {
        var buffer = new ArrayBufferWriter<byte>(1024);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            f.Kind.Writer().Evidence(new EvidenceWriter(w), f);
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    public static Record Input(CaptureAnalysis a, int index, RecordScope scope)
    {
        var i = a.Input;
        return New(RecordTables.Input, scope)
            .Set("input", (long)index).Set("path", SafeText.Clean(i.Path)).Set("format", i.Format)
            .Set("packets", i.Packets).Set("bytes", i.Bytes).Set("first_time", i.FirstTime).Set("last_time", i.LastTime)
            .Set("truncated", i.Truncated).Set("error", i.Error)
            .Set("flows", (long)a.Flows.Count).Set("findings", (long)a.Findings.Count)
            .Set("dropped", i.Drops is { } d ? d.Dropped : null);
    }

    private static string? Clean(string? s) => s is null ? null : SafeText.Clean(s);

    private static string? Domain(string address)
    {
        string a = address.Trim().Trim('<', '>');
        int at = a.LastIndexOf('@');
        return at < 0 || at == a.Length - 1 ? null : a[(at + 1)..].TrimEnd('.').ToLowerInvariant();
    }
}
