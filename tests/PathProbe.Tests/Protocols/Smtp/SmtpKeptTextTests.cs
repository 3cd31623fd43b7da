using System.Text;
using PathProbe.Protocols.Smtp;
using PathProbe.Primitives;

namespace PathProbe.Tests.Protocols.Smtp;

/// <summary>What a closed SMTP session keeps for the report is compact: texts that repeat across sessions are one
/// string (<see cref="SmtpText.Shared"/>), a one-line reply holds no array of lines, and a released connection holds no
/// reassemblers. The text is the same as before, byte for byte.</summary>
public sealed class SmtpKeptTextTests
{
    public static TheoryData<string, int, bool> Texts => new()
    {
        { "OK", 100, false },
        { "2.0.0", 16, false },
        { "Ok: queued as 4F3A2B1C", 100, false },
        { "pipelining", 64, true },
        { "auth=login", 40, true },
        { "bell\u0007 and esc\u001b[31m red", 100, false },
        { "esc\u001bkeyword", 64, true },
        { "nul\0dropped", 100, false },
        { "non-ascii \u00e9\u00e8 shown as ?", 100, false },
        { "cut at the limit: 0123456789", 20, false },
        { "escapes past the limit \u0001\u0002\u0003\u0004", 30, false },
        { new string('x', 64), 100, false },
        { new string('y', 65), 100, false },
        { "", 100, false },
    };

    [Theory]
    [MemberData(nameof(Texts))]
    public void Shared_GivesTheTextToDisplayGives_AndTheSameStringTheSecondTime(string text, int max, bool upper)
    {
        // Latin-1 bytes: one byte per character, so the non-ASCII letters are bytes >= 0x80 as on the wire.
        byte[] bytes = Encoding.Latin1.GetBytes(text);
        string expected = upper ? SmtpText.ToDisplay(bytes, max).ToUpperInvariant() : SmtpText.ToDisplay(bytes, max);
        OnFreshThread(() =>
        {
            string first = SmtpText.Shared(bytes, max, upper);
            string second = SmtpText.Shared(bytes, max, upper);
            Assert.Equal(expected, first);
            Assert.Equal(expected, second);
            // Pooled: up to 64 characters after the cut to the limit, none to escape (NUL dropped, non-ASCII shown as '?').
            string raw = new(bytes.Take(max).Where(b => b != 0).Select(b => b < 0x80 ? (char)b : '?').ToArray());
            if (raw.Length > 0 && bytes.Length <= SmtpText.SharedMaxLength && !raw.Any(PathProbe.Primitives.SafeText.IsUnsafe))
                Assert.Same(first, second);
            else if (raw.Any(PathProbe.Primitives.SafeText.IsUnsafe))
                Assert.NotSame(first, second);
        });
    }

    /// <summary>The pools are per thread: a test thread's may already be full of other tests' texts (the hostile-input
    /// tests send thousands of keywords), so each test that counts on an empty pool runs on a thread of its own.</summary>
    private static void OnFreshThread(Action body)
    {
        Exception? failure = null;
        var t = new Thread(() =>
        {
            try { body(); }
            catch (Exception e) { failure = e; }
        });
        t.Start();
        t.Join();
        if (failure is not null) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(failure);
    }

    [Fact]
    public void Shared_UpperAndAsIs_AreKeptApart() => OnFreshThread(() =>
    {
        byte[] bytes = "SmtpUtf8"u8.ToArray();
        Assert.Equal("SmtpUtf8", SmtpText.Shared(bytes, 64));
        Assert.Equal("SMTPUTF8", SmtpText.Shared(bytes, 64, upper: true));
        Assert.Equal("SmtpUtf8", SmtpText.Shared(bytes, 64));
    });

    /// <summary>Hostile input: a server that sends a new text in every reply fills the pool to its bound and no further;
    /// texts beyond it are made as before (new strings, the same text).</summary>
    [Fact]
    public void Shared_PoolIsBounded_TextsBeyondAreStillRight() => OnFreshThread(() =>
    {
        for (int i = 0; i < SmtpText.SharedMaxTexts; i++) SmtpText.Shared(Encoding.ASCII.GetBytes($"fill {i}"), 64);
        byte[] beyond = "beyond the bound"u8.ToArray();
        string a = SmtpText.Shared(beyond, 64), b = SmtpText.Shared(beyond, 64);
        Assert.Equal("beyond the bound", a);
        Assert.Equal(a, b);
        Assert.NotSame(a, b);
        byte[] early = "fill 7"u8.ToArray();
        Assert.Same(SmtpText.Shared(early, 64), SmtpText.Shared(early, 64));
    });

