using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using PathProbe.Decoding.Reassembly;

namespace PathProbe.Tests.Reassembly;

public class IpReassemblerPropertyTests
{
    /// <summary>A payload cut at 8-byte-aligned points, sent in some order, some fragments sent twice.</summary>
    public sealed record Plan(int Length, int[] Cuts, int[] Order, int[] Repeats)
    {
        public override string ToString() =>
            $"Length={Length} Cuts=[{string.Join(",", Cuts)}] Order=[{string.Join(",", Order)}] Repeats=[{string.Join(",", Repeats)}]";
    }

    private static Gen<Plan> PlanGen =>
        from length in Gen.Choose(1, 65000)
        from cutCount in Gen.Choose(0, 200)
        from rawCuts in Gen.ArrayOf(Gen.Choose(1, Math.Max(1, (length - 1) / 8)), cutCount)
        let cuts = rawCuts.Select(c => c * 8).Where(c => c > 0 && c < length).Distinct().Order().ToArray()
        from order in Gen.Shuffle(Enumerable.Range(0, cuts.Length + 1))
        from repeats in Gen.ArrayOf(Gen.Choose(0, cuts.Length)).Resize(10)
        select new Plan(length, cuts, order.ToArray(), repeats);

    [Property(MaxTest = 200)]
    public Property Add_RandomFragmentation_ReassemblesOriginal() =>
        Prop.ForAll(Arb.From(PlanGen), plan =>
        {
            var payload = R.Payload(plan.Length, seed: plan.Length);
            var bounds = new List<int> { 0 };
            bounds.AddRange(plan.Cuts);
            bounds.Add(plan.Length);
            int fragments = bounds.Count - 1;

            // Send order: the shuffle, with each repeated fragment sent again right after its first copy.
            var sends = new List<int>();
            foreach (int f in plan.Order)
            {
                sends.Add(f);
                if (plan.Repeats.Contains(f)) sends.Add(f);
            }

            var r = new IpReassembler();
            byte[]? result = null;
            int count = 0, completions = 0;
            foreach (int f in sends)
            {
                var o = r.AddSlice(R.V6((uint)plan.Length), payload, bounds[f], bounds[f + 1] - bounds[f]);
                if (o.Result == ReassemblyResult.Completed) { result = o.Datagram; count = o.FragmentCount; completions++; }
            }

            // A duplicate of the completing fragment opens a new entry (the first is gone), as on Linux, and is held;
            // an unfragmented payload (offset 0, no more fragments) is an atomic fragment that completes every time.
            return completions == (fragments == 1 ? sends.Count : 1) && result is not null && result.AsSpan().SequenceEqual(payload) && count == fragments
                && r.Counters.Overlaps == 0 && r.Counters.Inconsistent == 0 && r.Counters.BadFragments == 0;
        });
}

public class IpReassemblerHostileInputTests
{
    /// <summary>One arbitrary fragment: which of a few datagrams, where, how long, whether more follow, when.</summary>
    public readonly record struct Op(int Id, int Offset, int Length, bool More, int Seconds, byte Fill);

    private static Gen<Op> OpGen =>
        from id in Gen.Choose(0, 5)
        from offset in Gen.OneOf(Gen.Choose(0, 16).Select(u => u * 8), Gen.Choose(0, 65535), Gen.Choose(8180, 8191).Select(u => u * 8))
        from length in Gen.OneOf(Gen.Choose(0, 3).Select(u => u * 8), Gen.Choose(0, 2000))
        from more in Gen.Elements(true, true, false)
        from seconds in Gen.Choose(0, 100)
        from fill in Gen.Choose(0, 2)
        select new Op(id, offset, length, more, seconds, (byte)fill);

    [Property(MaxTest = 300)]
    public Property Add_ArbitraryFragments_StaysWithinBoundsAndNeverThrows() =>
        Prop.ForAll(Arb.From(Gen.ArrayOf(OpGen, 60).Resize(60)), ops =>
        {
            var options = new ReassemblyOptions { MaxBytes = 96 * 1024, MaxDatagrams = 4, Timeout = TimeSpan.FromSeconds(30), MaxFragmentsPerDatagram = 32 };
            var r = new IpReassembler(options);
            var data = new byte[2000];
            int time = 0;
            foreach (var op in ops)
            {
                time += op.Seconds % 7; // capture time mostly moves forward
                data.AsSpan().Fill(op.Fill);
                var key = op.Id % 2 == 0 ? R.V4((uint)op.Id) : R.V6((uint)op.Id);
                var res = r.Add(key, op.Offset, op.More, data.AsSpan(0, op.Length), R.T(time), out var datagram, out int count);
                if (res == ReassemblyResult.Completed && (count < 1 || datagram.Length < op.Length)) return false;
                if (r.BytesHeld > options.MaxBytes || r.OpenDatagrams > options.MaxDatagrams || r.BytesHeld < 0) return false;
            }
            r.Finish();
            var c = r.Counters;
            return r.BytesHeld == 0 && r.OpenDatagrams == 0 && c.Fragments == ops.Length
                && r.Incomplete.Count(x => x.Reason == IncompleteReason.TimedOut) == c.TimedOut
                && r.Incomplete.Count(x => x.Reason == IncompleteReason.OpenAtEnd) == c.OpenAtEnd
                && r.Incomplete.Count(x => x.Reason == IncompleteReason.Evicted) <= c.DroppedMemoryBound
                && r.Incomplete.All(x => x.BytesReceived >= 0 && x.FragmentsReceived >= 1 && x.FragmentsReceived <= options.MaxFragmentsPerDatagram);
        });
}
