using System.Runtime.InteropServices;

namespace PathProbe.Cli.Commands;

/// <summary>
/// SIGINT and SIGTERM while a command runs: the first one cancels <see cref="Token"/> (and runs the optional stop
/// action, e.g. pcap_breakloop) so the command reports what it read and exits 130 or 143; a second one ends the
/// process at once (the default action). Handlers run on a runtime thread and only set flags.
/// </summary>
internal sealed class StopSignals : IDisposable
{
    private readonly CancellationTokenSource _cancel;
    private readonly PosixSignalRegistration _int, _term;
    private readonly Action? _stop;
    private int _signal; // 0, or the PosixSignal that arrived first (as int)
    private int _count;

    /// <param name="linked">Also cancelled by this token (tests, callers that stop the command themselves).</param>
    /// <param name="stop">Called once from the handler thread on the first signal; must be safe there.</param>
    public StopSignals(CancellationToken linked = default, Action? stop = null)
    {
        _cancel = CancellationTokenSource.CreateLinkedTokenSource(linked);
        _stop = stop;
        _int = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
        _term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
    }

    public CancellationToken Token => _cancel.Token;

    /// <summary>True once a signal arrived (or the linked token was cancelled).</summary>
    public bool Stopped => _cancel.IsCancellationRequested;

    /// <summary>The signal that stopped the command, if any.</summary>
    public PosixSignal? Signal => Volatile.Read(ref _signal) is var s and not 0 ? (PosixSignal)s : null;

    /// <summary>130 for SIGINT, 143 for SIGTERM, or <paramref name="otherwise"/> when no signal arrived.</summary>
    public int ExitStatus(int otherwise) => Signal switch
    {
        PosixSignal.SIGINT => Program.ExitSigInt,
        PosixSignal.SIGTERM => Program.ExitSigTerm,
        _ => otherwise,
    };

    /// <summary>"interrupted (SIGINT)" for messages, or null.</summary>
    public string? Describe() => Signal switch
    {
        PosixSignal.SIGINT => "interrupted (SIGINT)",
        PosixSignal.SIGTERM => "stopped (SIGTERM)",
        _ => null,
    };

    private void OnSignal(PosixSignalContext context)
    {
        if (Interlocked.Increment(ref _count) > 1) return; // second signal: default action, the process ends now
        context.Cancel = true;
        Interlocked.CompareExchange(ref _signal, (int)context.Signal, 0);
        try { _cancel.Cancel(); } catch (ObjectDisposedException) { }
        _stop?.Invoke();
    }

    public void Dispose()
    {
        _int.Dispose();
        _term.Dispose();
        _cancel.Dispose();
    }
}
