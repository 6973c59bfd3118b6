using System.Reflection;
using Microsoft.ML.DiLoCo.Runs;

namespace Microsoft.ML.DiLoCo.Tests.Architecture;

/// <summary>
/// The run plan is the only way options reach the engine, and its description is what MPI ranks compare and what a
/// checkpoint must match. These tests change one field at a time and check that the description sees it, so a field
/// added to the plan (or an option added to the trainer) without a decision fails here.
/// </summary>
[TestClass]
public sealed class RunPlanDescriptionTests
{
    // Options that stay at the edge, and why: they choose or read the data, report, or stop the run; the plan carries what is computed.
    private static readonly Dictionary<string, string> EdgeOnlyOptions = new(StringComparer.Ordinal)
    {
        [nameof(StreamingDiLoCoTrainer.Options.TextColumnName)] = "which column the edge reads; the data fingerprint covers the text",
        [nameof(StreamingDiLoCoTrainer.Options.ValidationSet)] = "read by the edge; the data fingerprint covers it",
        [nameof(StreamingDiLoCoTrainer.Options.CancellationToken)] = "a run hook",
        [nameof(StreamingDiLoCoTrainer.Options.Progress)] = "a run hook",
        [nameof(StreamingDiLoCoTrainer.Options.InitialModel)] = "read by the edge; the weights' digest is described",
        [nameof(StreamingDiLoCoTrainer.Options.InitialModelPath)] = "read by the edge; the weights' digest is described",
    };

    private static RunPlan Baseline() => StreamingDiLoCoTrainer.Plan(new StreamingDiLoCoTrainer.Options
    {
        CheckpointDirectory = Path.Combine(Path.GetTempPath(), "diloco-plan-description"),
        Seed = 3,
        NumberOfWorkers = 2,
    });

    private static string Describe(RunPlan plan) => string.Join("\n", RunPlanDescription.Lines(plan));

    [TestMethod]
    public void EveryPlanFieldIsDescribedOrListedWithAReason()
    {
        var baseline = Baseline();
        string reference = Describe(baseline);
        var leaves = Leaves(typeof(RunPlan), "").ToList();
        Assert.IsTrue(leaves.Count > 30, $"Only {leaves.Count} plan fields found: the walk over the plan's records is broken.");
        var undescribed = new List<string>();
        foreach (var path in leaves)
        {
            bool changed = Describe(Mutated(baseline, path)) != reference;
            if (RunPlanDescription.NotDescribed.ContainsKey(path))
                Assert.IsFalse(changed, $"{path} is listed as not described but changes the description: remove it from RunPlanDescription.NotDescribed.");
            else if (!changed) undescribed.Add(path);
        }
        Assert.AreEqual(0, undescribed.Count,
            "Plan fields the description does not show (describe them in RunPlanDescription, or list them in NotDescribed with the reason): " + string.Join(", ", undescribed));
        foreach (var listed in RunPlanDescription.NotDescribed.Keys)
            CollectionAssert.Contains(leaves, listed, $"RunPlanDescription.NotDescribed names {listed}, which is not a plan field.");
    }

    [TestMethod]
    public void EveryTrainerOptionReachesThePlanOrIsListedWithAReason()
    {
        string reference = Describe(Baseline());
        string key = Path.Combine(Path.GetTempPath(), "diloco-plan-description-" + Guid.NewGuid().ToString("N") + ".key");
        File.WriteAllText(key, new string('7', 64));
        try
        {
            var lost = new List<string>();
            foreach (var field in typeof(StreamingDiLoCoTrainer.Options).GetFields(BindingFlags.Public | BindingFlags.Instance))
            {
                if (EdgeOnlyOptions.ContainsKey(field.Name)) continue;
                var o = new StreamingDiLoCoTrainer.Options { CheckpointDirectory = Path.Combine(Path.GetTempPath(), "diloco-plan-description"), Seed = 3, NumberOfWorkers = 2 };
                if (!Change(o, field, key)) continue;
                var plan = StreamingDiLoCoTrainer.Plan(o);
                bool reachesPlan = field.Name switch // the fields the description leaves out on purpose: the plan must still carry them
                {
                    nameof(StreamingDiLoCoTrainer.Options.Devices) => plan.Process.Devices.SequenceEqual(new[] { "cpu", "cpu" }),
                    nameof(StreamingDiLoCoTrainer.Options.ExchangeTimeoutSeconds) => plan.Process.ExchangeTimeoutSeconds == o.ExchangeTimeoutSeconds,
                    nameof(StreamingDiLoCoTrainer.Options.ExchangeKeyFile) => plan.Process.ExchangeKeyFile == key,
                    _ => Describe(plan) != reference,
                };
                if (!reachesPlan) lost.Add(field.Name);
            }
            Assert.AreEqual(0, lost.Count, "Trainer options that never reach the run plan: " + string.Join(", ", lost));
        }
        finally { File.Delete(key); }
    }

