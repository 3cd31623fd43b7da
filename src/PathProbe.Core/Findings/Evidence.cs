using System.Text.Json;
using System.Text.Json.Nodes;
using PathProbe.Primitives;

namespace PathProbe.Findings;

/// <summary>JSON type of an evidence key (schema 2: one key, one type, in every kind and at every depth).</summary>
public enum EvidenceType : byte
{
    /// <summary>Integer: a count, a size in bytes, an id, a port.</summary>
    Integer,
    /// <summary>Number without unit (a share 0..1).</summary>
    Number,
    /// <summary>Duration in seconds (number).</summary>
    Seconds,
    /// <summary>ISO 8601 UTC time with nanoseconds (string).</summary>
    Time,
    /// <summary>Free text (from packets: cleaned of control characters).</summary>
    Text,
    /// <summary>A kebab-case token from a closed set (string).</summary>
    Token,
    Boolean,
    /// <summary><c>{"ip": string, "port": integer}</c> (port 0 when there is none).</summary>
    Endpoint,
    /// <summary>An IP address (string).</summary>
    Address,
    /// <summary><c>{"min": integer, "max": integer}</c>.</summary>
    Range,
    /// <summary><c>{"c2s": integer, "s2c": integer}</c>: per direction of a flow.</summary>
    Pair,
    /// <summary>A nested evidence object (the same vocabulary).</summary>
    Object,
    SecondsList, TextList, TokenList, AddressList, EndpointList, ObjectList,
}

/// <summary>One evidence key: its JSON name, type and meaning, declared once in <see cref="EvidenceKeys"/>.</summary>
public sealed record EvidenceKey(string Name, EvidenceType Type, string Meaning);

/// <summary>
/// Writes a finding's evidence through declared keys only, so a key cannot change its type between kinds. Used by the
/// kinds' writers for the JSON report and NDJSON; the JSON Schema's evidence vocabulary is generated from
/// <see cref="EvidenceKeys.All"/>.
/// </summary>
public sealed class EvidenceWriter(Utf8JsonWriter w)
{
    private void Name(EvidenceKey k, EvidenceType t)
    {
        if (k.Type != t) throw new InvalidOperationException($"evidence key '{k.Name}' is declared {k.Type}, written as {t}");
        w.WritePropertyName(k.Name);
    }

    public void Int(EvidenceKey k, long v) { Name(k, EvidenceType.Integer); w.WriteNumberValue(v); }
    public void Int(EvidenceKey k, long? v) { Name(k, EvidenceType.Integer); if (v is { } x) w.WriteNumberValue(x); else w.WriteNullValue(); }
    public void Number(EvidenceKey k, double v) { Name(k, EvidenceType.Number); w.WriteNumberValue(Math.Round(v, 6)); }
    public void Seconds(EvidenceKey k, long nanos) { Name(k, EvidenceType.Seconds); w.WriteNumberValue(Math.Round(nanos / 1e9, 9)); }
    public void Seconds(EvidenceKey k, long? nanos) { Name(k, EvidenceType.Seconds); if (nanos is { } n) w.WriteNumberValue(Math.Round(n / 1e9, 9)); else w.WriteNullValue(); }
    public void Time(EvidenceKey k, Timestamp t) { Name(k, EvidenceType.Time); w.WriteStringValue(t.ToIso8601()); }
    public void Time(EvidenceKey k, Timestamp? t) { Name(k, EvidenceType.Time); if (t is { } x) w.WriteStringValue(x.ToIso8601()); else w.WriteNullValue(); }
    public void Text(EvidenceKey k, string? v) { Name(k, EvidenceType.Text); if (v is null) w.WriteNullValue(); else w.WriteStringValue(SafeText.Clean(v, 2000)); }
    public void Token(EvidenceKey k, string? v) { Name(k, EvidenceType.Token); if (v is null) w.WriteNullValue(); else w.WriteStringValue(v); }
    public void Bool(EvidenceKey k, bool v) { Name(k, EvidenceType.Boolean); w.WriteBooleanValue(v); }
    public void Bool(EvidenceKey k, bool? v) { Name(k, EvidenceType.Boolean); if (v is { } b) w.WriteBooleanValue(b); else w.WriteNullValue(); }
    public void Address(EvidenceKey k, IpAddress a) { Name(k, EvidenceType.Address); w.WriteStringValue(a.ToString()); }
    public void Endpoint(EvidenceKey k, Endpoint e) { Name(k, EvidenceType.Endpoint); WriteEndpoint(e); }
    public void Range(EvidenceKey k, long min, long max)
    {
        Name(k, EvidenceType.Range);
        w.WriteStartObject(); w.WriteNumber("min", min); w.WriteNumber("max", max); w.WriteEndObject();
    }
    public void Pair(EvidenceKey k, Pair p)
    {
        Name(k, EvidenceType.Pair);
        w.WriteStartObject(); w.WriteNumber("c2s", p.C2s); w.WriteNumber("s2c", p.S2c); w.WriteEndObject();
    }

