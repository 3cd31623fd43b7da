using System.Runtime.InteropServices;

namespace PathProbe.Cli.Commands;

/// <summary>
/// SIGHUP while capturing: the daemon convention (and systemd's ExecReload) for "reopen your output files", e.g. after
/// logrotate moved them. The handler only sets a flag; the capture thread takes it on its next tick and reopens there,
/// so the writer is never touched from another thread. Without this, SIGHUP would end the process.
/// </summary>
internal sealed class HangupSignal : IDisposable
{
    private readonly PosixSignalRegistration? _hup;
    private int _pending;

    public HangupSignal()
    {
        if (OperatingSystem.IsWindows()) return;
        _hup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, context =>
        {
            context.Cancel = true;
            Interlocked.Exchange(ref _pending, 1);
        });
    }

    /// <summary>True once per SIGHUP received since the last call (several before a tick count as one).</summary>
    public bool Take() => Interlocked.Exchange(ref _pending, 0) == 1;

    public void Dispose() => _hup?.Dispose();
}
