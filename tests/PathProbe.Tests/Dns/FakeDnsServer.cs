using System.Net;
using System.Net.Sockets;

namespace PathProbe.Tests.Dns;

/// <summary>
/// A tiny misbehaving DNS server on 127.0.0.1 for the failures real servers do not produce on demand: each UDP query
/// is passed to <c>udp</c> (which may answer garbage, another ID, TC=1, or nothing); when <c>tcp</c> is given, a TCP
/// listener on the same port hands each connection's framed query to it (null: close without answering). Without
/// <c>tcp</c> nothing listens on TCP, so a connection there is refused. Dispose stops both loops.
/// </summary>
public sealed class FakeDnsServer : IDisposable
{
    private readonly UdpClient _udp;
    private readonly TcpListener? _tcp;
    private readonly CancellationTokenSource _stop = new();
    public int UdpQueries;
    public int TcpConnections;

    public IPEndPoint Endpoint => (IPEndPoint)_udp.Client.LocalEndPoint!;
    public string ServerArgument => $"127.0.0.1:{Endpoint.Port}";

    public FakeDnsServer(Func<byte[], byte[]?> udp, Func<byte[], byte[]?>? tcp = null)
    {
        for (int attempt = 0; ; attempt++)
        {
            _udp = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
            int port = Endpoint.Port;
            if (tcp is null)
            {
                // The TCP side of the port must be closed: check that nothing listens there.
                if (!TcpPortOpen(port) || attempt >= 5) break;
            }
            else
            {
                try
                {
                    _tcp = new TcpListener(IPAddress.Loopback, port);
                    _tcp.Start();
                    break;
                }
                catch (SocketException) when (attempt < 5) { _tcp = null; }
            }
            _udp.Dispose();
        }
        _ = Task.Run(async () =>
        {
            try
            {
                while (!_stop.IsCancellationRequested)
                {
                    var q = await _udp.ReceiveAsync(_stop.Token);
                    Interlocked.Increment(ref UdpQueries);
                    if (udp(q.Buffer) is { } answer) await _udp.SendAsync(answer, q.RemoteEndPoint, _stop.Token);
                }
            }
            catch (OperationCanceledException) { }
            catch (ObjectDisposedException) { }
            catch (SocketException) { }
        });
        if (_tcp is not null)
            _ = Task.Run(async () =>
            {
                try
                {
                    while (!_stop.IsCancellationRequested)
                    {
                        using var c = await _tcp.AcceptTcpClientAsync(_stop.Token);
                        Interlocked.Increment(ref TcpConnections);
                        var s = c.GetStream();
                        var len = new byte[2];
                        await s.ReadExactlyAsync(len, _stop.Token);
                        var q = new byte[(len[0] << 8) | len[1]];
                        await s.ReadExactlyAsync(q, _stop.Token);
                        if (tcp!(q) is { } answer)
                        {
                            await s.WriteAsync(new[] { (byte)(answer.Length >> 8), (byte)answer.Length }, _stop.Token);
                            await s.WriteAsync(answer, _stop.Token);
                        }
                    }
                }
                catch (OperationCanceledException) { }
                catch (ObjectDisposedException) { }
                catch (IOException) { }
                catch (SocketException) { }
            });
    }

    private static bool TcpPortOpen(int port)
    {
        try
        {
            using var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            s.Connect(new IPEndPoint(IPAddress.Loopback, port));
            return true;
        }
        catch (SocketException) { return false; }
    }

    /// <summary>The query turned into an answer: QR set, no OPT, one A record 192.0.2.1 (compressed owner).</summary>
    public static byte[] Answer(byte[] q, ushort? id = null, bool truncated = false)
    {
        int arcount = (q[10] << 8) | q[11];
        var a = new List<byte>(arcount > 0 ? q[..(q.Length - 11)] : q); // drop the OPT record
        a[2] = (byte)(0x84 | (truncated ? 0x02 : 0) | (q[2] & 0x01)); a[3] = 0x00; a[7] = 1; a[10] = 0; a[11] = 0;
        if (id is { } i) { a[0] = (byte)(i >> 8); a[1] = (byte)i; }
        a.AddRange(Convert.FromHexString("c00c000100010000003c0004c0000201"));
        return a.ToArray();
    }

    public void Dispose()
    {
        _stop.Cancel();
        _udp.Dispose();
        _tcp?.Stop();
    }
}
