using System.Diagnostics;
using System.IO.Compression;
using FsCheck;
using FsCheck.Fluent;
using PathProbe.Capture;
using PathProbe.Fuzz;
using PathProbe.Primitives;
using PathProbe.Tests.Support;

namespace PathProbe.Tests.Fuzz;

/// <summary>
/// The fuzz harness's target (fuzz/PathProbe.Fuzz/FuzzTarget.cs: bytes → CaptureFile.Open → Engine → reports) in CI:
/// every input AFL++ ever crashed on (fuzz/regressions/), and a fast FsCheck mutation test over the bundled captures
/// as pcap, pcapng (with sections, several interfaces, statistics and comments) and gzip. bash fuzz/run.sh is the long run.
/// </summary>
public sealed class MutationFuzzTests
{
    /// <summary>The mutation test stops starting new cases after this long (it takes a few seconds on a quiet machine).</summary>
    private static readonly TimeSpan Budget = TimeSpan.FromSeconds(15);
    private const int Cases = 3_000;
    private const int SeedPrefix = 12 * 1024;

    public static TheoryData<string> Regressions()
    {
        var data = new TheoryData<string>();
        string dir = Path.Combine(TestPaths.RepoRoot, "fuzz", "regressions");
        foreach (var f in Directory.Exists(dir) ? Directory.GetFiles(dir).Order() : Enumerable.Empty<string>())
            if (!f.EndsWith(".md", StringComparison.Ordinal)) data.Add(Path.GetFileName(f));
        return data;
    }

    [Theory]
    [MemberData(nameof(Regressions))]
    public void Regression_Input_AnalysedWithoutException(string name) =>
        FuzzTarget.Run(File.ReadAllBytes(Path.Combine(TestPaths.RepoRoot, "fuzz", "regressions", name)));

    private static readonly Lazy<byte[][]> Seeds = new(BuildSeeds);

    /// <summary>The first 12 KiB of each bundled capture (pcap), the same frames as pcapng with two sections, an ISB
    /// and comments, and a gzip of one.</summary>
    private static byte[][] BuildSeeds()
    {
        var seeds = new List<byte[]>();
        foreach (var f in TestPaths.BundledCaptures())
        {
            byte[] all = File.ReadAllBytes(f);
            seeds.Add(all.AsSpan(0, Math.Min(all.Length, SeedPrefix)).ToArray());
        }
        if (seeds.Count == 0) return [];
        seeds.Add(ToPcapNg(Path.Combine(TestPaths.Captures, "smtp-mru1424-sender.pcap")));
        seeds.Add(ToPcapNg(Path.Combine(TestPaths.Captures, "dns-fragmented.pcap")));
        using var gz = new MemoryStream();
        using (var z = new GZipStream(gz, CompressionLevel.Fastest, leaveOpen: true)) z.Write(seeds[^1]);
        seeds.Add(gz.ToArray());
        return seeds.ToArray();
    }

    private static byte[] ToPcapNg(string pcap)
    {
        var ms = new MemoryStream();
        using var source = CaptureFile.Open(pcap);
        int n = 0;
        for (int section = 0; section < 2; section++)
        {
            using var w = new PcapNgWriter(ms, leaveOpen: true, comment: $"section {section}");
            w.AddInterface(LinkTypes.Ethernet, 65535, "eth0", "first");
            w.AddInterface(LinkTypes.Raw, 0, "tun0");
            Timestamp last = default;
            while (n < 24 * (section + 1) && source.TryRead(out var f))
            {
                w.Write(f);
                last = f.Time;
                n++;
            }
            w.WriteInterfaceStatistics(0, new InterfaceStatistics { Time = last, StartTime = last, Received = n, OsDropped = 1, InterfaceDropped = 0 });
        }
        return ms.ToArray();
    }

    /// <summary>One mutation: what (0 bit flip, 1 interesting byte, 2 interesting 32-bit word, 3 truncate, 4 delete a
    /// range, 5 duplicate a range, 6 insert random bytes), where (a fraction of the length), and a value.</summary>
    private readonly record struct Mutation(int Kind, uint Where, uint Value, int Length);

    private static readonly uint[] Interesting32 = [0, 1, 0x7f, 0x80, 0xff, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff, 12, 28, 32, 64 << 20];
    private static readonly byte[] Interesting8 = [0, 1, 0x7f, 0x80, 0xff, 0x0a, 0x0d, 0x45, 0x60, 0x11, 0x06];

    private static Gen<Mutation> MutationGen =>
        from kind in Gen.Choose(0, 6)
        from position in ArbMap.Default.GeneratorFor<uint>()
        from value in ArbMap.Default.GeneratorFor<uint>()
        from length in Gen.Choose(1, 64)
        select new Mutation(kind, position, value, length);

    private static byte[] Apply(byte[] seed, Mutation[] mutations)
    {
        var b = new List<byte>(seed);
        foreach (var m in mutations)
        {
            if (b.Count == 0) break;
            int at = (int)((ulong)m.Where * (ulong)b.Count >> 32);
            switch (m.Kind)
            {
                case 0: b[at] ^= (byte)(1 << (int)(m.Value % 8)); break;
                case 1: b[at] = Interesting8[m.Value % (uint)Interesting8.Length]; break;
                case 2:
                    uint v = Interesting32[m.Value % (uint)Interesting32.Length];
                    bool big = (m.Value & 0x8000_0000) != 0;
                    for (int i = 0; i < 4 && at + i < b.Count; i++)
                        b[at + i] = (byte)(big ? v >> (24 - 8 * i) : v >> (8 * i));
                    break;
                case 3: b.RemoveRange(at, b.Count - at); break;
                case 4: b.RemoveRange(at, Math.Min(m.Length, b.Count - at)); break;
                case 5: b.InsertRange(at, b.GetRange(at, Math.Min(m.Length, b.Count - at))); break;
                case 6:
                    var rnd = new Random((int)m.Value);
                    var bytes = new byte[m.Length];
                    rnd.NextBytes(bytes);
                    b.InsertRange(at, bytes);
                    break;
            }
        }
        return b.ToArray();
    }

    [SkippableFact]
    public void MutatedCaptures_ReadersAndEngine_NeverThrow()
    {
        var seeds = Seeds.Value;
        Skip.If(seeds.Length == 0, "no bundled captures to mutate (captures/ missing)");
        var clock = Stopwatch.StartNew();
        int ran = 0;
        var property = Prop.ForAll(
            Arb.From(Gen.Choose(0, seeds.Length - 1)),
            Arb.From(Gen.ArrayOf(MutationGen).Resize(8)),
            (seed, mutations) =>
            {
                if (clock.Elapsed > Budget) return true; // bounded time: the remaining cases pass without running
                ran++;
                byte[] input = Apply(seeds[seed], mutations);
                try
                {
                    FuzzTarget.Run(input);
                    return true;
                }
                catch (Exception e)
                {
                    // Keep the input for a regression file: the failure message carries it in hex.
                    throw new Xunit.Sdk.XunitException($"seed {seed}, input {Convert.ToHexString(input)}: {e}");
                }
            });
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(Cases), property);
        Assert.True(ran >= Math.Min(Cases, 200), $"only {ran} cases ran within {Budget.TotalSeconds} s");
    }
}
