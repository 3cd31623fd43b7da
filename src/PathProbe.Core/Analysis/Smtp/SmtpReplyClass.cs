using PathProbe.Protocols.Smtp;

namespace PathProbe.Analysis.Smtp;

/// <summary>What a 4xx/5xx reply means for a mail admin (stable kebab-case names in <see cref="SmtpReplyClass.Name"/>).</summary>
public enum SmtpReplyKind : byte
{
    /// <summary>Nothing more specific: a temporary or permanent failure.</summary>
    Other,
    /// <summary>Greylisting: a real MTA retries and gets through.</summary>
    Greylisting,
    /// <summary>The message is larger than the server accepts.</summary>
    Size,
    /// <summary>Syntax or order of commands (500-504, x.5.x).</summary>
    Protocol,
    /// <summary>The server limits this client's connections, messages or recipients.</summary>
    RateLimit,
    /// <summary>The recipient receives mail faster than its provider lets through (Gmail 4.2.1): not the sender's doing.</summary>
    RecipientRateLimit,
    /// <summary>The server distrusts the sending IP or domain (blocklists, complaints, unknown sender).</summary>
    Reputation,
    /// <summary>The client's PTR or HELO name failed the server's checks.</summary>
    ReverseDns,
    /// <summary>SMTP AUTH failed or is required.</summary>
    Authentication,
    /// <summary>The mail failed SPF, DKIM or DMARC.</summary>
    SenderAuthentication,
    RelayDenied,
    /// <summary>An address was refused (unknown recipient, invalid sender).</summary>
    Address,
    /// <summary>The recipient's mailbox is unavailable or full.</summary>
    Mailbox,
    ServerResources,
    ContentPolicy,
    /// <summary>Another x.7.x security or policy refusal.</summary>
    Policy,
    /// <summary>421 without a more specific reason.</summary>
    ServiceUnavailable,
    /// <summary>554 without a more specific reason.</summary>
    Refused,
    /// <summary>The server's own timeout (Postfix "421 4.4.2 ... Error: timeout exceeded"): it waited for the client,
    /// typically because the client's data stopped arriving (a stall, a path-MTU black hole).</summary>
    ServerTimeout,
}

/// <summary>A large provider whose documented reply texts are recognised (<see cref="SmtpReplyClass.ProviderRules"/>).</summary>
public enum MailProvider : byte { None, Gmail, Microsoft, Yahoo }

/// <summary>One row of the provider table: a documented reply of a large mail provider and what it means.</summary>
/// <param name="Id">Stable name of the row ("gmail-4.7.28").</param>
/// <param name="Code">The reply code it comes with, or 0 for any.</param>
/// <param name="Enhanced">The RFC 3463 enhanced code it comes with (exact), or null for any.</param>
/// <param name="Texts">Lower-case phrases, any of which must occur in the reply's full text; empty for none.</param>
/// <param name="Explanation">What it means, in the provider's terms.</param>
public sealed record SmtpProviderRule(string Id, MailProvider Provider, int Code, string? Enhanced, string[] Texts,
    SmtpReplyKind Kind, string Explanation)
{
    internal bool Matches(int code, string? enhanced, string lowerText)
    {
        if (Code != 0 && code != Code) return false;
        if (Enhanced != null && enhanced != Enhanced) return false;
        if (Texts.Length == 0) return true;
        foreach (var t in Texts)
            if (lowerText.Contains(t, StringComparison.Ordinal)) return true;
        return false;
    }
}

/// <summary>What happened on the flow around a reply, for classification (typed facts, not words).</summary>
public readonly record struct SmtpReplyContext
{
    /// <summary>The reply came while the client was sending the message (after 354, during BDAT, or at its end).</summary>
    public bool DuringData { get; init; }
    /// <summary>A TCP stall of the flow began after the command and before this reply (the client's data stopped).</summary>
    public bool AfterStall { get; init; }
}

/// <summary>The classification of one reply: its kind, and the provider row that decided it when one did.</summary>
public readonly record struct SmtpReplyMeaning(SmtpReplyKind Kind, bool Temporary, SmtpProviderRule? Rule)
{
    /// <summary>Stable kebab-case class name ("rate-limit", "server-timeout").</summary>
    public string Class => SmtpReplyClass.Name(Kind);
    /// <summary>What it means for the admin (the provider's meaning when a provider row decided it).</summary>
    public string Explanation => Rule?.Explanation ?? SmtpReplyClass.Explain(Kind, Temporary);
}

