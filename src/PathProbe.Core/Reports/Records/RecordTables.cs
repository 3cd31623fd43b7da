using static PathProbe.Reports.Records.ColumnKind;

namespace PathProbe.Reports.Records;

/// <summary>
/// The record tables (README "Records: NDJSON and Parquet"). Every record starts with <c>host</c> and
/// <c>capture_id</c>, so the records of many servers and runs can be queried together; flow, finding, smtp and dns
/// records link through <c>uid</c> (<see cref="FlowUid"/>), like Zeek's conn/smtp/dns logs.
/// Names are only ever added within version 1 of the schema (pathprobe.records/1).
/// </summary>
public static class RecordTables
{
    public const string Schema = "pathprobe.records/1";

    private static RecordColumn C(string name, ColumnKind kind, string description, bool nullable = true) => new(name, kind, description, nullable);

    private static readonly RecordColumn[] Common =
    [
        C("host", Text, "The host that captured or analysed (--host; default the machine's name).", false),
        C("capture_id", Text, "The capture run (--capture-id; default: capture: the start time and process id; analyze: a hash of the input files' names, packet counts and first packet times).", false),
    ];

    private static RecordColumn[] With(params RecordColumn[] columns) => [.. Common, .. columns];

    private static readonly RecordColumn[] Peers =
    [
        C("client_ip", Text, "The client's address (the side that sent the first SYN, or the first packet).", false),
        C("client_port", Integer, "The client's port (0 for ICMP).", false),
        C("server_ip", Text, "The server's address.", false),
        C("server_port", Integer, "The server's port (0 for ICMP).", false),
    ];

    public static readonly RecordTable Flow = new("flow", "flows",
        "One flow (Zeek's conn.log), written when it leaves the flow table (FIN/RST and idle expiry, eviction, end of input).",
        With([
            C("uid", Text, "The flow's unique id: \"F\" and 16 hex digits of SHA-256(capture_id \"/\" flow). Findings, smtp and dns records name it.", false),
            C("flow", Integer, "The engine's flow id: flows[].id of the analysis JSON, and the numbers in findings' flows (unique within a capture_id).", false),
            C("input", Integer, "The input's index (0-based; one per file or joined set, as inputs[] of the analysis JSON).", false),
            C("protocol", Text, "tcp, udp or icmp.", false),
            .. Peers,
            C("start", Time, "First packet.", false),
            C("end", Time, "Last packet.", false),
            C("duration", Number, "end - start, in seconds.", false),
            C("state", Text, "How the flow ended: closed (FIN), reset, idle-timeout, evicted, replaced (port reuse), open (still open at the end).", false),
            C("application", Text, "smtp, dns, ... (null when not recognised)."),
            C("packets_c2s", Integer, "Packets client to server.", false),
            C("packets_s2c", Integer, "Packets server to client.", false),
            C("payload_bytes_c2s", Integer, "Transport payload bytes client to server.", false),
            C("payload_bytes_s2c", Integer, "Transport payload bytes server to client.", false),
            C("mss_c2s", Integer, "MSS the client advertised (null when not seen)."),
            C("mss_s2c", Integer, "MSS the server advertised (null when not seen)."),
            C("max_ip_packet_c2s", Integer, "Largest IP packet client to server (bytes)."),
            C("max_ip_packet_s2c", Integer, "Largest IP packet server to client (bytes)."),
            C("handshake", Text, "TCP: established, syn-ack, syn-sent, not-seen; null for UDP and ICMP."),
            C("rtt", Number, "TCP: the flow's RTT in seconds (the same number as the analysis JSON's flows[].tcp.rtt); null without samples."),
            C("retransmissions_c2s", Integer, "TCP: retransmissions client to server (tshark's tcp.analysis.retransmission)."),
            C("retransmissions_s2c", Integer, "TCP: retransmissions server to client."),
            C("data_segments_c2s", Integer, "TCP: segments with data client to server."),
            C("data_segments_s2c", Integer, "TCP: segments with data server to client."),
            C("longest_gap", Number, "TCP: longest time (seconds) data stayed outstanding without progress; null when none."),
            C("mail_transactions", Integer, "SMTP transactions on the flow (its smtp records); null when not SMTP."),
            C("dns_transactions", Integer, "DNS transactions on the flow (its dns records); null when not DNS."),
        ]));

    public static readonly RecordTable Finding = new("finding", "findings",
        "One finding (Zeek's notice.log). analyze: the final version. capture --ndjson: every change (change = opened, updated, closed); capture --parquet: when it closes, and at exit the final version of each finding not yet written.",
        With([
            C("change", Text, "capture --ndjson only: opened, updated or closed; null otherwise."),
            C("input", Integer, "The input's index (findings are numbered per input).", false),
            C("id", Integer, "The finding's id, stable across its versions (unique per capture_id and input).", false),
            C("kind", Text, "The finding's kind (stall, mtu-blackhole, smtp-deferral, ...; README \"Findings\").", false),
            C("severity", Text, "info, warning or critical.", false),
            C("state", Text, "open (still going on) or closed.", false),
            C("version", Integer, "Its version: a later version of the same id replaces an earlier one.", false),
            C("title", Text, "The kind's title.", false),
            C("time", Time, "When it began.", false),
            C("identifier", Text, "What groups verdicts into this finding (kind-specific: usually the peer, e.g. \"sender 203.0.113.25\").", false),
            C("peer", Text, "The remote address the finding is about: the black-holed or stalled peer, else the first named flow's server; null when none."),
            C("vantage", Text, "mtu-blackhole and mss-mismatch: sender or receiver (where the capture was taken); null otherwise."),
            C("flows", IntegerList, "The engine's ids of the flows it names.", false),
            C("uids", TextList, "The uids of the flows it names (flow records' uid).", false),
            C("summary", Text, "One line in words.", false),
            C("evidence", Json, "The kind's typed evidence: the same object as findings[].evidence in the analysis JSON (Parquet: JSON text).", false),
            C("advice", Text, "What to do, when the kind gives advice."),
        ]));