    public void SecondsList(EvidenceKey k, IEnumerable<long> nanos) { Name(k, EvidenceType.SecondsList); w.WriteStartArray(); foreach (var v in nanos) w.WriteNumberValue(Math.Round(v / 1e9, 9)); w.WriteEndArray(); }
    public void Texts(EvidenceKey k, IEnumerable<string> values) { Name(k, EvidenceType.TextList); w.WriteStartArray(); foreach (var v in values) w.WriteStringValue(SafeText.Clean(v, 2000)); w.WriteEndArray(); }
    public void Tokens(EvidenceKey k, IEnumerable<string> values) { Name(k, EvidenceType.TokenList); w.WriteStartArray(); foreach (var v in values) w.WriteStringValue(v); w.WriteEndArray(); }
    public void Addresses(EvidenceKey k, IEnumerable<IpAddress> values) { Name(k, EvidenceType.AddressList); w.WriteStartArray(); foreach (var v in values) w.WriteStringValue(v.ToString()); w.WriteEndArray(); }
    public void Endpoints(EvidenceKey k, IEnumerable<Endpoint> values) { Name(k, EvidenceType.EndpointList); w.WriteStartArray(); foreach (var v in values) WriteEndpoint(v); w.WriteEndArray(); }

    /// <summary>A nested object: write its keys, then <see cref="End"/>.</summary>
    public void Object(EvidenceKey k) { Name(k, EvidenceType.Object); w.WriteStartObject(); }
    public void End() => w.WriteEndObject();
    /// <summary>A list of objects: <see cref="Item"/> before each, <see cref="End"/> after each, <see cref="EndList"/> at the end.</summary>
    public void List(EvidenceKey k) { Name(k, EvidenceType.ObjectList); w.WriteStartArray(); }
    public void Item() => w.WriteStartObject();
    public void EndList() => w.WriteEndArray();

    /// <summary>The numbers of one flow (the same in every finding that names it): flow id, endpoints, and for TCP the
    /// per-direction counts and the RTT.</summary>
    public void Flow(FlowFacts f)
    {
        Int(EvidenceKeys.Flow, f.Id);
        Endpoint(EvidenceKeys.Client, f.Client);
        Endpoint(EvidenceKeys.Server, f.Server);
        if (f.Protocol != Flows.FlowProtocol.Tcp) return;
        Pair(EvidenceKeys.Retransmissions, f.Retransmissions);
        Pair(EvidenceKeys.DataSegments, f.DataSegments);
        Seconds(EvidenceKeys.Rtt, f.RttNanos >= 0 ? f.RttNanos : null);
    }

    /// <summary>An SMTP position: phase, transaction, recipients, and the message bytes of that transaction: the
    /// flow's own number (<c>messageBytes</c>) when <paramref name="flow"/> is given and has it, else the count when
    /// the position was taken (<c>messageBytesThen</c>: a problem that recovered, the mail went on).</summary>
    public void Position(SmtpPosition p, FlowFacts? flow)
    {
        Object(EvidenceKeys.Position);
        Token(EvidenceKeys.Phase, p.MidSession ? "unknown" : Kinds.SmtpWords.PhaseName(p.Phase));
        Int(EvidenceKeys.Transaction, p.Transaction > 0 ? p.Transaction : null);
        Int(EvidenceKeys.Recipients, p.Recipients);
        if ((p.Transaction > 0 ? flow?.Message(p.Transaction) : null) is { } m)
        {
            Int(EvidenceKeys.MessageBytes, m.Bytes);
            Bool(EvidenceKeys.MessageBytesApproximate, m.Approximate);
        }
        else if (p.Transaction > 0)
        {
            Int(EvidenceKeys.MessageBytesThen, p.Message.Bytes);
            Bool(EvidenceKeys.MessageBytesApproximate, p.Message.Approximate);
        }
        End();
    }