/// <summary>
/// What a 4xx/5xx reply means, from its code, RFC 3463 enhanced code, its whole text (every line of a multi-line
/// reply: providers put the key words on later lines) and what happened on the flow. Large providers' documented
/// replies come first, from <see cref="ProviderRules"/>; then the words Postfix, Exim, Sendmail and others use.
/// </summary>
public static class SmtpReplyClass
{
    /// <summary>The provider table: one row per documented reply, its public source in the comment above it. Tests
    /// check each row against the provider's real reply text.</summary>
    public static readonly IReadOnlyList<SmtpProviderRule> ProviderRules =
    [
        // Gmail, "Gmail SMTP errors and codes" (https://support.google.com/a/answer/3726730): 421 4.7.28 "Our system has
        // detected an unusual rate of unsolicited mail originating from your IP address ... temporarily rate limited";
        // Google's sender guidelines (https://support.google.com/mail/answer/81126) ask such senders to slow down.
        new("gmail-4.7.28", MailProvider.Gmail, 0, "4.7.28", [],
            SmtpReplyKind.RateLimit,
            "Gmail rate-limits this IP (or domain): it saw an unusual rate of unsolicited mail from it (4.7.28); send slower and follow Google's bulk-sender guidelines"),
        // Gmail, same page: 421 4.7.0 "Try again later, closing connection. This usually indicates a Denial of Service
        // (DoS) for the SMTP relay at the HELO stage." On the wire: "421 4.7.0 Try again later, closing connection.
        // (EHLO) ... - gsmtp" (the "(EHLO)" names the stage, not a HELO-name check).
        new("gmail-4.7.0-try-again-later", MailProvider.Gmail, 421, "4.7.0", ["try again later, closing connection"],
            SmtpReplyKind.RateLimit,
            "Gmail turned the connection away at EHLO (its protection against too many connections or messages from this IP): reconnect later and less often"),
        // Gmail, same page: 450 4.2.1 "The user you are trying to contact is receiving mail at a rate that prevents
        // additional messages from being delivered. Please resend your message at a later time." (and the variant
        // "receiving mail too quickly"); https://support.google.com/mail/?p=ReceivingRate.
        new("gmail-4.2.1-receiving-rate", MailProvider.Gmail, 0, "4.2.1",
            ["receiving mail at a rate", "receiving email at a rate", "receiving mail too quickly", "receiving email too quickly"],
            SmtpReplyKind.RecipientRateLimit,
            "the Gmail recipient receives mail faster than Gmail delivers it (4.2.1): a limit on the recipient, not on this sender; the retry will get through"),
        // Gmail, same page and https://support.google.com/mail/answer/81126#authentication: 550 5.7.26 "This mail has
        // been blocked because the sender is unauthenticated. Gmail requires all senders to authenticate with either
        // SPF or DKIM." and "Unauthenticated email from DOMAIN is not accepted due to domain's DMARC policy".
        // 5.7.26 is RFC 7372's "multiple authentication checks failed".
        new("gmail-5.7.26", MailProvider.Gmail, 0, "5.7.26", [],
            SmtpReplyKind.SenderAuthentication,
            "the mail failed SPF, DKIM and DMARC at the receiver (5.7.26): it must pass SPF or DKIM, aligned with the From domain for DMARC"),
        // Microsoft, Outlook.com sender support (https://sendersupport.olc.protection.outlook.com/pm/troubleshooting.aspx)
        // and Exchange Online NDR reference: 451 4.7.650 / 4.7.651 "The mail server [IP] has been temporarily rate
        // limited due to IP reputation."
        new("microsoft-4.7.650", MailProvider.Microsoft, 0, null, ["rate limited due to ip reputation"],
            SmtpReplyKind.Reputation,
            "Microsoft (Outlook.com, Exchange Online) throttles this IP because of its reputation (4.7.650): improve the IP's reputation (SNDS, sender support), sending slower alone will not fix it"),
        // Microsoft Learn, "Fix email delivery issues for error code 5.7.606 through 5.7.649 in Exchange Online"
        // (https://learn.microsoft.com/en-us/exchange/troubleshoot/email-delivery/ndr/fix-error-code-5-7-606-through-5-7-649-in-exchange-online):
        // 550 5.7.606-649 "Access denied, banned sending IP [IP]. To request removal from this list please visit
        // https://sender.office.com/".
        new("microsoft-5.7.606", MailProvider.Microsoft, 0, null, ["banned sending ip"],
            SmtpReplyKind.Reputation,
            "Microsoft has banned this sending IP (5.7.606-649): request delisting at https://sender.office.com/"),
        // Microsoft, Outlook.com sender support (same troubleshooting page): 550 5.7.1 "Unfortunately, messages from [IP]
        // weren't sent. Please contact your Internet service provider since part of their network is on our block list
        // (S3150)." (S3140 and AS3150 are the same block list).
        new("microsoft-s3150", MailProvider.Microsoft, 0, null, ["part of their network is on our block list"],
            SmtpReplyKind.Reputation,
            "Outlook.com blocks the network range this IP belongs to (S3150): the provider of the address range must ask Microsoft to delist it, or send from another range"),
        // Yahoo, Sender Hub SMTP error codes (https://senders.yahooinc.com/smtp-error-codes/, formerly
        // postmaster.yahooinc.com/error-codes, which the reply cites): 421 4.7.0 [TSS04] "Messages from IP temporarily
        // deferred due to unexpected volume or user complaints".
        new("yahoo-tss04", MailProvider.Yahoo, 0, null, ["[tss04]"],
            SmtpReplyKind.Reputation,
            "Yahoo defers mail from this IP because of user complaints or unexpected volume (TSS04): reduce complaints (feedback loop, list hygiene) and volume; it clears by itself once they drop"),
    ];

