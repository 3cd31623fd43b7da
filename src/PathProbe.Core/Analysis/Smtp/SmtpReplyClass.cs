using PathProbe.Protocols.Smtp;

namespace PathProbe.Analysis.Smtp;

/// <summary>
/// What a 4xx/5xx reply means for a mail admin, from its code, RFC 3463 enhanced code and text. Texts are free-form,
/// so the words big receivers actually use are matched (Postfix, Exim, Gmail, Microsoft, Yahoo).
/// </summary>
public static class SmtpReplyClass
{
    /// <summary>A stable kebab-case class name and a short explanation.</summary>
    public readonly record struct Meaning(string Class, string Explanation);

    public static Meaning Classify(SmtpReply reply) => Classify(reply.Code, reply.EnhancedCode, reply.Text);

    public static Meaning Classify(int code, string? enhanced, string text)
    {
        string t = text.ToLowerInvariant();
        string e = enhanced ?? "";
        bool temp = code is >= 400 and < 500;

        if (Has(t, "greylist", "graylist", "grey-list", "gray-list", "greylisted"))
            return new("greylisting", "greylisting: the server defers mail from senders it has not seen before; a real MTA retries and gets through");
        // 552's text in RFC 5321 4.2.3 is "exceeded storage allocation"; servers use it for the message size.
        if (code is 552 or 452 && Has(t, "size", "too big", "too large", "exceeds", "storage allocation") || e is "5.3.4" or "5.2.3" or "4.3.4")
            return new("size", "the message is larger than the server accepts");
        if ((code is >= 500 and <= 504 || e.StartsWith("5.5.", StringComparison.Ordinal)) && !Has(t, "too many"))
            return new("protocol", "the server did not accept a command's syntax or order");
        // 4.7.28: Gmail's "unusual rate of unsolicited mail" from the IP or domain.
        if (e.EndsWith(".7.28", StringComparison.Ordinal) ||
            Has(t, "rate limit", "ratelimit", "rate-limit", "too many", "unusual rate", "throttl", "exceeded", "too fast", "slow down"))
            return new("rate-limit", "rate limiting: the server limits connections, messages or recipients per client; send slower or spread the load");
        if (Has(t, "reputation", "blocklist", "blacklist", "block list", "black list", "dnsbl", "rbl", "spamhaus", "spamcop", "barracuda",
                "listed", "not seen before", "poor", "low sender", "sender score", "bulk"))
            return new("reputation", "sender reputation: the server distrusts the sending IP or domain (blocklists, new or unknown sender)");
        if (Has(t, "reverse dns", "reverse-dns", "ptr record", "no ptr", "rdns", "cannot find your hostname", "hostname", "helo", "ehlo"))
            return new("reverse-dns", "the client's reverse DNS or HELO name failed the server's checks (PTR record missing or not forward-confirmed)");
        if (e is "5.7.8" or "5.7.9" or "5.7.0" && Has(t, "auth") || code is 535 or 534 or 530 or 454 && Has(t, "auth"))
            return new("authentication", "authentication failed or is required");
        if (Has(t, "spf", "dkim", "dmarc", "authenticat"))
            return new("sender-authentication", "the mail failed SPF, DKIM or DMARC checks at the server");
        if (Has(t, "relay"))
            return new("relay-denied", "the server does not relay for this client to this recipient");
        if (e.StartsWith("5.1.", StringComparison.Ordinal) || e.StartsWith("4.1.", StringComparison.Ordinal) ||
            Has(t, "user unknown", "unknown user", "no such user", "does not exist", "mailbox unavailable", "recipient address rejected", "not found"))
            return new("address", "an address was refused (unknown recipient or invalid sender)");
        if (e.StartsWith("4.2.", StringComparison.Ordinal) || e.StartsWith("5.2.", StringComparison.Ordinal) || code is 450 or 550 && Has(t, "mailbox"))
            return new("mailbox", "the recipient's mailbox is unavailable or full");
        if (e.StartsWith("4.3.", StringComparison.Ordinal) || code == 452 || Has(t, "insufficient", "storage", "disk"))
            return new("server-resources", "the server is short of resources (disk, queue, load)");
        if (Has(t, "spam", "virus", "malware", "content", "message refused", "policy"))
            return new("content-policy", "the server's content or local policy refused the message");
        if (e.StartsWith("4.7.", StringComparison.Ordinal) || e.StartsWith("5.7.", StringComparison.Ordinal))
            return new("policy", "security or policy refusal (RFC 3463 x.7.x): often reputation, rate limits or access rules for the client's address");
        if (code == 421)
            return new("service-unavailable", "the server closed the session (421): it is overloaded, shutting down, or refuses this client for now");
        if (code == 554 && temp == false)
            return new("refused", "transaction failed (554): typically a policy refusal of the client");
        return new("other", temp ? "temporary failure: the sender should retry" : "permanent failure: the message will bounce");
    }

    private static bool Has(string text, params string[] words)
    {
        foreach (var w in words)
            if (text.Contains(w, StringComparison.Ordinal)) return true;
        return false;
    }
}