    private void WriteEndpoint(Endpoint e)
    {
        w.WriteStartObject();
        w.WriteString("ip", e.Ip.ToString());
        w.WriteNumber("port", e.Port);
        w.WriteEndObject();
    }
}

/// <summary>
/// Every key findings' evidence may hold, with its type and meaning: one key means one thing with one type across
/// every kind (JSON schema 2). Units: durations in seconds, sizes in bytes, times ISO 8601 UTC.
/// </summary>
public static class EvidenceKeys
{
    private static readonly List<EvidenceKey> Keys = new();
    private static EvidenceKey K(string name, EvidenceType type, string meaning)
    {
        var k = new EvidenceKey(name, type, meaning);
        Keys.Add(k);
        return k;
    }

    public static IReadOnlyList<EvidenceKey> All => Keys;

    // ---- flows and endpoints --------------------------------------------------------------------------------------
    public static readonly EvidenceKey Flow = K("flow", EvidenceType.Integer, "flow id (flows[].id)");
    public static readonly EvidenceKey Flows = K("flows", EvidenceType.ObjectList, "the flows (or occurrences) the finding lists, each with the flow's own numbers and what this kind found in it");
    public static readonly EvidenceKey FlowsNotListed = K("flowsNotListed", EvidenceType.Integer, "flows or occurrences beyond the per-finding limit, counted");
    public static readonly EvidenceKey Client = K("client", EvidenceType.Endpoint, "the client of the flow (the side that sent the first SYN)");
    public static readonly EvidenceKey Server = K("server", EvidenceType.Endpoint, "the server of the flow");
    public static readonly EvidenceKey Sender = K("sender", EvidenceType.Endpoint, "who sent the data the finding is about");
    public static readonly EvidenceKey Receiver = K("receiver", EvidenceType.Endpoint, "who was to receive it");
    public static readonly EvidenceKey Peer = K("peer", EvidenceType.Address, "the remote host the finding is grouped by");
    public static readonly EvidenceKey Hop = K("hop", EvidenceType.Address, "the router that sent an ICMP message");
    public static readonly EvidenceKey Senders = K("senders", EvidenceType.AddressList, "sending hosts");
    public static readonly EvidenceKey Receivers = K("receivers", EvidenceType.AddressList, "receiving hosts");
    public static readonly EvidenceKey Attempts = K("attempts", EvidenceType.EndpointList, "the client endpoints of each attempt");
    public static readonly EvidenceKey Direction = K("direction", EvidenceType.Token, "direction of the data within the flow: c2s or s2c");
    public static readonly EvidenceKey Waiting = K("waiting", EvidenceType.Token, "which side waited: client or server");
    public static readonly EvidenceKey Protocol = K("protocol", EvidenceType.Token, "transport: tcp, udp, or another IP protocol as protocol-N");
    public static readonly EvidenceKey Application = K("application", EvidenceType.Token, "application protocol: smtp, dns");
    public static readonly EvidenceKey Peers = K("peers", EvidenceType.ObjectList, "remote hosts with their counts");
    public static readonly EvidenceKey Address = K("address", EvidenceType.Address, "an IP address");