    public static SmtpReplyMeaning Classify(SmtpReply reply, in SmtpReplyContext context = default) =>
        Classify(reply.Code, reply.EnhancedCode, reply.FullText, context);

    public static SmtpReplyMeaning Classify(int code, string? enhanced, string text, in SmtpReplyContext context = default)
    {
        string t = text.ToLowerInvariant();
        string e = enhanced ?? "";
        bool temp = code is >= 400 and < 500;

        foreach (var rule in ProviderRules)
            if (rule.Matches(code, enhanced, t)) return new(rule.Kind, temp, rule);

        return new(Generic(code, e, t, temp, context), temp, null);
    }

    private static SmtpReplyKind Generic(int code, string e, string t, bool temp, in SmtpReplyContext context)
    {
        if (Has(t, "greylist", "graylist", "grey-list", "gray-list", "greylisted"))
            return SmtpReplyKind.Greylisting;
        // The server's own timeout: "421 4.4.2 mx Error: timeout exceeded" (Postfix smtpd_timeout), "421 ... SMTP
        // incoming data timeout" (Exim), "451 4.4.1 timeout waiting for input" (Sendmail). A 421 4.4.x (RFC 3463:
        // network and routing) while the data was coming, or after the flow stalled, is the same thing said tersely.
        if (temp && Has(t, "timeout", "timed out", "time out", "time-out") ||
            code == 421 && e.StartsWith("4.4.", StringComparison.Ordinal) && (context.DuringData || context.AfterStall))
            return SmtpReplyKind.ServerTimeout;
        // 552's text in RFC 5321 4.2.3 is "exceeded storage allocation"; servers use it for the message size.
        if (code is 552 or 452 && Has(t, "size", "too big", "too large", "exceeds", "storage allocation") || e is "5.3.4" or "5.2.3" or "4.3.4")
            return SmtpReplyKind.Size;
        if ((code is >= 500 and <= 504 || e.StartsWith("5.5.", StringComparison.Ordinal)) && !Has(t, "too many"))
            return SmtpReplyKind.Protocol;
        if (Has(t, "rate limit", "ratelimit", "rate-limit", "too many", "unusual rate", "throttl", "exceeded", "too fast", "slow down"))
            return SmtpReplyKind.RateLimit;
        if (Has(t, "reputation", "blocklist", "blacklist", "block list", "black list", "dnsbl", "rbl", "spamhaus", "spamcop", "barracuda",
                "listed", "not seen before", "poor", "low sender", "sender score", "bulk", "complaints"))
            return SmtpReplyKind.Reputation;
        // Only words that name the check: a bare "(EHLO)" in a reply names the stage, not the client's HELO name.
        if (Has(t, "reverse dns", "reverse-dns", "ptr record", "no ptr", "rdns", "cannot find your hostname", "hostname",
                "helo command rejected", "invalid helo", "bad helo", "helo name", "ehlo name"))
            return SmtpReplyKind.ReverseDns;
        if (e is "5.7.8" or "5.7.9" or "5.7.0" && Has(t, "auth") || code is 535 or 534 or 530 or 454 && Has(t, "auth"))
            return SmtpReplyKind.Authentication;
        if (Has(t, "spf", "dkim", "dmarc", "authenticat"))
            return SmtpReplyKind.SenderAuthentication;
        if (Has(t, "relay"))
            return SmtpReplyKind.RelayDenied;
        if (e.StartsWith("5.1.", StringComparison.Ordinal) || e.StartsWith("4.1.", StringComparison.Ordinal) ||
            Has(t, "user unknown", "unknown user", "no such user", "does not exist", "mailbox unavailable", "recipient address rejected", "not found"))
            return SmtpReplyKind.Address;
        if (e.StartsWith("4.2.", StringComparison.Ordinal) || e.StartsWith("5.2.", StringComparison.Ordinal) || code is 450 or 550 && Has(t, "mailbox"))
            return SmtpReplyKind.Mailbox;
        if (e.StartsWith("4.3.", StringComparison.Ordinal) || code == 452 || Has(t, "insufficient", "storage", "disk"))
            return SmtpReplyKind.ServerResources;
        if (Has(t, "spam", "virus", "malware", "content", "message refused", "policy"))
            return SmtpReplyKind.ContentPolicy;
        if (e.StartsWith("4.7.", StringComparison.Ordinal) || e.StartsWith("5.7.", StringComparison.Ordinal))
            return SmtpReplyKind.Policy;
        if (code == 421)
            return SmtpReplyKind.ServiceUnavailable;
        if (code == 554 && !temp)
            return SmtpReplyKind.Refused;
        return SmtpReplyKind.Other;
    }

