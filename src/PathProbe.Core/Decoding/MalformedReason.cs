namespace PathProbe.Decoding;

/// <summary>
/// Why a frame was skipped (or, for the checksum, flagged). Stable names (see <see cref="MalformedReasons.Name"/>)
/// appear in reports and JSON, so never rename one; add new ones at the end.
/// </summary>
public enum MalformedReason : byte
{
    None = 0,
    TruncatedLinkHeader,
    TruncatedVlanTag,
    TooManyVlanTags,
    BadNullFamily,
    TruncatedIpv4Header,
    BadIpv4Version,
    BadIpv4HeaderLength,
    BadIpv4TotalLength,
    BadIpv4Options,
    Ipv4ChecksumBad,
    TruncatedIpv6Header,
    BadIpv6Version,
    BadIpv6PayloadLength,
    TruncatedIpv6ExtensionHeader,
    TooManyIpv6ExtensionHeaders,
    BadFragment,
    TruncatedTcpHeader,
    BadTcpDataOffset,
    BadTcpOption,
    TruncatedUdpHeader,
    BadUdpLength,
    TruncatedIcmpHeader,
    TruncatedIcmpQuote,
    BadRawIpVersion,
    /// <summary>An ICMP error quotes something that is not an IPv4/IPv6 header (bad version or IHL, endless extension chain).</summary>
    BadIcmpQuote,
    /// <summary>A GRE header (RFC 2784/2890/2637) longer than what was captured, per its flags.</summary>
    TruncatedGreHeader,
    /// <summary>GRE version other than 0 (RFC 2784) or 1 (enhanced GRE of PPTP, RFC 2637).</summary>
    BadGreVersion,
    TruncatedVxlanHeader,
    TruncatedGeneveHeader,
    /// <summary>The MPLS label stack ends before an entry with the bottom-of-stack bit.</summary>
    TruncatedMplsLabel,
    TruncatedPppoeHeader,
    /// <summary>The PPPoE length field claims more than the frame holds, or less than the PPP protocol field.</summary>
    BadPppoeLength,
    /// <summary>A PPP header (PPP link types, PPP inside GRE) cut before its protocol field.</summary>
    TruncatedPppHeader,
    TruncatedErspanHeader,
    /// <summary>Cisco metadata (0x8909) header cut short.</summary>
    TruncatedCiscoMetadata,
    /// <summary>Marker for array sizing; not a reason.</summary>
    Count,
}

public static class MalformedReasons
{
    private static readonly string[] Names = BuildNames();

    /// <summary>snake_case name used in reports and JSON, e.g. "truncated_tcp_header".</summary>
    public static string Name(MalformedReason r) => Names[(int)r];

    private static string[] BuildNames()
    {
        var names = new string[(int)MalformedReason.Count];
        for (int i = 0; i < names.Length; i++)
        {
            string s = ((MalformedReason)i).ToString();
            var sb = new System.Text.StringBuilder(s.Length + 8);
            for (int j = 0; j < s.Length; j++)
            {
                char c = s[j];
                if (char.IsUpper(c))
                {
                    if (j > 0 && !(char.IsUpper(s[j - 1]) && (j + 1 >= s.Length || char.IsUpper(s[j + 1])))) sb.Append('_');
                    sb.Append(char.ToLowerInvariant(c));
                }
                else sb.Append(c);
            }
            names[i] = sb.ToString();
        }
        return names;
    }
}
