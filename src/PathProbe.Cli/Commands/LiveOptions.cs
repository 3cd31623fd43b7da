using System.CommandLine;
using PathProbe.LibPcap;

namespace PathProbe.Cli.Commands;

/// <summary>The live-capture options that capture and tui -i share (-i, -s, -p, -B), checked while parsing, and the
/// libpcap settings they make.</summary>
internal sealed class LiveOptions
{
    /// <summary>libpcap's MAXIMUM_SNAPLEN: larger values are cut to it anyway.</summary>
    public const int MaxSnapLength = 262_144;

    public Option<string?> Interface { get; } = CliOptions.Text("--interface", "-i", "IFACE", "Interface to capture on (pathprobe capture -D lists them).");
    public Option<int> SnapLength { get; } = CliOptions.Int32("--snaplen", "-s", "BYTES",
        $"Bytes captured per frame, like tcpdump -s (0 = {MaxSnapLength}, the most libpcap takes).", 0, MaxSnapLength, MaxSnapLength);
    public Option<bool> NoPromiscuous { get; } = new("--no-promisc", "-p") { Description = "Do not put the interface into promiscuous mode (tcpdump -p)." };
    public Option<int> BufferKiB { get; } = CliOptions.Int32("--buffer-size", "-B", "KIB",
        "Kernel capture buffer in KiB, like tcpdump -B (larger absorbs bursts).", 1, int.MaxValue / 1024, 16 * 1024);

    public static LiveOptions AddTo(Command command)
    {
        var o = new LiveOptions();
        command.Add(o.Interface);
        command.Add(o.SnapLength);
        command.Add(o.NoPromiscuous);
        command.Add(o.BufferKiB);
        return o;
    }

    /// <summary>The libpcap settings for <paramref name="filter"/> (never empty: the caller chose the default).</summary>
    public LiveCaptureOptions Settings(System.CommandLine.ParseResult parse, string filter)
    {
        int snap = parse.GetValue(SnapLength);
        return new LiveCaptureOptions
        {
            SnapLength = snap == 0 ? MaxSnapLength : snap,
            Promiscuous = !parse.GetValue(NoPromiscuous),
            BufferSize = parse.GetValue(BufferKiB) * 1024,
            Filter = filter,
        };
    }
}
