using System.Text;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using PathProbe.Protocols.Smtp;
using static PathProbe.Tests.Protocols.Smtp.SmtpScript;

namespace PathProbe.Tests.Protocols.Smtp;

/// <summary>
/// The DATA body scan (a state machine with one vectorised IndexOf per line, tracking CRs across reads) against a
/// plain line-by-line reference, on random bodies (dots, CRs, bare LFs, dot-stuffed lines) fed in random pieces: the same
/// end of data, the same message size with dot-stuffing undone, the same count of bare-LF line ends.
/// </summary>
public sealed class SmtpBodyScanPropertyTests
{
    /// <summary>Reference: message bytes (stuffing dots removed) and bare LFs up to the terminating "." line.</summary>
    private static (long Bytes, int BareLf) Reference(byte[] body)
    {
        long bytes = 0;
        int bare = 0, i = 0;
        while (i < body.Length)
        {
            int lf = Array.IndexOf(body, (byte)'\n', i);
            int end = lf < 0 ? body.Length : lf + 1;
            var line = body.AsSpan(i, end - i);
            bool crlf = line.Length >= 2 && line[^2] == (byte)'\r' && line[^1] == (byte)'\n';
            if (line.SequenceEqual(".\r\n"u8)) return (bytes, bare);
            if (line.SequenceEqual(".\n"u8)) return (bytes, bare + 1);
            if (lf >= 0 && !crlf) bare++;
            bytes += line.Length - (line.Length > 0 && line[0] == (byte)'.' ? 1 : 0);
            i = end;
        }
        return (bytes, bare);
    }

    private static Gen<string> Line =>
        from parts in Gen.ArrayOf(Gen.Elements("a", "b", ".", "\r", "..", "x.y", "base64+/=")).Resize(12)
        from ending in Gen.Elements("\r\n", "\r\n", "\r\n", "\n")
        let line = string.Concat(parts) + ending
        where line is not (".\r\n" or ".\n") // only the final line ends the body (what follows would be commands)
        select line;

    [Property(MaxTest = 300)]
    public Property BodyScan_EqualsLineByLineReference() => BodyScan(Gen.ArrayOf(Line).Resize(40), Gen.ArrayOf(Gen.Choose(1, 64)).Resize(30));

    /// <summary>Longer bodies in pieces of up to 1,500 bytes (a segment's payload), with base64-like lines of 76
    /// characters among the rest: many lines per piece, a CR ending one piece and its LF starting the next.</summary>
    [Property(MaxTest = 300)]
    public Property BodyScan_LargePieces_EqualsLineByLineReference() =>
        BodyScan(Gen.ArrayOf(Gen.Frequency((3, Line), (2, Gen.Constant(new string('Q', 76) + "\r\n")))).Resize(120),
            Gen.ArrayOf(Gen.Choose(1, 1500)).Resize(10));

    private static Property BodyScan(Gen<string[]> bodies, Gen<int[]> pieces) =>
        Prop.ForAll(Arb.From(bodies), Arb.From(pieces), (lines, cuts) =>
        {
            var body = Encoding.ASCII.GetBytes(string.Concat(lines) + ".\r\n");
            var expected = Reference(body);

            var s = new SmtpSession(T0);
            s.OnServerData("220 x\r\n"u8, T(0));
            s.OnClientData("EHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n"u8, T(1));
            s.OnServerData("250 x\r\n250 ok\r\n250 ok\r\n354 go\r\n"u8, T(2));
            int barePrefix = (int)s.Anomalies.BareLfLines;
            int pos = 0, k = 0;
            while (pos < body.Length)
            {
                int n = Math.Min(cuts.Length == 0 ? body.Length : cuts[k++ % cuts.Length], body.Length - pos);
                s.OnClientData(body.AsSpan(pos, n), T(3));
                pos += n;
            }
            var tx = s.Transactions[0];
            return (tx.MessageBytes == expected.Bytes && s.Anomalies.BareLfLines - barePrefix == expected.BareLf &&
                    s.CurrentPhase == SmtpPhase.DataSent)
                .Label($"bytes {tx.MessageBytes} vs {expected.Bytes}, bare LF {s.Anomalies.BareLfLines - barePrefix} vs {expected.BareLf}, phase {s.CurrentPhase}, body {Encoding.ASCII.GetString(body).Replace("\r", "\\r").Replace("\n", "\\n")} cuts {string.Join(",", cuts)}");
        });
}
