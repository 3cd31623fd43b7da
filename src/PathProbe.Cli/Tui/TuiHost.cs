using System.Runtime.InteropServices;
using PathProbe.Cli.Tui.Model;
using PathProbe.Cli.Tui.Views;
using Terminal.Gui.App;
using Terminal.Gui.Input;

namespace PathProbe.Cli.Tui;

/// <summary>
/// Runs the TUI on Terminal.Gui: one application instance, one window, a 100 ms timer that takes the latest snapshot,
/// and a key hook that gives PathProbe's keys (<see cref="KeyTable"/>) precedence over the views' defaults (Esc goes
/// back instead of quitting; Ctrl+Q quits). Every way out disposes the application, which restores the terminal:
/// a quit key, SIGTERM/SIGINT/SIGHUP (the loop is asked to stop), and an exception (disposed while it propagates).
/// </summary>
public static class TuiHost
{
    public const int TickMilliseconds = 100;

    /// <summary>Wires the window's key hook and timer into <paramref name="app"/> (the host and the tests share this).</summary>
    public static MainWindow CreateWindow(IApplication app, ITuiSource source, Theme theme)
    {
        var window = new MainWindow(source, theme);
        app.Keyboard.KeyDown += (_, key) =>
        {
            if (!key.Handled && window.HandleKey(key)) key.Handled = true;
        };
        return window;
    }

    /// <returns>The exit status for what was shown: 1 with a critical finding on screen (as analyze), else 0; 130 or 143
    /// when SIGINT or SIGTERM ended it (Program's statuses, the same for every command).</returns>
    public static int Run(ITuiSource source, Theme theme)
    {
        using IApplication app = Application.Create().Init();
        using var window = CreateWindow(app, source, theme);
        app.AddTimeout(TimeSpan.FromMilliseconds(TickMilliseconds), () =>
        {
            window.Tick();
            return true;
        });
        int stopping = 0, signal = 0; // signal: the first PosixSignal that asked to quit (as int; they are non-zero)
        int Status() => (PosixSignal)Volatile.Read(ref signal) switch
        {
            PosixSignal.SIGINT => Program.ExitSigInt,
            PosixSignal.SIGTERM => Program.ExitSigTerm,
            _ => window.ExitStatus,
        };
        void Stop()
        {
            if (Interlocked.Exchange(ref stopping, 1) != 0) return;
            app.Invoke(() => window.Do(KeyAct.Quit));
            // When the terminal is gone the loop may never get to the quit (its reads and writes fail): whatever
            // happens, the process ends with the status for what was shown.
            // (Ten seconds: time for a live capture to close its -w file on the normal way out.)
            new Thread(() => { Thread.Sleep(10_000); Environment.Exit(Status()); }) { IsBackground = true, Name = "pathprobe-exit" }.Start();
        }
        void Signal(PosixSignalContext context)
        {
            context.Cancel = true;
            Interlocked.CompareExchange(ref signal, (int)context.Signal, 0);
            Stop();
        }
        // The terminal can also go away without a signal to this process: then nobody can see or quit the screen.
        var watch = new Thread(() =>
        {
            while (Volatile.Read(ref stopping) == 0)
            {
                Thread.Sleep(1000);
                if (TerminalHungUp()) Stop();
            }
        }) { IsBackground = true, Name = "pathprobe-terminal-watch" };
        watch.Start();
        using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Signal);
        using var intr = PosixSignalRegistration.Create(PosixSignal.SIGINT, Signal);
        using var hup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, Signal);
        app.Run(window);
        return Status();
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct PollFd
    {
        public int Fd;
        public short Events;
        public short Revents;
    }

    private const short PollErr = 0x008, PollHup = 0x010, PollNval = 0x020;

    [DllImport("libc", EntryPoint = "poll", SetLastError = true)]
    private static extern unsafe int Poll(PollFd* fds, nuint count, int timeout);

    /// <summary>True when standard input's terminal has hung up (POSIX poll reports POLLHUP/POLLERR/POLLNVAL on it).</summary>
    internal static unsafe bool TerminalHungUp()
    {
        if (OperatingSystem.IsWindows()) return false;
        var fd = new PollFd { Fd = 0, Events = 0 };
        try
        {
            return Poll(&fd, 1, 0) > 0 && (fd.Revents & (PollErr | PollHup | PollNval)) != 0;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return false;
        }
    }
}
