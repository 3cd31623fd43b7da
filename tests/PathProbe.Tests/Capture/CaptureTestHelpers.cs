using PathProbe.Capture;

namespace PathProbe.Tests.Capture;

/// <summary>A frame copied out of the reader's buffer so tests can keep it.</summary>
internal sealed record Frame(byte[] Data, int OriginalLength, long Nanos, int LinkType, int InterfaceIndex);

internal static class CaptureTestHelpers
{
    public static IPacketSource OpenBytes(byte[] bytes, int bufferSize = 1 << 20, string name = "test") =>
        CaptureFile.Open(new MemoryStream(bytes), name, bufferSize);

    public static List<Frame> ReadAll(IPacketSource source)
    {
        var frames = new List<Frame>();
        while (source.TryRead(out var f))
            frames.Add(new Frame(f.Data.ToArray(), f.OriginalLength, f.Time.UnixNanoseconds, f.LinkType, f.InterfaceIndex));
        return frames;
    }

    public static (List<Frame> Frames, SourceEnd End, CaptureInfo Info) ReadBytes(byte[] bytes, int bufferSize = 1 << 20)
    {
        using var source = OpenBytes(bytes, bufferSize);
        var frames = ReadAll(source);
        return (frames, source.End, source.Info);
    }

    /// <summary>The repository root (folder with PathProbe.sln), found by walking up from the test binaries.</summary>
    public static string? RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "PathProbe.sln")))
                return dir.FullName;
        }
        return null;
    }

    /// <summary>../shared/corpus from the repository root, or null when absent.</summary>
    public static string? CorpusRoot()
    {
        string? root = RepositoryRoot();
        if (root is null) return null;
        string corpus = Path.GetFullPath(Path.Combine(root, "..", "shared", "corpus"));
        return Directory.Exists(corpus) ? corpus : null;
    }
}
