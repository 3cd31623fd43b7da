using System.IO.Compression;
using System.Runtime.InteropServices;

namespace PathProbe.Capture;

/// <summary>
/// Decompresses gzip with Intel's ISA-L (<c>libisal.so.2</c>, Debian package <c>libisal2</c>) when the library is
/// installed: the benchmark captures' analysis from gzip takes 1.3-1.5 times less time than with <see cref="GZipStream"/>
/// (zlib-ng) (README "Gzip").
/// <para>
/// <see cref="Create"/> gives this stream when the library loads and passes a self-test (a buffer compressed by
/// <see cref="GZipStream"/> must come back byte for byte), else a <see cref="GZipStream"/>; the environment variable
/// <c>PATHPROBE_INFLATE=zlib</c> asks for <see cref="GZipStream"/> always. Behaves as <see cref="GZipStream"/> does for
/// captures: several gzip members one after the other are one stream; a file cut short ends where the data ends (no
/// exception: the capture reader then says where the capture was cut); damaged data (a bad block, a wrong CRC or
/// length in a member's trailer) throws <see cref="InvalidDataException"/>.
/// </para>
/// <para>
/// ISA-L's <c>struct inflate_state</c> is used through the offsets of the fields read and written (its ABI for
/// <c>libisal.so.2</c>, as <c>igzip_lib.h</c> of ISA-L 2.x lays it out, checked by the self-test); the state and the
/// input buffer are allocated once, outside the moving heap.
/// </para>
/// </summary>
public sealed unsafe class IsalInflateStream : ReadOnlyStream
{
    // struct inflate_state (igzip_lib.h, ISA-L 2.x, x86-64 and arm64: LP64).
    private const int StateSize = 87368;
    private const int OffNextOut = 0, OffAvailOut = 8, OffTotalOut = 12, OffNextIn = 16, OffAvailIn = 32;
    private const int OffBlockState = 21160, OffCrcFlag = 21172;
    private const int IsalGzip = 1, IsalBlockFinish = 5;
    private const int InputSize = 256 * 1024;
    /// <summary>What the state is allocated with: room beyond the size compiled against, in case a build of the
    /// library has a larger one.</summary>
    private const int StateAllocation = StateSize + 16 * 1024;

    /// <summary><c>PATHPROBE_INFLATE=zlib</c>: <see cref="GZipStream"/> always.</summary>
    private static readonly bool s_zlibAsked =
        string.Equals(Environment.GetEnvironmentVariable("PATHPROBE_INFLATE"), "zlib", StringComparison.OrdinalIgnoreCase);

    private readonly Stream _inner;
    private readonly bool _leaveOpen;
    private readonly Api _lib;
    private byte* _state;
    private readonly byte[] _input = GC.AllocateUninitializedArray<byte>(InputSize, pinned: true);
    private bool _innerEnded, _ended;

    private IsalInflateStream(Stream inner, bool leaveOpen, Api lib)
    {
        _inner = inner;
        _leaveOpen = leaveOpen;
        _lib = lib;
        _state = (byte*)NativeMemory.AllocZeroed(StateAllocation);
        lib.Init(_state);
        *(int*)(_state + OffCrcFlag) = IsalGzip;
        *(byte**)(_state + OffNextIn) = (byte*)Marshal.UnsafeAddrOfPinnedArrayElement(_input, 0);
        *(uint*)(_state + OffAvailIn) = 0;
    }

    /// <summary>Whether ISA-L is used for gzip here (loaded, self-tested, not turned off by <c>PATHPROBE_INFLATE=zlib</c>).</summary>
    public static bool Available => !s_zlibAsked && LoadLibrary() is not null;

    /// <summary>A decompressing stream over <paramref name="compressed"/> gzip data: ISA-L's when <see cref="Available"/>,
    /// else <see cref="GZipStream"/>.</summary>
    public static Stream Create(Stream compressed, bool leaveOpen = false) =>
        !s_zlibAsked && LoadLibrary() is { } lib ? new IsalInflateStream(compressed, leaveOpen, lib) : new GZipStream(compressed, CompressionMode.Decompress, leaveOpen);

