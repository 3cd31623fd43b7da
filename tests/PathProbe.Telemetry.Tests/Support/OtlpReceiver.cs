using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Logging;

namespace PathProbe.Telemetry.Tests.Support;

/// <summary>
/// A minimal OTLP receiver on loopback (Kestrel, a free port): OTLP/HTTP (POST /v1/logs, /v1/metrics with
/// application/x-protobuf over HTTP/1.1) or OTLP/gRPC (the LogsService and MetricsService Export methods over
/// cleartext HTTP/2, length-prefixed messages, grpc-status 0 in the trailers). It keeps each request's protobuf body
/// for <see cref="Otlp"/> to decode; no OpenTelemetry Collector is packaged for Debian, so the tests bring their own.
/// </summary>
public sealed class OtlpReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly List<(string Signal, byte[] Body)> _requests = new();

    public OtlpReceiver(bool grpc)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0,
            l => l.Protocols = grpc ? HttpProtocols.Http2 : HttpProtocols.Http1));
        _app = builder.Build();
        _app.MapPost("/v1/{signal}", async (string signal, HttpContext c) =>
        {
            Keep(signal, await Body(c));
            c.Response.ContentType = "application/x-protobuf";
        });
        _app.MapPost("/opentelemetry.proto.collector.{signal}.v1.{service}/Export", async (string signal, HttpContext c) =>
        {
            byte[] framed = await Body(c);
            // gRPC message framing: 1 byte compressed flag, 4 bytes big-endian length, the message.
            if (framed.Length < 5 || framed[0] != 0) { c.Response.StatusCode = 400; return; }
            int n = System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(framed.AsSpan(1));
            Keep(signal, framed.AsSpan(5, n).ToArray());
            c.Response.ContentType = "application/grpc";
            await c.Response.Body.WriteAsync(new byte[5]); // an empty Export...ServiceResponse
            c.Response.AppendTrailer("grpc-status", "0");
        });
        _app.StartAsync().GetAwaiter().GetResult();
        var address = _app.Urls.First();
        Endpoint = new Uri(address);
    }

    /// <summary>http://127.0.0.1:PORT/</summary>
    public Uri Endpoint { get; }

    private void Keep(string signal, byte[] body)
    {
        lock (_requests) _requests.Add((signal, body));
    }

    private static async Task<byte[]> Body(HttpContext c)
    {
        using var ms = new MemoryStream();
        await c.Request.Body.CopyToAsync(ms);
        return ms.ToArray();
    }

    /// <summary>The bodies received so far for "logs" or "metrics".</summary>
    public List<byte[]> Requests(string signal)
    {
        lock (_requests) return _requests.Where(r => r.Signal == signal).Select(r => r.Body).ToList();
    }

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();
}