    // Changes the option to another valid value; false for Transport (Mpi needs an MPI launcher: the MPI tests cover it).
    private static bool Change(StreamingDiLoCoTrainer.Options o, FieldInfo field, string key)
    {
        switch (field.Name)
        {
            case nameof(StreamingDiLoCoTrainer.Options.Transport): return false;
            case nameof(StreamingDiLoCoTrainer.Options.Model): o.Model.EmbeddingSize *= 2; break;
            case nameof(StreamingDiLoCoTrainer.Options.InnerSteps): o.InnerSteps = 200; break;
            case nameof(StreamingDiLoCoTrainer.Options.NumberOfFragments): o.NumberOfFragments = 2; break;
            case nameof(StreamingDiLoCoTrainer.Options.CheckpointInterval): o.CheckpointInterval = 88; break; // a multiple of H/P = 11
            case nameof(StreamingDiLoCoTrainer.Options.Devices): o.Devices = new[] { "cpu", "cpu" }; break;
            case nameof(StreamingDiLoCoTrainer.Options.CheckpointDirectory): o.CheckpointDirectory += "-2"; break;
            case nameof(StreamingDiLoCoTrainer.Options.OnWorkerFailure): o.OnWorkerFailure = WorkerFailurePolicy.Continue; break;
            case nameof(StreamingDiLoCoTrainer.Options.SyncWarmupSteps) or nameof(StreamingDiLoCoTrainer.Options.SyncWarmupInnerSteps):
                // H₀ means nothing without W (the plan keeps 0): the two change together. H = 44 = 4·11 with τ = 1 admits only
                // H₀ = H (a warm-up that changes no sync, still a different plan).
                o.SyncWarmupSteps = 88;
                o.SyncWarmupInnerSteps = 44;
                break;
            case nameof(StreamingDiLoCoTrainer.Options.ExchangeSecurity) or nameof(StreamingDiLoCoTrainer.Options.ExchangeKeyFile):
                o.ExchangeSecurity = ExchangeSecurity.Encrypted;
                o.ExchangeKeyFile = key;
                break;
            default: field.SetValue(o, Changed(field.GetValue(o), field.FieldType)); break;
        }
        return true;
    }

    [TestMethod]
    public void TheRankAndCheckpointDescriptionsCarryThePublicOptionNames()
    {
        var lines = RunPlanDescription.Lines(Baseline()).Select(l => l[..l.IndexOf(" = ", StringComparison.Ordinal)]).ToArray();
        var options = typeof(StreamingDiLoCoTrainer.Options).GetFields(BindingFlags.Public | BindingFlags.Instance).Select(f => f.Name).ToHashSet();
        var model = typeof(TransformerOptions).GetProperties().Select(p => "Model." + p.Name).ToHashSet();
        foreach (var name in lines)
            Assert.IsTrue(options.Contains(name) || model.Contains(name), $"The description line '{name}' names no option: a rank or checkpoint mismatch could not say what to change.");
        Assert.AreEqual(lines.Length, lines.Distinct().Count(), "Two description lines share a name.");
    }

    /// <summary>Property paths of the plan's own fields (constructor parameters), into its records and the model shape.</summary>
    private static IEnumerable<string> Leaves(Type type, string prefix)
    {
        var parameters = type.GetConstructors().SelectMany(c => c.GetParameters()).Select(p => p.Name).ToHashSet();
        foreach (var property in type.GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            if (!parameters.Contains(property.Name) && !(type == typeof(TransformerOptions) && property.CanWrite)) continue; // computed
            var t = Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType;
            bool nested = t == typeof(TransformerOptions) || (t.Namespace == typeof(RunPlan).Namespace && t.IsClass);
            if (nested)
                foreach (var leaf in Leaves(t, prefix + property.Name + ".")) yield return leaf;
            else yield return prefix + property.Name;
        }
    }

    /// <summary>A copy of the plan with the field at <paramref name="path"/> changed (records are cloned, never mutated).</summary>
    private static RunPlan Mutated(RunPlan plan, string path) => (RunPlan)MutatedObject(plan, path.Split('.'))!;

    private static object MutatedObject(object target, string[] path)
    {
        object copy = target is TransformerOptions m ? m.Clone() : target.GetType().GetMethod("<Clone>$")!.Invoke(target, null)!;
        var property = copy.GetType().GetProperty(path[0])!;
        object? value = property.GetValue(copy);
        object? changed = path.Length == 1 ? Changed(value, property.PropertyType) : MutatedObject(value!, path[1..]);
        if (property.CanWrite) property.SetValue(copy, changed);
        else copy.GetType().GetField($"<{path[0]}>k__BackingField", BindingFlags.NonPublic | BindingFlags.Instance)!.SetValue(copy, changed);
        return copy;
    }

    private static object? Changed(object? value, Type type)
    {
        var t = Nullable.GetUnderlyingType(type) ?? type;
        if (t.IsEnum)
        {
            var values = Enum.GetValues(t);
            int index = Array.IndexOf(values, value);
            return values.GetValue((index + 1) % values.Length);
        }
        return value switch
        {
            null when t == typeof(int) => 1,
            null when t == typeof(string) => "changed",
            int i => i + 1,
            long l => l + 1,
            float f => f == 0 ? 0.25f : f * 0.5f,
            double d => d * 2 + 1,
            bool b => !b,
            string s => s + "-changed",
            IReadOnlyList<string> list => list.Append("cpu").ToArray(),
            _ => throw new AssertFailedException($"No way to change a {t.Name} in this test: extend Changed."),
        };
    }
}