    // ---- TCP numbers --------------------------------------------------------------------------------------------
    public static readonly EvidenceKey Retransmissions = K("retransmissions", EvidenceType.Pair, "tshark's tcp.analysis.retransmission (plain, fast, spurious) per direction; over several flows the sum over exactly the flows listed");
    public static readonly EvidenceKey DataSegments = K("dataSegments", EvidenceType.Pair, "segments carrying data, per direction; over several flows the sum over the flows listed");
    public static readonly EvidenceKey Share = K("share", EvidenceType.Number, "retransmissions / data segments of the flows listed (0..1)");
    public static readonly EvidenceKey Rtt = K("rtt", EvidenceType.Seconds, "the flow's RTT: median of the samples of the direction with more samples");
    public static readonly EvidenceKey Resends = K("resends", EvidenceType.Integer, "how many times the same segment was sent again (transmissions minus one)");
    public static readonly EvidenceKey IpPacketSize = K("ipPacketSize", EvidenceType.Integer, "IP packet size in bytes of the segment in question");
    public static readonly EvidenceKey SuperFrameSends = K("superFrameSends", EvidenceType.Integer, "sends of the resent data that were TSO/GSO super-frames (longer than the receiver's MSS: segmentation offload on the capture host), never a packet size on the wire");
    public static readonly EvidenceKey SuperFrameSize = K("superFrameSize", EvidenceType.Integer, "IP size in bytes of the largest of those super-frames");
    public static readonly EvidenceKey Intervals = K("intervals", EvidenceType.SecondsList, "time between consecutive transmissions of the segment");
    public static readonly EvidenceKey Backoff = K("backoff", EvidenceType.Boolean, "the intervals grow like RTO back-off");
    public static readonly EvidenceKey Acknowledged = K("acknowledged", EvidenceType.Boolean, "the resent data was acknowledged in the end");
    public static readonly EvidenceKey Series = K("series", EvidenceType.Object, "the segment resent during a stall");
    public static readonly EvidenceKey OutstandingBytes = K("outstandingBytes", EvidenceType.Integer, "bytes sent and not acknowledged when the stall began");
    public static readonly EvidenceKey WindowProbes = K("windowProbes", EvidenceType.Integer, "zero-window probes and keep-alives sent into a closed window");
    public static readonly EvidenceKey StallKind = K("stallKind", EvidenceType.Token, "rto-backoff, zero-window or application");
    public static readonly EvidenceKey Stall = K("stall", EvidenceType.Object, "the TCP stall under an SMTP session: the outage it ended in (smtp-aborted), or the stall before the server's timeout (smtp-deferral/smtp-reject of class server-timeout)");
    public static readonly EvidenceKey BeforeReply = K("beforeReply", EvidenceType.Seconds, "time from the start of the stall to the server's reply");
    public static readonly EvidenceKey Stalls = K("stalls", EvidenceType.Integer, "stalls TCP split the outage into");
    public static readonly EvidenceKey Ended = K("ended", EvidenceType.Token, "how it ended: a stall recovered, reset, closed, idle-timeout, evicted, replaced, capture-ended, ongoing; a fragmented datagram's record timed-out, evicted, open-at-end");
    public static readonly EvidenceKey Recovered = K("recovered", EvidenceType.Boolean, "the flow (every flow) got going again");
    public static readonly EvidenceKey SynsSent = K("synsSent", EvidenceType.Integer, "SYNs sent");
    public static readonly EvidenceKey Classification = K("classification", EvidenceType.Token, "what the finding is, from a closed set per kind");
    public static readonly EvidenceKey PeakRetransmissionsPerWindow = K("peakRetransmissionsPerWindow", EvidenceType.Integer, "most retransmissions in one sliding window");
    public static readonly EvidenceKey Window = K("window", EvidenceType.Seconds, "sliding window length");
    public static readonly EvidenceKey FullSizeRetransmissions = K("fullSizeRetransmissions", EvidenceType.Integer, "retransmitted full-size segments in the storm's windows");
    public static readonly EvidenceKey SmallRetransmissions = K("smallRetransmissions", EvidenceType.Integer, "retransmitted smaller segments in the storm's windows");
    public static readonly EvidenceKey FastRetransmissions = K("fastRetransmissions", EvidenceType.Integer, "fast retransmissions in the storm's windows");
    public static readonly EvidenceKey DuplicateAcks = K("duplicateAcks", EvidenceType.Integer, "duplicate ACKs in the storm's windows");
    public static readonly EvidenceKey HalfOpenConnections = K("halfOpenConnections", EvidenceType.Integer, "SYNs without SYN-ACK in the storm's windows");
    public static readonly EvidenceKey Sources = K("sources", EvidenceType.Integer, "distinct SYN sources");
    public static readonly EvidenceKey Reasons = K("reasons", EvidenceType.TokenList, "why the classification or confidence holds (closed set per kind)");

