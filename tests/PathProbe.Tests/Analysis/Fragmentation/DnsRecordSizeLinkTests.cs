using PathProbe.Findings;
using PathProbe.Findings.Kinds;
using PathProbe.Pipeline;
using PathProbe.Primitives;
using PathProbe.Tests.Support;

namespace PathProbe.Tests.Analysis.Fragmentation;

/// <summary>
/// Issue 18 item 4: a DNS answer over 512/1232 bytes is a fragmentation risk, linked to the fragmentation findings of a
/// capture. The fragmented answer names its question, its TXT records and their size, and the EDNS advice; a single
/// SPF record over 512 bytes points at <c>pathprobe dns</c>'s spf-size check; a lost fragmented TXT answer gives its
/// size and the command that measures it.
/// </summary>
public sealed class DnsRecordSizeLinkTests
{
    [Fact]
    public void Analyze_FragmentedTxtAnswer_NamesRecordsSizeAndEdnsAdvice()
    {
        var a = FileAnalyzer.Analyze(Path.Combine(TestPaths.Captures, "dns-fragmented.pcap"));
        var f = Assert.Single(a.Findings, x => x.Kind == FindingKind.IpFragmentation);
        var v = f.Verdict<IpFragmentationVerdict>();
        Assert.Equal("TXT big.example.test", v.Question);
        Assert.Equal(12, v.TxtRecords);
        Assert.Equal(2712, v.TxtBytes); // 12 strings: tshark -e dns.txt shows them
        Assert.Equal(4096, v.AnswerEdnsSize);
        Assert.Contains("the answer to TXT big.example.test carries 12 TXT records (2,712 bytes of text, the largest 226)", f.Summary);
        Assert.Contains("lower the server's EDNS buffer size to 1232 bytes", f.Advice);
        Assert.Contains("12 TXT records (2,712 bytes) of TXT big.example.test are what makes the answer this large", f.Advice);
    }

    [Fact]
    public void Analyze_LostFragmentedTxtAnswer_AdviceGivesSizeAndCheck()
    {
        var a = FileAnalyzer.Analyze(Path.Combine(TestPaths.Captures, "dns-fragment-lost.pcap"));
        var f = Assert.Single(a.Findings, x => x.Kind == FindingKind.FragmentLoss);
        Assert.Contains("the answer to TXT big.example.test is 2,925 bytes of DNS, over the 512 bytes RFC 7208 §3.4", f.Advice);
        Assert.Contains("`pathprobe dns big.example.test` measures it (its spf-size check)", f.Advice);
    }

    [Fact]
    public void Writer_OneLargeSpfRecord_PointsAtSpfSizeCheck()
    {
        var v = new IpFragmentationVerdict
        {
            Sender = IpAddress.Parse("203.0.113.53"), Protocol = "udp", Application = "dns", SenderIsServer = true,
            First = new Timestamp(1_790_000_000_000_000_000), Datagrams = 1, MaxDatagramBytes = 1700, MaxFragments = 2, LargestFragment = 1500,
            Question = "TXT example.test", TxtRecords = 1, TxtBytes = 1620, LargestTxtBytes = 1620, LargestTxtIsSpf = true,
        };
        var f = new Finding(1, 1, [v]);
        Assert.Contains("the answer to TXT example.test carries a 1,620-byte SPF record (over the 512 bytes RFC 7208 §3.4 asks for; `pathprobe dns` reports it as spf-size)", f.Summary);
        Assert.Contains("the 1,620-byte SPF record of TXT example.test is what makes the answer this large (shorten it under 512 bytes", f.Advice);
    }
}