    public static readonly RecordTable Smtp = new("smtp", "smtp",
        "One SMTP mail transaction (MAIL FROM to its final reply; Zeek's smtp.log), written when its flow ends.",
        With([
            C("uid", Text, "The flow's uid.", false),
            C("flow", Integer, "The engine's flow id.", false),
            C("index", Integer, "The transaction's number within the flow (1-based).", false),
            C("time", Time, "MAIL FROM.", false),
            .. Peers,
            C("ehlo_name", Text, "The client's EHLO/HELO name."),
            C("tls", Text, "none, starttls or implicit (the mail itself is not visible after TLS).", false),
            C("from", Text, "The envelope sender.", false),
            C("recipients", Integer, "Recipients given (RCPT TO).", false),
            C("first_recipient", Text, "The first recipient's address."),
            C("recipient_domain", Text, "The first recipient's domain (lower case)."),
            C("recipients_accepted", Integer, "Recipients the server accepted.", false),
            C("recipients_deferred", Integer, "Recipients refused with 4xx.", false),
            C("recipients_rejected", Integer, "Recipients refused with 5xx.", false),
            C("message_bytes", Integer, "Message bytes sent (RFC 5321 count).", false),
            C("outcome", Text, "accepted, deferred, rejected, aborted, incomplete or in-progress.", false),
            C("reply_code", Integer, "The reply that decided the outcome (final reply, refused MAIL, or the first refused recipient when none was accepted)."),
            C("enhanced_code", Text, "That reply's RFC 3463 enhanced status code."),
            C("reply_text", Text, "That reply's text (all lines)."),
            C("class", Text, "For deferred and rejected: what the reply means (rate-limit, greylisting, reputation, server-timeout, ...; README \"Why mail is deferred\")."),
            C("provider", Text, "gmail, microsoft or yahoo when that provider's documented reply decided the class; null otherwise."),
            C("provider_rule", Text, "The provider table's row (e.g. gmail-4.7.28)."),
            C("end_phase", Text, "The SMTP phase in which the transaction ended.", false),
            C("end_time", Time, "When it ended."),
            C("data_to_final_reply", Number, "Seconds from the DATA/BDAT command to the final reply."),
        ]));

    public static readonly RecordTable Dns = new("dns", "dns",
        "One DNS query and its answer (Zeek's dns.log), written when its flow ends.",
        With([
            C("uid", Text, "The flow's uid.", false),
            C("flow", Integer, "The engine's flow id.", false),
            C("transport", Text, "udp or tcp.", false),
            C("dns_id", Integer, "The DNS message id.", false),
            C("time", Time, "First query sent.", false),
            .. Peers,
            C("name", Text, "The question's name (null when the query had no readable question)."),
            C("qtype", Text, "The question's type (A, AAAA, MX, TXT, ...).", false),
            C("sends", Integer, "Times the same query was sent.", false),
            C("query_size", Integer, "Query size in bytes.", false),
            C("edns_size", Integer, "The query's EDNS UDP payload size (null without OPT)."),
            C("outcome", Text, "answered, timeout, capture-ended, or pending (capture: the flow ended before the query was judged).", false),
            C("rcode", Text, "The answer's response code (NOERROR, NXDOMAIN, ...)."),
            C("response_time", Number, "Seconds from the first query to the answer."),
            C("response_size", Integer, "The answer's size in bytes."),
            C("truncated", ColumnKind.Boolean, "The answer had TC set."),
            C("fragmented", ColumnKind.Boolean, "The answer arrived in IP fragments."),
            C("answers", Integer, "Answer records."),
        ]));

    public static readonly RecordTable Input = new("input", null,
        "One input (a file, a joined set, or the live interface), written after its analysis. NDJSON only.",
        With([
            C("input", Integer, "The input's index.", false),
            C("path", Text, "The file (or interface).", false),
            C("format", Text, "pcap, pcapng, live (null when unreadable)."),
            C("packets", Integer, "Packets analysed.", false),
            C("bytes", Integer, "Bytes on the wire.", false),
            C("first_time", Time, "First packet."),
            C("last_time", Time, "Last packet."),
            C("truncated", ColumnKind.Boolean, "The input ended early (a damaged or cut file, a read error).", false),
            C("error", Text, "What went wrong, if anything."),
            C("flows", Integer, "Flow records of the input.", false),
            C("findings", Integer, "Findings of the input.", false),
            C("dropped", Integer, "Packets the capture itself lost (interface statistics); null when not recorded."),
        ]));

    /// <summary>Every table, in the order records of one flow are written.</summary>
    public static readonly IReadOnlyList<RecordTable> All = [Input, Flow, Smtp, Dns, Finding];

    /// <summary>The tables written as Parquet (--parquet DIR/NAME/).</summary>
    public static IEnumerable<RecordTable> Archived => All.Where(t => t.ParquetName is not null);
}