    /// <summary>One thread, the same bytes under different length limits (an unknown verb is cut at 16 characters, an
    /// EHLO keyword at 64): each gets what ToDisplay gives under its own limit, whatever came first (a text with
    /// characters to escape is never pooled: its escaped form depends on the limit).</summary>
    [Fact]
    public void Shared_SameBytesUnderOtherLimits_EachAsToDisplay() => OnFreshThread(() =>
    {
        byte[] controls = [1, 1, 1, 1, 1];
        foreach (var (max, upper) in new[] { (16, true), (64, true), (16, true), (10, false), (100, false), (10, false) })
        {
            string expected = upper ? SmtpText.ToDisplay(controls, max).ToUpperInvariant() : SmtpText.ToDisplay(controls, max);
            Assert.Equal(expected, SmtpText.Shared(controls, max, upper));
        }
        byte[] plain = "PIPELINING"u8.ToArray();
        Assert.Equal("PIPELINING", SmtpText.Shared(plain, 64, upper: true));
        Assert.Equal("PIPELININ", SmtpText.Shared(plain, 9, upper: true)); // cut to its limit before the pool is asked
        Assert.Equal("PIPELINING", SmtpText.Shared(plain, 64, upper: true));
    });

    [Fact]
    public void Replies_WithEqualTexts_ShareWhatTheySay_EachKeepsItsTime()
    {
        Exception? error = null;
        var t = new Thread(() =>
        {
            // On a thread of its own: the shared texts are per thread, and other tests' must not fill the bound.
            try
            {
                var a = new SmtpReply(250, "2.1.5", "Ok", 1, new Timestamp(1));
                var b = new SmtpReply(250, "2.1.5", "Ok", 1, new Timestamp(2));
                var c = new SmtpReply(250, null, "mx", 2, new Timestamp(3)) { TextLines = ["mx", "PIPELINING"] };
                var d = new SmtpReply(250, null, "mx", 2, new Timestamp(4)) { TextLines = new List<string> { "mx", "PIPELINING" } };
                var e = new SmtpReply(550, "2.1.5", "Ok", 1, new Timestamp(5));
                var f = new SmtpReply(250, "2.1.5", "Ok", 1, new Timestamp(6)) { TextLines = ["Ok"] };
                Assert.Same(a.Content, b.Content);
                Assert.Same(c.Content, d.Content); // another list with the same lines
                Assert.Same(a.Content, f.Content); // one kept line is no list
                Assert.NotSame(a.Content, e.Content);
                Assert.Equal((250, 550, 2L, 5L), (b.Code, e.Code, b.Time.UnixNanoseconds, e.Time.UnixNanoseconds));
                Assert.Equal(["mx", "PIPELINING"], d.TextLines);
                Assert.Equal(new SmtpReply(250, "2.1.5", "Ok", 1, new Timestamp(1)), a); // equal by what it says and when
                Assert.NotEqual(a, b);
            }
            catch (Exception x) { error = x; }
        });
        t.Start();
        t.Join();
        if (error is not null) throw new Xunit.Sdk.XunitException("on the test's thread: " + error);
    }

    [Fact]
    public void Reply_OneLine_KeepsNoArray_ButReadsAsBefore()
    {
        var one = new SmtpReply(250, "2.0.0", "Ok", 1, default);
        Assert.Equal(["Ok"], one.TextLines);
        Assert.Equal("Ok", one.FullText);
        Assert.Equal("Ok", one.OutcomeText);
        Assert.Equal(0, one.LinesNotKept);
        var same = new SmtpReply(250, "2.0.0", "Ok", 1, default) { TextLines = ["Ok"] };
        Assert.Equal(["Ok"], same.TextLines);

        var three = new SmtpReply(250, null, "mail.example", 5, default) { TextLines = ["mail.example", "PIPELINING", "OK id=1lHk"] };
        Assert.Equal(["mail.example", "PIPELINING", "OK id=1lHk"], three.TextLines);
        Assert.Equal("mail.example PIPELINING OK id=1lHk", three.FullText);
        Assert.Equal("OK id=1lHk", three.OutcomeText);
        Assert.Equal(2, three.LinesNotKept);

        var refusal = new SmtpReply(550, "5.7.1", "Message rejected", 2, default) { TextLines = ["Message rejected", "see https://example"] };
        Assert.Equal("Message rejected see https://example", refusal.OutcomeText);
    }

    /// <summary>A connection released at its flow's close lets its reassemblers go, keeps what the session found, and
    /// ignores a segment given after that.</summary>
    [Fact]
    public void Connection_Released_DropsReassemblers_KeepsSession()
    {
        var conn = new SmtpConnection(default);
        var before = (conn.ClientStream, conn.ServerStream);
        conn.OnSegment(false, 1000, 0, "220 mx.example ESMTP\r\n"u8, 22, PathProbe.Decoding.TcpFlags.Ack | PathProbe.Decoding.TcpFlags.Psh, default);
        Assert.NotNull(conn.Session.Greeting);
        conn.Release();
        Assert.NotSame(before.ClientStream, conn.ClientStream);
        Assert.NotSame(before.ServerStream, conn.ServerStream);
        Assert.Same(conn.ClientStream, conn.ServerStream);
        Assert.Equal(220, conn.Session.Greeting!.Code);
        conn.OnSegment(true, 1, 0, "EHLO client.example\r\n"u8, 21, PathProbe.Decoding.TcpFlags.Ack, default);
        Assert.Equal(0, conn.ClientStream.DeliveredBytes);
        Assert.Empty(conn.Session.Commands);
    }
}