    // ---- times ------------------------------------------------------------------------------------------------------
    public static readonly EvidenceKey Start = K("start", EvidenceType.Time, "when it began");
    public static readonly EvidenceKey End = K("end", EvidenceType.Time, "when it ended (or the last event seen)");
    public static readonly EvidenceKey Duration = K("duration", EvidenceType.Seconds, "how long it lasted");
    public static readonly EvidenceKey TimeLost = K("timeLost", EvidenceType.Seconds, "time from the first lost packet to recovery (or the last packet)");
    public static readonly EvidenceKey Waited = K("waited", EvidenceType.Seconds, "how long the asker waited");
    public static readonly EvidenceKey Threshold = K("threshold", EvidenceType.Seconds, "the threshold that was exceeded");
    public static readonly EvidenceKey FirstSent = K("firstSent", EvidenceType.Time, "first transmission");
    public static readonly EvidenceKey LastSent = K("lastSent", EvidenceType.Time, "last transmission");
    public static readonly EvidenceKey Time = K("time", EvidenceType.Time, "when it happened");
    public static readonly EvidenceKey RetryAfter = K("retryAfter", EvidenceType.Seconds, "time from the truncated answer to the TCP retry");
    public static readonly EvidenceKey FilledAfter = K("filledAfter", EvidenceType.Seconds, "time until a gap was filled");

    // ---- path MTU -------------------------------------------------------------------------------------------------
    public static readonly EvidenceKey Vantage = K("vantage", EvidenceType.Token, "where the capture was taken: sender or receiver");
    public static readonly EvidenceKey PathMtu = K("pathMtu", EvidenceType.Range, "the path MTU lies in [min, max] (IP bytes)");
    public static readonly EvidenceKey LargestDelivered = K("largestDelivered", EvidenceType.Integer, "largest IP packet known to get through");
    public static readonly EvidenceKey SmallestLost = K("smallestLost", EvidenceType.Integer, "smallest IP packet size that never got through");
    public static readonly EvidenceKey LargestArrived = K("largestArrived", EvidenceType.Integer, "largest IP packet that arrived (receiver's vantage)");
    public static readonly EvidenceKey FullSize = K("fullSize", EvidenceType.Integer, "IP size of a full-size segment (smaller MSS + headers)");
    public static readonly EvidenceKey MissingBytes = K("missingBytes", EvidenceType.Integer, "bytes of the sender's data that never arrived");
    public static readonly EvidenceKey BeyondHoleSize = K("beyondHoleSize", EvidenceType.Integer, "size of the packet that arrived beyond the gap");
    public static readonly EvidenceKey FilledWithMax = K("filledWithMax", EvidenceType.Integer, "largest packet that filled the gap");
    public static readonly EvidenceKey RecoveredWith = K("recoveredWith", EvidenceType.Integer, "first packet size that got through after the loss");
    public static readonly EvidenceKey SettledAt = K("settledAt", EvidenceType.Integer, "largest packet delivered after recovery");
    public static readonly EvidenceKey Mss = K("mss", EvidenceType.Pair, "MSS each side advertised (0 = not seen)");
    public static readonly EvidenceKey AdvertisedBy = K("advertisedBy", EvidenceType.Endpoint, "who advertised the MSS");
    public static readonly EvidenceKey AdvertisedMss = K("advertisedMss", EvidenceType.Integer, "the MSS advertised");
    public static readonly EvidenceKey ImpliedPacketSize = K("impliedPacketSize", EvidenceType.Integer, "IP packet size that MSS invites (MSS + 20 + IP header)");
    public static readonly EvidenceKey SafeMss = K("safeMss", EvidenceType.Integer, "an MSS whose packets fit the path");
    public static readonly EvidenceKey IcmpTooBigSeen = K("icmpTooBigSeen", EvidenceType.Boolean, "an ICMP too-big message came back");
    public static readonly EvidenceKey IcmpTooBig = K("icmpTooBig", EvidenceType.Integer, "ICMP too-big messages for this flow direction");
    public static readonly EvidenceKey Confidence = K("confidence", EvidenceType.Token, "high or medium");
    public static readonly EvidenceKey FixCommand = K("fixCommand", EvidenceType.Text, "the command that makes mail flow again today");
    public static readonly EvidenceKey Fixes = K("fixes", EvidenceType.ObjectList, "black-hole fixes for each place they can be applied (Advice/MtuFixGenerator)");
    public static readonly EvidenceKey At = K("at", EvidenceType.Token, "where a fix is applied: sender, receiver, router");
    public static readonly EvidenceKey Tool = K("tool", EvidenceType.Token, "the tool a fix uses: nft, iptables, ip");
    public static readonly EvidenceKey Commands = K("commands", EvidenceType.TextList, "commands that run as-is with sh -e as root on that host");
    public static readonly EvidenceKey Undo = K("undo", EvidenceType.TextList, "commands that remove exactly what the fix added");
    public static readonly EvidenceKey Basis = K("basis", EvidenceType.Text, "what the fix's size rests on");
    public static readonly EvidenceKey Encapsulation = K("encapsulation", EvidenceType.TokenList, "layers the lost packets were captured in, outermost first (flows[].encapsulation layer names)");
    public static readonly EvidenceKey EncapsulationOverhead = K("encapsulationOverhead", EvidenceType.Integer, "bytes that encapsulation takes from the link's IP MTU (PPPoE 8, GRE over IPv4 24, VXLAN over IPv4 50)");
    public static readonly EvidenceKey InnerMtu = K("innerMtu", EvidenceType.Integer, "IP MTU left inside that encapsulation on a 1500-byte Ethernet link");
    public static readonly EvidenceKey PeersNotReported = K("peersNotReported", EvidenceType.Integer, "black-hole peers beyond the limit");
    public static readonly EvidenceKey Mtu = K("mtu", EvidenceType.Integer, "MTU an ICMP message reported");
    public static readonly EvidenceKey Messages = K("messages", EvidenceType.Integer, "ICMP messages");
    public static readonly EvidenceKey Obeyed = K("obeyed", EvidenceType.Boolean, "later packets fitted (null: nothing was sent afterwards, or the flow is not in the capture)");
    public static readonly EvidenceKey PacketsAfter = K("packetsAfter", EvidenceType.Integer, "data packets sent after the ICMP");
    public static readonly EvidenceKey OversizeAfter = K("oversizeAfter", EvidenceType.Integer, "of those, larger than the reported MTU");
    public static readonly EvidenceKey LargestAfter = K("largestAfter", EvidenceType.Integer, "largest packet after the ICMP");
    public static readonly EvidenceKey QuotedPacketSize = K("quotedPacketSize", EvidenceType.Integer, "size of the packet the ICMP quoted");

