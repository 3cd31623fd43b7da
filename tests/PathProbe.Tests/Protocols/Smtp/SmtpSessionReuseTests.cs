using PathProbe.Protocols.Smtp;

namespace PathProbe.Tests.Protocols.Smtp;

/// <summary>
/// A session's decoding state (line assembly, the reply being assembled, commands waiting for replies) goes to the
/// next sessions of its thread when it is released (<see cref="SmtpSession.ReleaseBuffers"/>): a session that takes
/// it must decode exactly as one made from nothing.
/// </summary>
public sealed class SmtpSessionReuseTests
{
    /// <summary>A whole mail: an EHLO reply of several lines, every command answered.</summary>
    private static string[] Dialogue => SmtpSessionTests.Plain;

    /// <summary>Sessions released in the middle of things: a reply of several lines not finished, commands sent and not
    /// answered with a line cut short, a server line cut short, and last (its state is the next one taken) a greeting
    /// of several lines not finished, with the code the next session's greeting has.</summary>
    private static readonly string[][] LeftMidway =
    [
        ["S:220 mx ESMTP\r\n", "C:EHLO a\r\n", "S:250-mx\r\n250-PIPELINING\r\n250-8BITMIME\r\n"],
        ["S:220 mx ESMTP\r\n", "C:EHLO a\r\nMAIL FROM:<x@y>\r\nRCPT TO:<z@w>\r\n", "C:DATA"],
        ["S:220 mx ESM"],
        ["S:220-old.example first line\r\n220-old second line\r\n"],
    ];

    [Fact]
    public void SessionAfterReleasedOnes_DecodesAsANewOne()
    {
        string? expected = null, after = null;
        var t = new Thread(() =>
        {
            // On a thread of its own: the state is kept per thread.
            expected = SmtpScript.Describe(SmtpScript.Run(Dialogue));
            foreach (var steps in LeftMidway) SmtpScript.Run(steps).ReleaseBuffers();
            after = SmtpScript.Describe(SmtpScript.Run(Dialogue));
        });
        t.Start();
        t.Join();
        Assert.NotNull(expected);
        Assert.Equal(expected, after);
    }
}