    /// <summary>Stable kebab-case name of a kind (JSON, findings).</summary>
    public static string Name(SmtpReplyKind k) => k switch
    {
        SmtpReplyKind.Greylisting => "greylisting",
        SmtpReplyKind.Size => "size",
        SmtpReplyKind.Protocol => "protocol",
        SmtpReplyKind.RateLimit => "rate-limit",
        SmtpReplyKind.RecipientRateLimit => "recipient-rate-limit",
        SmtpReplyKind.Reputation => "reputation",
        SmtpReplyKind.ReverseDns => "reverse-dns",
        SmtpReplyKind.Authentication => "authentication",
        SmtpReplyKind.SenderAuthentication => "sender-authentication",
        SmtpReplyKind.RelayDenied => "relay-denied",
        SmtpReplyKind.Address => "address",
        SmtpReplyKind.Mailbox => "mailbox",
        SmtpReplyKind.ServerResources => "server-resources",
        SmtpReplyKind.ContentPolicy => "content-policy",
        SmtpReplyKind.Policy => "policy",
        SmtpReplyKind.ServiceUnavailable => "service-unavailable",
        SmtpReplyKind.Refused => "refused",
        SmtpReplyKind.ServerTimeout => "server-timeout",
        _ => "other",
    };

    /// <summary>A short explanation of a kind.</summary>
    public static string Explain(SmtpReplyKind k, bool temporary) => k switch
    {
        SmtpReplyKind.Greylisting => "greylisting: the server defers mail from senders it has not seen before; a real MTA retries and gets through",
        SmtpReplyKind.Size => "the message is larger than the server accepts",
        SmtpReplyKind.Protocol => "the server did not accept a command's syntax or order",
        SmtpReplyKind.RateLimit => "rate limiting: the server limits connections, messages or recipients per client; send slower or spread the load",
        SmtpReplyKind.RecipientRateLimit => "the recipient receives more mail than its server accepts for now: a limit on the recipient, not on this sender",
        SmtpReplyKind.Reputation => "sender reputation: the server distrusts the sending IP or domain (blocklists, complaints, new or unknown sender)",
        SmtpReplyKind.ReverseDns => "the client's reverse DNS or HELO name failed the server's checks (PTR record missing or not forward-confirmed)",
        SmtpReplyKind.Authentication => "authentication failed or is required",
        SmtpReplyKind.SenderAuthentication => "the mail failed SPF, DKIM or DMARC checks at the server",
        SmtpReplyKind.RelayDenied => "the server does not relay for this client to this recipient",
        SmtpReplyKind.Address => "an address was refused (unknown recipient or invalid sender)",
        SmtpReplyKind.Mailbox => "the recipient's mailbox is unavailable or full",
        SmtpReplyKind.ServerResources => "the server is short of resources (disk, queue, load)",
        SmtpReplyKind.ContentPolicy => "the server's content or local policy refused the message",
        SmtpReplyKind.Policy => "security or policy refusal (RFC 3463 x.7.x): often reputation, rate limits or access rules for the client's address",
        SmtpReplyKind.ServiceUnavailable => "the server closed the session (421): it is overloaded, shutting down, or refuses this client for now",
        SmtpReplyKind.Refused => "transaction failed (554): typically a policy refusal of the client",
        SmtpReplyKind.ServerTimeout => "the server's own timeout: it waited for the client and gave up (not a rate limit)",
        _ => temporary ? "temporary failure: the sender should retry" : "permanent failure: the message will bounce",
    };

    private static bool Has(string text, params string[] words)
    {
        foreach (var w in words)
            if (text.Contains(w, StringComparison.Ordinal)) return true;
        return false;
    }
}
