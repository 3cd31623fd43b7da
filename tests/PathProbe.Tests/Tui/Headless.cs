using System.Drawing;
using PathProbe.Cli.Tui;
using PathProbe.Cli.Tui.Model;
using PathProbe.Cli.Tui.Views;
using Terminal.Gui.App;
using Terminal.Gui.Drivers;
using Terminal.Gui.Input;
using Terminal.Gui.Testing;

namespace PathProbe.Tests.Tui;

/// <summary>Tests that drive Terminal.Gui's application run one at a time (the library keeps some process-wide state).</summary>
[CollectionDefinition("tui", DisableParallelization = true)]
public sealed class TuiCollection;

/// <summary>
/// The real TUI window on Terminal.Gui 2.5's own headless test driver: the ANSI driver with a set screen size, input
/// injected through <c>IApplication.InjectKey</c>/<c>InjectMouse</c> (the same path as a terminal's keys and mouse),
/// and the screen read back as text (<c>IDriver.ToString</c>) or with its attributes (<c>IDriver.ToAnsi</c>).
/// </summary>
internal sealed class Headless : IDisposable
{
    public IApplication App { get; }
    public MainWindow Window { get; }
    private readonly SessionToken _token;

    public Headless(ITuiSource source, int width, int height, bool mono = false)
    {
        App = Application.Create().Init(DriverRegistry.Names.ANSI);
        App.Driver!.SetScreenSize(width, height);
        Window = TuiHost.CreateWindow(App, source, new Theme(mono));
        _token = App.Begin(Window)!;
        Screen();
    }

    /// <summary>One UI tick (snapshot, work handed back by tasks), a layout and a draw; the screen as text.</summary>
    public string Screen()
    {
        Window.Tick();
        App.LayoutAndDraw();
        return App.Driver!.ToString()!;
    }

    public string Ansi()
    {
        Screen();
        return App.Driver!.ToAnsi();
    }

    public string[] Lines()
    {
        var lines = Screen().Split('\n').Select(l => l.TrimEnd('\r')).ToList();
        if (lines.Count > 0 && lines[^1].Length == 0) lines.RemoveAt(lines.Count - 1);
        return lines.ToArray();
    }

    public Headless Key(Key key)
    {
        App.InjectKey(key);
        Screen();
        return this;
    }

    public Headless Keys(params Key[] keys)
    {
        foreach (var k in keys) Key(k);
        return this;
    }

    public Headless Type(string text)
    {
        foreach (char c in text) Key(new Key(c));
        return this;
    }

    public Headless Click(int x, int y)
    {
        App.InjectSequence(InputInjectionExtensions.LeftButtonClick(new Point(x, y)));
        Screen();
        return this;
    }

    public Headless DoubleClick(int x, int y)
    {
        App.InjectSequence(InputInjectionExtensions.LeftButtonDoubleClick(new Point(x, y)));
        Screen();
        return this;
    }

    public Headless Wheel(int x, int y, MouseFlags flags)
    {
        App.InjectMouse(new Mouse { ScreenPosition = new Point(x, y), Flags = flags });
        Screen();
        return this;
    }

    /// <summary>Ticks until <paramref name="text"/> is on screen (background work such as the packet scan), or fails.</summary>
    public string WaitFor(string text, int milliseconds = 10000)
    {
        var sw = System.Diagnostics.Stopwatch.StartNew();
        string s = Screen();
        while (!s.Contains(text, StringComparison.Ordinal) && sw.ElapsedMilliseconds < milliseconds)
        {
            Thread.Sleep(20);
            s = Screen();
        }
        Assert.True(s.Contains(text, StringComparison.Ordinal), $"'{text}' not on screen:\n{s}");
        return s;
    }

    /// <summary>The row of the screen that contains <paramref name="text"/>, or -1.</summary>
    public int RowOf(string text) => Array.FindIndex(Lines(), l => l.Contains(text, StringComparison.Ordinal));

    public void Dispose()
    {
        App.End(_token);
        Window.Dispose();
        App.Dispose();
    }
}

/// <summary>A source with a fixed snapshot (tests of many flows and hostile text without a capture).</summary>
internal sealed class FixedSource(TuiSnapshot snapshot) : ITuiSource
{
    public TuiSnapshot Current { get; set; } = snapshot;
    public int Requested { get; private set; } = -1;
    public void RequestDetail(int flowId) => Requested = flowId;
    public Task<string> WriteAsync(string path) => Task.FromResult("not written: fixed test source");
    public Task<long> ReadableLengthAsync() => Task.FromResult(long.MaxValue);
    public string? Error => null;
    public void Dispose() { }
}