    // ---- DNS and fragments ------------------------------------------------------------------------------------------
    public static readonly EvidenceKey Question = K("question", EvidenceType.Text, "DNS question: TYPE name");
    public static readonly EvidenceKey DnsId = K("dnsId", EvidenceType.Integer, "DNS message id (number)");
    public static readonly EvidenceKey Sends = K("sends", EvidenceType.Integer, "transmissions of a query over all attempts");
    public static readonly EvidenceKey QueryEdnsSize = K("queryEdnsSize", EvidenceType.Integer, "EDNS UDP size the query offered (null: no EDNS, 512)");
    public static readonly EvidenceKey AnswerDatagramsLost = K("answerDatagramsLost", EvidenceType.Integer, "answer datagrams whose fragments never all arrived");
    public static readonly EvidenceKey UdpAnswerSize = K("udpAnswerSize", EvidenceType.Integer, "size of the truncated UDP answer");
    public static readonly EvidenceKey TcpRetry = K("tcpRetry", EvidenceType.Boolean, "the client retried over TCP");
    public static readonly EvidenceKey TcpFlow = K("tcpFlow", EvidenceType.Integer, "flow id of the TCP retry");
    public static readonly EvidenceKey TcpAnswerSize = K("tcpAnswerSize", EvidenceType.Integer, "size of the answer over TCP");
    public static readonly EvidenceKey Datagrams = K("datagrams", EvidenceType.Integer, "datagrams");
    public static readonly EvidenceKey DatagramBytes = K("datagramBytes", EvidenceType.Integer, "datagram size in bytes");
    public static readonly EvidenceKey MaxDatagramBytes = K("maxDatagramBytes", EvidenceType.Integer, "largest datagram in bytes");
    public static readonly EvidenceKey MaxFragments = K("maxFragments", EvidenceType.Integer, "most fragments of one datagram");
    public static readonly EvidenceKey LargestFragment = K("largestFragment", EvidenceType.Integer, "largest fragment (IP bytes)");
    public static readonly EvidenceKey DontFragment = K("dontFragment", EvidenceType.Boolean, "DF was set");
    public static readonly EvidenceKey FlowCount = K("flowCount", EvidenceType.Integer, "distinct flows");
    public static readonly EvidenceKey IncompleteDatagrams = K("incompleteDatagrams", EvidenceType.Integer, "fragmented datagrams from this sender that never arrived whole");
    public static readonly EvidenceKey FragmentsExpected = K("fragmentsExpected", EvidenceType.Integer, "fragments the datagram needed");
    public static readonly EvidenceKey IcmpReassemblyTimeExceeded = K("icmpReassemblyTimeExceeded", EvidenceType.Integer, "ICMP fragment reassembly time exceeded messages");
    public static readonly EvidenceKey QueryOutcome = K("queryOutcome", EvidenceType.Token, "answered, timeout, capture-ended, pending or no-query-seen");
    public static readonly EvidenceKey Lost = K("lost", EvidenceType.ObjectList, "the datagrams that never arrived whole");
    public static readonly EvidenceKey IpId = K("ipId", EvidenceType.Integer, "IP identification");
    public static readonly EvidenceKey FragmentsReceived = K("fragmentsReceived", EvidenceType.Integer, "fragments that arrived");
    public static readonly EvidenceKey BytesReceived = K("bytesReceived", EvidenceType.Integer, "bytes of fragments that arrived");
    public static readonly EvidenceKey FirstFragmentSeen = K("firstFragmentSeen", EvidenceType.Boolean, "the first fragment arrived");
    public static readonly EvidenceKey LastFragmentSeen = K("lastFragmentSeen", EvidenceType.Boolean, "the last fragment arrived");
    public static readonly EvidenceKey Reason = K("reason", EvidenceType.Text, "why a check could not be made (the resolver's reason: \"REFUSED by 127.0.0.1:5300\", \"timeout after 2 s\")");
    public static readonly EvidenceKey Transport = K("transport", EvidenceType.Token, "udp or tcp");

