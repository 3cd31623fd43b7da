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

    /// <returns>The exit status for what was shown: 1 with a critical finding on screen (as analyze), else 0.</returns>
    public static int Run(ITuiSource source, Theme theme)
    {
        using IApplication app = Application.Create().Init();
        using var window = CreateWindow(app, source, theme);
        app.AddTimeout(TimeSpan.FromMilliseconds(TickMilliseconds), () =>
        {
            window.Tick();
            return true;
        });
        void Stop(PosixSignalContext context)
        {
            context.Cancel = true;
            app.Invoke(() => window.Do(KeyAct.Quit));
        }
        using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
        using var intr = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
        using var hup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, Stop);
        app.Run(window);
        return window.ExitStatus;
    }
}
