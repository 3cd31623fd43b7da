using System.Text;
using PathProbe.Protocols.Dns;

namespace PathProbe.Tests.Protocols.Dns;

/// <summary>A name's presentation form is written by one escaping rule (<see cref="DnsName.Escape"/>) everywhere:
/// <see cref="DnsName.ToText"/>, <see cref="DnsName.TryWriteText"/> and the answer texts. Checked against the rule as
/// RFC 1035 §5.1 states it, written out here, on random names of arbitrary bytes.</summary>
public sealed class DnsNameTextTests
{
    private static string Reference(byte[] wire)
    {
        if (wire.Length == 0 || wire[0] == 0) return ".";
        var sb = new StringBuilder();
        for (int p = 0; p < wire.Length && wire[p] != 0; p += 1 + wire[p])
        {
            int n = wire[p];
            if (p + 1 + n > wire.Length) break;
            if (sb.Length > 0) sb.Append('.');
            foreach (byte b in wire.AsSpan(p + 1, n))
            {
                if (".\\\";()@$".Contains((char)b)) sb.Append('\\').Append((char)b);
                else if (b <= 0x20 || b >= 0x7F) sb.Append('\\').Append(((int)b).ToString("D3"));
                else sb.Append((char)b);
            }
        }
        return sb.ToString();
    }

    private const string Alphabet = "abc-.\\\"();@$ 09";

    private static byte[] RandomName(Random rng)
    {
        var wire = new List<byte>();
        int labels = rng.Next(0, 6);
        for (int l = 0; l < labels; l++)
        {
            int n = rng.Next(1, 64);
            wire.Add((byte)n);
            for (int i = 0; i < n; i++)
                wire.Add(rng.Next(4) == 0 ? (byte)rng.Next(256) : (byte)Alphabet[rng.Next(Alphabet.Length)]);
        }
        if (rng.Next(10) > 0) wire.Add(0);
        else if (wire.Count > 0) wire.RemoveAt(wire.Count - 1); // cut inside the last label
        return wire.ToArray();
    }

    [Fact]
    public void RandomNames_ToTextAndTryWriteText_FollowTheRule()
    {
        var rng = new Random(1035);
        Span<char> buf = stackalloc char[DnsName.MaxTextLength];
        for (int i = 0; i < 5_000; i++)
        {
            var wire = RandomName(rng);
            string expected = Reference(wire);
            Assert.Equal(expected, DnsName.ToText(wire));
            if (wire.Length <= DnsReader.MaxNameLength)
            {
                Assert.True(DnsName.TryWriteText(wire, buf, out int n));
                Assert.Equal(expected, new string(buf[..n]));
            }
        }
    }

    [Fact]
    public void LongInput_ToTextFitsWhateverItsLength()
    {
        // Longer than a name may be (the text buffer is then made for it): 20 labels of 63 escaped bytes.
        var wire = Enumerable.Range(0, 20).SelectMany(_ => new byte[] { 63 }.Concat(Enumerable.Repeat((byte)0x01, 63))).Append((byte)0).ToArray();
        string text = DnsName.ToText(wire);
        Assert.Equal(Reference(wire), text);
        Assert.Equal(20 * 63 * 4 + 19, text.Length);
    }
}