    /// <summary>ISA-L's stream whatever the environment says, or null when the library cannot be loaded (tests).</summary>
    internal static Stream? CreateNative(Stream compressed, bool leaveOpen = false) =>
        LoadLibrary() is { } lib ? new IsalInflateStream(compressed, leaveOpen, lib) : null;

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> destination)
    {
        ObjectDisposedException.ThrowIf(_state is null, this);
        if (destination.IsEmpty || _ended) return 0;
        fixed (byte* output = destination)
        {
            while (true)
            {
                if (*(uint*)(_state + OffAvailIn) == 0 && !Refill()) { _ended = true; return 0; } // cut short: what came is all
                *(byte**)(_state + OffNextOut) = output;
                *(uint*)(_state + OffAvailOut) = (uint)destination.Length;
                uint inBefore = *(uint*)(_state + OffAvailIn);
                int status = _lib.Inflate(_state);
                if (status < 0) throw new InvalidDataException(Describe(status));
                int produced = destination.Length - (int)*(uint*)(_state + OffAvailOut);
                bool finished = *(int*)(_state + OffBlockState) == IsalBlockFinish;
                if (finished && !NextMember()) _ended = true;
                if (produced > 0 || _ended) return produced;
                if (!finished && *(uint*)(_state + OffAvailIn) == inBefore)
                    throw new InvalidDataException("the gzip data cannot be decompressed (ISA-L made no progress)");
            }
        }
    }

    /// <summary>Reads more compressed input when all of it was consumed; false at the end of the input.</summary>
    private bool Refill()
    {
        if (_innerEnded) return false;
        int n = _inner.Read(_input, 0, _input.Length);
        if (n <= 0) { _innerEnded = true; return false; }
        *(byte**)(_state + OffNextIn) = (byte*)Marshal.UnsafeAddrOfPinnedArrayElement(_input, 0);
        *(uint*)(_state + OffAvailIn) = (uint)n;
        return true;
    }

    /// <summary>After a member's trailer: starts the next member if gzip data follows (as <see cref="GZipStream"/>
    /// does); false when the input ends there or what follows is not gzip.</summary>
    private bool NextMember()
    {
        byte* next = *(byte**)(_state + OffNextIn);
        uint left = *(uint*)(_state + OffAvailIn);
        if (left < 2)
        {
            // Move what is left to the front and read more, to see the next member's magic.
            byte first = left == 1 ? *next : (byte)0;
            int have = (int)left;
            if (have == 1) _input[0] = first;
            while (have < 2 && !_innerEnded)
            {
                int n = _inner.Read(_input, have, _input.Length - have);
                if (n <= 0) _innerEnded = true; else have += n;
            }
            next = (byte*)Marshal.UnsafeAddrOfPinnedArrayElement(_input, 0);
            left = (uint)have;
            if (have < 2) return false;
        }
        if (next[0] != 0x1f || next[1] != 0x8b) return false;
        _lib.Reset(_state);
        *(int*)(_state + OffCrcFlag) = IsalGzip;
        *(byte**)(_state + OffNextIn) = next;
        *(uint*)(_state + OffAvailIn) = left;
        return true;
    }

    private static string Describe(int status) => status switch
    {
        -1 => "the gzip data is damaged: invalid deflate block",
        -2 => "the gzip data is damaged: invalid deflate symbol",
        -3 => "the gzip data is damaged: invalid back-reference distance",
        -4 => "the gzip data is damaged: invalid gzip header",
        -5 => "the gzip data uses an unsupported compression method",
        -6 => "the gzip data is damaged: its CRC or length check failed",
        _ => $"the gzip data cannot be decompressed (ISA-L status {status})",
    };

    protected override void Dispose(bool disposing)
    {
        if (_state is not null)
        {
            NativeMemory.Free(_state);
            _state = null;
            if (disposing && !_leaveOpen) _inner.Dispose();
        }
        base.Dispose(disposing);
    }

    ~IsalInflateStream() => Dispose(false);

    public override bool CanRead => _state is not null;

    /// <summary>The three functions used, from <c>libisal.so.2</c>.</summary>
    private sealed class Api
    {
        public required delegate* unmanaged<byte*, void> InitFn;
        public required delegate* unmanaged<byte*, void> ResetFn;
        public required delegate* unmanaged<byte*, int> InflateFn;
        public void Init(byte* s) => InitFn(s);
        public void Reset(byte* s) => ResetFn(s);
        public int Inflate(byte* s) => InflateFn(s);
    }

    private static Api? s_loaded;
    private static bool s_tried;
    private static readonly object s_gate = new();

    /// <summary>Why ISA-L's inflater is not used (whatever the environment says), or null when it is usable.</summary>
    internal static string? Unusable { get; private set; }

    /// <summary>The library is not there (as opposed to there and failing its self-test).</summary>
    internal const string NotInstalled = "libisal.so.2 is not installed";

    private static Api? LoadLibrary()
    {
        lock (s_gate)
        {
            if (s_tried) return s_loaded;
            s_tried = true;
            Unusable = NotInstalled;
            if (!OperatingSystem.IsLinux() || !Environment.Is64BitProcess) return null;
            if (!NativeLibrary.TryLoad("libisal.so.2", out nint handle)) return null;
            Unusable = "libisal.so.2 lacks isal_inflate_init, isal_inflate_reset or isal_inflate";
            if (!NativeLibrary.TryGetExport(handle, "isal_inflate_init", out nint init) ||
                !NativeLibrary.TryGetExport(handle, "isal_inflate_reset", out nint reset) ||
                !NativeLibrary.TryGetExport(handle, "isal_inflate", out nint inflate))
                return null;
            var api = new Api
            {
                InitFn = (delegate* unmanaged<byte*, void>)init,
                ResetFn = (delegate* unmanaged<byte*, void>)reset,
                InflateFn = (delegate* unmanaged<byte*, int>)inflate,
            };
            s_loaded = SelfTest(api) ? api : null;
            Unusable = s_loaded is null ? "libisal.so.2 failed the self-test (a different inflate_state layout?)" : null;
            return s_loaded;
        }
    }

    /// <summary>Two gzip members of 300 KB of mixed text and noise, made by <see cref="GZipStream"/>, read back in
    /// pieces of odd sizes: what comes out must be what went in (the state's offsets are right for this library).</summary>
    private static bool SelfTest(Api api)
    {
        try
        {
            var plain = new byte[300_000];
            var rng = new Random(16);
            for (int i = 0; i < plain.Length; i++)
                plain[i] = i % 4096 < 3000 ? (byte)"PathProbe reads gzip. "[i % 22] : (byte)rng.Next(256);
            var packed = new MemoryStream();
            foreach (var half in new[] { plain.AsMemory(0, 123_457), plain.AsMemory(123_457) })
                using (var gz = new GZipStream(packed, CompressionLevel.Fastest, leaveOpen: true))
                    gz.Write(half.Span);
            packed.Position = 0;
            using var s = new IsalInflateStream(packed, leaveOpen: false, api);
            var back = new byte[plain.Length + 1];
            int total = 0, n;
            while ((n = s.Read(back.AsSpan(total, Math.Min(65_521, back.Length - total)))) > 0) total += n;
            return total == plain.Length && back.AsSpan(0, total).SequenceEqual(plain);
        }
        catch (Exception)
        {
            return false;
        }
    }
}
