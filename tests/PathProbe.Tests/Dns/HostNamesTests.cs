using System.Globalization;
using PathProbe.Dns;

namespace PathProbe.Tests.Dns;

/// <summary>Names as typed and as carried by DNS, under the InvariantGlobalization=true the whole build uses
/// (Directory.Build.props), where IdnMapping does Punycode without IDNA's mapping step.</summary>
public class HostNamesTests
{
    [SkippableFact]
    public void Runtime_IsInvariantGlobalization()
    {
        Assert.True(AppContext.TryGetSwitch("System.Globalization.Invariant", out bool invariant) && invariant,
            "the tests must run as PathProbe does, with InvariantGlobalization=true");
        // Under it, IdnMapping alone maps upper case to a different A-label: why HostNames lower-cases first.
        Assert.Equal("xn--bcher-2pa.example", new IdnMapping().GetAscii("bÜcher.example"));
    }

    [SkippableTheory]
    [InlineData("bücher.example", "xn--bcher-kva.example")]
    [InlineData("BÜCHER.Example.", "xn--bcher-kva.example")]
    [InlineData("Bücher.EXAMPLE", "xn--bcher-kva.example")]
    [InlineData("xn--bcher-kva.example", "xn--bcher-kva.example")]
    [InlineData("münchen.de", "xn--mnchen-3ya.de")]
    [InlineData("公司.cn", "xn--55qx5d.cn")]
    [InlineData("Mail.Example.COM", "mail.example.com")]
    [InlineData("_dmarc.example.com", "_dmarc.example.com")]
    public void TryToAscii_Names_ALabelsLowerCase(string text, string ascii)
    {
        Assert.True(HostNames.TryToAscii(text, out var got, out var error), error);
        Assert.Equal(ascii, got);
    }

    [SkippableTheory]
    [InlineData("a b.example", "it contains a space")]
    [InlineData("a\u001b.example", "it contains the control character U+001B")]
    [InlineData("a\\032b.example", "it contains a backslash")]
    [InlineData("a..example", "it has an empty label")]
    [InlineData("", "the name is empty")]
    [InlineData("ex@mple.com", "it contains '@'")]
    [InlineData("xn--zz.example", "'xn--zz' is not a valid IDNA A-label")]
    [InlineData("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.example", "a label is 64 characters long")]
    public void TryToAscii_NotAName_Reason(string text, string reason)
    {
        Assert.False(HostNames.TryToAscii(text, out _, out var error));
        Assert.StartsWith(reason, error);
    }

    [SkippableTheory]
    [InlineData("xn--bcher-kva.example", "xn--bcher-kva.example (bücher.example)")]
    [InlineData("mx.xn--bcher-kva.example", "mx.xn--bcher-kva.example (mx.bücher.example)")]
    [InlineData("mx.example.test", "mx.example.test")]
    [InlineData("xn--zz.example", "xn--zz.example")]
    public void Show_BothFormsForIdn(string ascii, string shown) => Assert.Equal(shown, HostNames.Show(ascii));

    [SkippableTheory]
    [InlineData("mx.example.test", true)]
    [InlineData("mx.example.test.", true)]
    [InlineData("a_b.example", true)]
    [InlineData("xn--bcher-kva.example", true)]
    [InlineData("bad\\027name.example.test", false)]
    [InlineData("b\\195\\188cher.example", false)]
    [InlineData("sp ace.example", false)]
    [InlineData("semi;colon.example", false)]
    [InlineData(".", false)]
    public void IsHostName_DnsData(string name, bool ok) => Assert.Equal(ok, HostNames.IsHostName(name, out _));
}