    // ---- SMTP -------------------------------------------------------------------------------------------------------
    public static readonly EvidenceKey Position = K("position", EvidenceType.Object, "where the SMTP dialogue was");
    public static readonly EvidenceKey Phase = K("phase", EvidenceType.Token, "SMTP phase: connect, greeting, ehlo, starttls, tls, auth, ready, mail, rcpt, data-command, data, data-sent, bdat, quit, closing (the server's 421 ended the session), closed");
    public static readonly EvidenceKey Transaction = K("transaction", EvidenceType.Integer, "SMTP transaction number within the session (1-based)");
    public static readonly EvidenceKey Recipients = K("recipients", EvidenceType.Integer, "recipients of the transaction");
    public static readonly EvidenceKey RecipientsAccepted = K("recipientsAccepted", EvidenceType.Integer, "recipients the server accepted");
    public static readonly EvidenceKey MessageBytes = K("messageBytes", EvidenceType.Integer, "bytes of the message sent (RFC 5321 count; flows[].smtp.transactions[].messageBytes)");
    public static readonly EvidenceKey MessageBytesThen = K("messageBytesThen", EvidenceType.Integer, "bytes of the message sent when the position was taken (a problem that recovered: the mail went on)");
    public static readonly EvidenceKey MessageBytesApproximate = K("messageBytesApproximate", EvidenceType.Boolean, "bytes missing from the capture are counted in messageBytes");
    public static readonly EvidenceKey DeclaredSize = K("declaredSize", EvidenceType.Integer, "SIZE= of MAIL FROM");
    public static readonly EvidenceKey AdvertisedSizeLimit = K("advertisedSizeLimit", EvidenceType.Integer, "SIZE the server advertised in EHLO (0: no limit)");
    public static readonly EvidenceKey From = K("from", EvidenceType.Text, "envelope sender");
    public static readonly EvidenceKey Outcome = K("outcome", EvidenceType.Token, "accepted, deferred, rejected, aborted, incomplete, in-progress");
    public static readonly EvidenceKey TcpEnd = K("tcpEnd", EvidenceType.Token, "how the TCP connection ended: closed, reset, stalled, idle-timeout, capture-ended, evicted, replaced");
    public static readonly EvidenceKey ResetBy = K("resetBy", EvidenceType.Token, "who reset: client, server, both");
    public static readonly EvidenceKey PathMtuBlackHole = K("pathMtuBlackHole", EvidenceType.Boolean, "the data that stalled (smtp-aborted: the client's) is behind a path-MTU black hole (see mtu-blackhole)");
    public static readonly EvidenceKey ProviderRule = K("providerRule", EvidenceType.Text, "the provider-table row that classified the reply (a large provider's documented reply, e.g. gmail-4.7.28)");
    public static readonly EvidenceKey Banner = K("banner", EvidenceType.Text, "the server's greeting");
    public static readonly EvidenceKey Replies = K("replies", EvidenceType.ObjectList, "the replies in question");
    public static readonly EvidenceKey RepliesNotListed = K("repliesNotListed", EvidenceType.Integer, "further replies, counted");
    public static readonly EvidenceKey Command = K("command", EvidenceType.Text, "SMTP command as flows[].smtp.commands names it (\".\" the end of the data, \"(none)\" a reply no command asked for), or greeting");
    public static readonly EvidenceKey Argument = K("argument", EvidenceType.Text, "its argument");
    public static readonly EvidenceKey Code = K("code", EvidenceType.Integer, "reply code");
    public static readonly EvidenceKey EnhancedCode = K("enhancedCode", EvidenceType.Text, "RFC 3463 enhanced status code");
    public static readonly EvidenceKey Text = K("text", EvidenceType.Text, "reply text");
    public static readonly EvidenceKey Slowest = K("slowest", EvidenceType.Text, "the command answered most slowly");

