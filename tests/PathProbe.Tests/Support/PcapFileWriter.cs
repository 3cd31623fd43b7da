namespace PathProbe.Tests.Support;

/// <summary>Writes frames into a classic microsecond pcap file (Ethernet unless told otherwise, snap length 262,144),
/// for tests that rearrange bundled captures (merge, interleave, shift in time).</summary>
internal static class PcapFileWriter
{
    public static void Write(string path, IEnumerable<(long TimeNanos, byte[] Data, int OriginalLength)> frames, uint linkType = 1)
    {
        using var o = new BinaryWriter(File.Create(path));
        o.Write(0xa1b2c3d4u); o.Write((ushort)2); o.Write((ushort)4); o.Write(0); o.Write(0u); o.Write(262144u); o.Write(linkType);
        foreach (var (time, data, original) in frames)
        {
            o.Write((uint)(time / 1_000_000_000)); o.Write((uint)(time % 1_000_000_000 / 1000));
            o.Write((uint)data.Length); o.Write((uint)original);
            o.Write(data);
        }
    }
}
