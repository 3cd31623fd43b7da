using PathProbe.Pipeline;
using PathProbe.Tests.Analysis.Smtp;

namespace PathProbe.Tests.Pipeline;

/// <summary>The stage order lives in Engine.Stages: the engine runs exactly those lists, and the dependencies between
/// detectors hold in them.</summary>
public sealed class EngineStagesTests
{
    // The stage's place in the list; a stage missing from it fails the test instead of comparing as -1.
    private static int At(IReadOnlyList<Stage> stages, Stage s)
    {
        int i = stages.ToList().IndexOf(s);
        Assert.True(i >= 0, $"{s} is not in the list");
        return i;
    }

    [Fact]
    public void Stages_DependenciesHold()
    {
        var seg = Engine.Stages.Segment;
        // Holes and silences are judged on the state before the TCP analysis updates it.
        Assert.True(At(seg, Stage.StallsBefore) < At(seg, Stage.TcpAnalysis));
        Assert.True(At(seg, Stage.PathMtu) < At(seg, Stage.TcpAnalysis));
        // Storms and the stall's progress read the analysis; SMTP reads it too; the timeline records SMTP's phase.
        Assert.True(At(seg, Stage.TcpAnalysis) < At(seg, Stage.Storms));
        Assert.True(At(seg, Stage.TcpAnalysis) < At(seg, Stage.StallsAfter));
        Assert.True(At(seg, Stage.Smtp) < At(seg, Stage.Timeline));
        var close = Engine.Stages.FlowClose;
        // SMTP reads the stall the TCP detector settled and the black hole; the flow's final numbers go last.
        Assert.True(At(close, Stage.TcpFindings) < At(close, Stage.SmtpClose));
        Assert.True(At(close, Stage.PathMtu) < At(close, Stage.SmtpClose));
        Assert.Equal(close.Count - 1, At(close, Stage.FlowFacts));
        var end = Engine.Stages.End;
        Assert.True(At(end, Stage.FlowTable) < At(end, Stage.PathMtu)); // final black holes after every flow closed
        Assert.True(At(end, Stage.Dns) < At(end, Stage.Fragmentation));
    }

    [Fact]
    public void Engine_RunsTheStagesInTheirOrder()
    {
        var e = new Engine { Trace = new List<Stage>() };
        var f = new SmtpFrames(e);
        f.Handshake(); // three TCP segments
        Assert.Equal(Enumerable.Repeat(Engine.Stages.Segment, 3).SelectMany(x => x), e.Trace);
        e.Trace.Clear();
        e.Complete(new InputSummary { Path = "synthetic" });
        var expected = new List<Stage>();
        foreach (var s in Engine.Stages.End)
        {
            expected.Add(s);
            if (s == Stage.FlowTable) expected.AddRange(Engine.Stages.FlowClose); // the one flow closes here
        }
        Assert.Equal(expected, e.Trace);
    }
}
