using System.Text;
using PathProbe.Decoding;
using PathProbe.Protocols.Smtp;
using static PathProbe.Tests.Protocols.Smtp.SmtpScript;

namespace PathProbe.Tests.Protocols.Smtp;

/// <summary>Input an attacker or a broken peer sends: the decoder never throws and keeps bounded state.</summary>
public sealed class SmtpHostileInputTests
{
    [Fact]
    public void MegabyteCommandLine_TruncatedCountedBounded()
    {
        var s = new SmtpSession(T0);
        s.OnServerData("220 x\r\n"u8, T(0));
        s.OnClientData("MAIL FROM:<"u8, T(1));
        var junk = new byte[64 * 1024];
        junk.AsSpan().Fill((byte)'a');
        for (int i = 0; i < 16; i++) s.OnClientData(junk, T(1));
        s.OnClientData(">\r\nNOOP\r\n"u8, T(2));
        Assert.Equal(1, s.Anomalies.TruncatedLines);
        Assert.Equal(1, s.Anomalies.LongLines);
        var tx = Assert.Single(s.Transactions);
        Assert.True(tx.Sender.Length <= 512 + 1);
        Assert.Equal("NOOP", s.Commands[^1].Verb);
    }

    [Fact]
    public void LineWithoutLf_NeverBufferedBeyondCap()
    {
        var s = new SmtpSession(T0);
        var junk = new byte[1 << 20];
        junk.AsSpan().Fill((byte)'Z');
        s.OnServerData(junk, T(0));
        s.OnServerData(junk, T(1));
        s.Finish(T(2));
        Assert.Null(s.Greeting);
        Assert.Equal(2L << 20, s.ServerBytes);
    }

    [Fact]
    public void LongReplyLine_Counted()
    {
        var s = Run("S:220 " + new string('x', 600) + "\r\n");
        Assert.Equal(1, s.Anomalies.LongLines);
        Assert.Equal(0, s.Anomalies.TruncatedLines);
        Assert.StartsWith("220 xxx", s.Banner);
    }

    [Fact]
    public void NulAndNonAscii_CountedAndStripped()
    {
        var s = Run("S:220 mx\0 \u00e9\x1b[31m\r\n", "C:EHLO a\0b\u00ff\r\n");
        Assert.Equal(2, s.Anomalies.NulBytes);
        Assert.Equal(2, s.Anomalies.NonAsciiBytes);
        Assert.Equal("ab?", s.EhloName);
        Assert.DoesNotContain('\x1b', s.Banner!);
        Assert.DoesNotContain('\0', s.Banner!);
    }

    [Theory]
    [InlineData("99x nope\r\n")]
    [InlineData("2500 nope\r\n")]
    [InlineData("25\r\n")]
    [InlineData("abc def\r\n")]
    [InlineData("\r\n")]
    public void UnparsableReply_Counted(string line)
    {
        var s = Run("S:220 x\r\n", "C:NOOP\r\n", "S:" + line, "S:250 ok\r\n");
        Assert.Equal(1, s.Anomalies.UnparsableReplies);
        Assert.Equal(250, s.Commands[0].Reply!.Code);
    }

    [Fact]
    public void Reply354WithoutData_NoBodyMode()
    {
        var s = Run("S:220 x\r\n", "C:NOOP\r\n", "S:354 surprise\r\n", "C:QUIT\r\n", "S:221 bye\r\n");
        Assert.Equal(["NOOP", "QUIT"], s.Commands.Select(c => c.Verb));
        Assert.Equal(354, s.Commands[0].Reply!.Code);
        Assert.Equal(221, s.Commands[1].Reply!.Code);
    }

    [Fact]
    public void MissingCrLf_BareLfAccepted()
    {
        var s = Run("S:220 x\n", "C:EHLO a\nMAIL FROM:<a@b>\n", "S:250 x\n250 ok\n");
        Assert.Equal("a", s.EhloName);
        Assert.Equal(250, s.Transactions[0].MailReplyCode);
        Assert.Equal(5, s.Anomalies.BareLfLines);
    }

    [Fact]
    public void MultiLineReplyWithMixedCodes_Counted()
    {
        var s = Run("S:220-x\r\n250-y\r\n220 z\r\n");
        Assert.Equal(1, s.Anomalies.ReplyCodeMismatches);
        Assert.Equal(220, s.Greeting!.Code);
    }

    [Fact]
    public void ManyCommandsTransactionsRecipients_KeptStateCapped()
    {
        var sb = new StringBuilder();
        for (int t = 0; t < 150; t++)
        {
            sb.Append("MAIL FROM:<a@b>\r\n");
            for (int r = 0; r < (t == 0 ? 300 : 1); r++) sb.Append("RCPT TO:<r@b>\r\n");
            sb.Append("RSET\r\n");
        }
        for (int i = 0; i < 2000; i++) sb.Append("NOOP\r\n");
        var s = Run("S:220 x\r\n", "C:" + sb);
        Assert.Equal(1000, s.Commands.Count);
        Assert.Equal(100, s.Transactions.Count);
        Assert.Equal(50, s.Anomalies.TransactionsNotKept);
        Assert.Equal(100, s.Transactions[0].Recipients.Count);
        Assert.Equal(200, s.Transactions[0].RecipientsNotKept);
        Assert.True(s.Anomalies.PendingOverflows > 0);
        Assert.Equal(149, s.TransactionIndex);
    }