    // ---- DNS checks -----------------------------------------------------------------------------------------------
    public static readonly EvidenceKey Check = K("check", EvidenceType.Token, "which DNS check");
    public static readonly EvidenceKey Status = K("status", EvidenceType.Token, "ok, info, warning, error, unknown (could not be checked)");
    public static readonly EvidenceKey Title = K("title", EvidenceType.Text, "the check's title");
    public static readonly EvidenceKey Detail = K("detail", EvidenceType.Text, "what the check found");
    public static readonly EvidenceKey Domain = K("domain", EvidenceType.Text, "the domain checked");
    public static readonly EvidenceKey Ehlo = K("ehlo", EvidenceType.Text, "the client's EHLO name");
    public static readonly EvidenceKey Error = K("error", EvidenceType.Text, "the resolver's reason (kept beside reason since dns-check-failed had it first)");
    public static readonly EvidenceKey For = K("for", EvidenceType.Token, "the finding kind a check that could not be made stands for");

    /// <summary>The JSON Schema (2020-12) of an evidence object: every key with its type (docs: the key's meaning).</summary>
    public static JsonObject Schema()
    {
        var props = new JsonObject();
        foreach (var k in Keys.OrderBy(k => k.Name, StringComparer.Ordinal))
        {
            var s = TypeSchema(k.Type);
            s["description"] = k.Meaning;
            props[k.Name] = s;
        }
        return new JsonObject { ["type"] = "object", ["additionalProperties"] = false, ["properties"] = props };
    }

    private static JsonObject TypeSchema(EvidenceType t) => t switch
    {
        EvidenceType.Integer => Nullable("integer"),
        EvidenceType.Number or EvidenceType.Seconds => Nullable("number"),
        EvidenceType.Time => new JsonObject { ["type"] = new JsonArray("string", "null"), ["format"] = "date-time" },
        EvidenceType.Text => Nullable("string"),
        EvidenceType.Token => new JsonObject { ["type"] = new JsonArray("string", "null"), ["pattern"] = "^[a-z0-9]+(-[a-z0-9]+)*$" },
        EvidenceType.Boolean => Nullable("boolean"),
        EvidenceType.Endpoint => new JsonObject { ["$ref"] = "#/$defs/endpoint" },
        EvidenceType.Address => new JsonObject { ["type"] = "string" },
        EvidenceType.Range => new JsonObject { ["$ref"] = "#/$defs/range" },
        EvidenceType.Pair => new JsonObject { ["$ref"] = "#/$defs/pair" },
        EvidenceType.Object => new JsonObject { ["$ref"] = "#/$defs/evidence" },
        EvidenceType.SecondsList => List(new JsonObject { ["type"] = "number" }),
        EvidenceType.TextList => List(new JsonObject { ["type"] = "string" }),
        EvidenceType.TokenList => List(new JsonObject { ["type"] = "string", ["pattern"] = "^[a-z0-9]+(-[a-z0-9]+)*$" }),
        EvidenceType.AddressList => List(new JsonObject { ["type"] = "string" }),
        EvidenceType.EndpointList => List(new JsonObject { ["$ref"] = "#/$defs/endpoint" }),
        EvidenceType.ObjectList => List(new JsonObject { ["$ref"] = "#/$defs/evidence" }),
        _ => throw new ArgumentOutOfRangeException(nameof(t)),
    };

    private static JsonObject Nullable(string type) => new() { ["type"] = new JsonArray(type, "null") };
    private static JsonObject List(JsonObject item) => new() { ["type"] = "array", ["items"] = item };
}