    [Fact]
    public void Fuzz_MutatedAndRandomSessions_NeverThrowAndStayBounded()
    {
        var rnd = new Random(20240101);
        string[][] seeds =
        [
            SmtpSessionTests.Plain,
            ["S:220 x\r\n", "C:EHLO a\r\n", "S:250-x\r\n250-CHUNKING\r\n250 STARTTLS\r\n", "C:MAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nBDAT 10\r\n0123456789BDAT 3 LAST\r\nabc",
             "S:250 Ok\r\n250 Ok\r\n250 Ok\r\n250 queued\r\n", "C:AUTH PLAIN\r\n", "S:334 \r\n", "C:AHVzZXIAc2VjcmV0\r\n", "S:235 ok\r\n", "C:STARTTLS\r\n", "S:220 go\r\n"],
        ];
        var limits = SmtpLimits.Default;
        for (int iter = 0; iter < 3000; iter++)
        {
            var steps = Steps(seeds[iter % seeds.Length]).Select(x => (x.client, data: x.data.ToList())).ToList();
            int mutations = rnd.Next(1, 10);
            for (int m = 0; m < mutations; m++)
            {
                var d = steps[rnd.Next(steps.Count)].data;
                switch (rnd.Next(7))
                {
                    case 0 when d.Count > 0: d[rnd.Next(d.Count)] = (byte)rnd.Next(256); break;
                    case 1: d.Insert(rnd.Next(d.Count + 1), (byte)"\r\n.\0-3 "[rnd.Next(7)]); break;
                    case 2 when d.Count > 2: { int a = rnd.Next(d.Count - 1); d.RemoveRange(a, rnd.Next(1, d.Count - a)); break; }
                    case 3: d.InsertRange(rnd.Next(d.Count + 1), Encoding.ASCII.GetBytes(new[] { "DATA\r\n", "354 go\r\n", "BDAT 99999999999\r\n", "AUTH x\r\n", "221 x\r\n", "421 bye\r\n", ".\r\n", "250-", "STARTTLS\r\n" }[rnd.Next(9)])); break;
                    case 4: { var junk = new byte[rnd.Next(1, 3000)]; rnd.NextBytes(junk); d.InsertRange(rnd.Next(d.Count + 1), junk); break; }
                    case 5: steps.Insert(rnd.Next(steps.Count), steps[rnd.Next(steps.Count)]); break;
                    default: { int a = rnd.Next(steps.Count), b = rnd.Next(steps.Count); (steps[a], steps[b]) = (steps[b], steps[a]); break; }
                }
            }
            var s = new SmtpSession(T0, implicitTls: iter % 97 == 0);
            int t = 0;
            foreach (var (client, data) in steps)
            {
                var bytes = data.ToArray();
                for (int off = 0; off < bytes.Length;)
                {
                    int n = Math.Min(bytes.Length - off, rnd.Next(1, 64));
                    if (client) s.OnClientData(bytes.AsSpan(off, n), T(t)); else s.OnServerData(bytes.AsSpan(off, n), T(t));
                    off += n;
                    if (rnd.Next(50) == 0) { if (client) s.OnClientGap(rnd.Next(1, 100), T(t)); else s.OnServerGap(rnd.Next(1, 100), T(t)); }
                }
                t++;
            }
            if (rnd.Next(2) == 0) s.Finish(T(t)); else s.Abort("fuzz", T(t));
            Assert.True(s.Commands.Count <= limits.MaxCommands);
            Assert.True(s.Transactions.Count <= limits.MaxTransactions);
            // SafeText escapes (\\xNN) may add a few characters past the cap.
            Assert.All(s.Commands, c => Assert.True((c.Argument?.Length ?? 0) <= limits.MaxTextLength + 8 && (c.Reply?.Text.Length ?? 0) <= limits.MaxTextLength + 8));
            Assert.All(s.Transactions, x => Assert.NotEqual(SmtpOutcome.InProgress, x.Outcome));
            // No credential check here: a mutation can glue the credential line onto a MAIL line, and then it is a
            // MAIL argument to any decoder (and to the server). AuthPlain_CredentialsNeverKept covers real exchanges.
        }
    }

    [Fact]
    public void Connection_ReassemblyGarbageSegments_NeverThrow()
    {
        var rnd = new Random(7);
        var c = new SmtpConnection(T0);
        var buf = new byte[2000];
        for (int i = 0; i < 20_000; i++)
        {
            rnd.NextBytes(buf);
            int len = rnd.Next(0, buf.Length);
            var flags = (TcpFlags)rnd.Next(0, 0x20) & ~TcpFlags.Rst;
            c.OnSegment(rnd.Next(2) == 0, (uint)rnd.Next(0, 100_000), (uint)rnd.Next(0, 100_000), buf.AsSpan(0, len),
                len + (rnd.Next(10) == 0 ? rnd.Next(0, 1000) : 0), flags, T(i));
        }
        c.Finish(T(20_001));
        Assert.True(c.Session.Commands.Count <= 1000);
    }
}
