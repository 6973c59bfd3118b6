using Microsoft.ML.DiLoCo.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.DiLoCo.Tests.Model;

[TestClass]
public sealed class TransformerLanguageModelTests
{
    private const int ByteVocabulary = 257;

    private static TransformerOptions Small(PositionEncoding positions = PositionEncoding.Learned, bool tied = true, bool bias = true) => new()
    {
        ContextLength = 16, EmbeddingSize = 32, NumberOfLayers = 2, NumberOfHeads = 4, MlpRatio = 4,
        PositionEncoding = positions, TiedEmbeddings = tied, Bias = bias,
    };

    private static string[] ExpectedNames(int layers, bool learned, bool tied, bool bias)
    {
        var names = new List<string> { "token_embedding.weight" };
        if (learned) names.Add("position_embedding.weight");
        void Add(string prefix) { names.Add(prefix + ".weight"); if (bias) names.Add(prefix + ".bias"); }
        for (int i = 0; i < layers; i++)
        {
            Add($"blocks.{i}.attention_norm");
            Add($"blocks.{i}.attention.qkv");
            Add($"blocks.{i}.attention.output");
            Add($"blocks.{i}.mlp_norm");
            Add($"blocks.{i}.mlp.up");
            Add($"blocks.{i}.mlp.down");
        }
        Add("final_norm");
        if (!tied) names.Add("head.weight");
        return names.ToArray();
    }

    private static string[] Names(nn.Module module) => module.named_parameters().Select(p => p.name).ToArray();

    [TestMethod]
    public void ParameterNames_LearnedTied()
    {
        using var model = new TransformerLanguageModel(Small(), ByteVocabulary);
        var expected = ExpectedNames(2, learned: true, tied: true, bias: true);
        CollectionAssert.AreEqual(expected, Names(model));
        CollectionAssert.AreEqual(expected, model.state_dict().Keys.ToArray());
    }

    [TestMethod]
    public void ParameterNames_RotaryUntied_NoTablesInStateDict()
    {
        using var model = new TransformerLanguageModel(Small(PositionEncoding.Rotary, tied: false), ByteVocabulary);
        var expected = ExpectedNames(2, learned: false, tied: false, bias: true);
        CollectionAssert.AreEqual(expected, Names(model));
        CollectionAssert.AreEquivalent(expected, model.state_dict().Keys.ToArray());
        Assert.AreEqual(0, model.named_buffers().Count());
    }

    [TestMethod]
    public void RotaryTables_FollowTheModelToAnotherType()
    {
        using var model = new TransformerLanguageModel(Small(PositionEncoding.Rotary), ByteVocabulary);
        using var tokens = randint(0, ByteVocabulary, [2, 16], dtype: ScalarType.Int64);
        using var single = model.forward(tokens);
        model.to(ScalarType.Float64);
        using var @double = model.forward(tokens);
        Assert.AreEqual(ScalarType.Float64, @double.dtype);
        Assert.IsTrue(@double.to(ScalarType.Float32).allclose(single, rtol: 1e-4, atol: 1e-5));
    }

    [TestMethod]
    public void ParameterNames_NoBias()
    {
        using var model = new TransformerLanguageModel(Small(bias: false), ByteVocabulary);
        CollectionAssert.AreEqual(ExpectedNames(2, learned: true, tied: true, bias: false), Names(model));
        Assert.IsFalse(Names(model).Any(n => n.EndsWith(".bias")));
    }

    [TestMethod]
    public void ParameterShapes_MatchTheDocumentedTable()
    {
        var options = Small(tied: false);
        options.MlpRatio = 3;
        using var model = new TransformerLanguageModel(options, ByteVocabulary);
        var shapes = model.named_parameters().ToDictionary(p => p.name, p => p.parameter.shape);
        CollectionAssert.AreEqual(new long[] { 257, 32 }, shapes["token_embedding.weight"]);
        CollectionAssert.AreEqual(new long[] { 16, 32 }, shapes["position_embedding.weight"]);
        CollectionAssert.AreEqual(new long[] { 96, 32 }, shapes["blocks.1.attention.qkv.weight"]);
        CollectionAssert.AreEqual(new long[] { 32, 32 }, shapes["blocks.1.attention.output.weight"]);
        CollectionAssert.AreEqual(new long[] { 96, 32 }, shapes["blocks.0.mlp.up.weight"]);
        CollectionAssert.AreEqual(new long[] { 32, 96 }, shapes["blocks.0.mlp.down.weight"]);
        CollectionAssert.AreEqual(new long[] { 32 }, shapes["final_norm.bias"]);
        CollectionAssert.AreEqual(new long[] { 257, 32 }, shapes["head.weight"]);
    }

    [TestMethod]
    [DataRow(PositionEncoding.Learned, true, true)]
    [DataRow(PositionEncoding.Rotary, true, true)]
    [DataRow(PositionEncoding.Learned, false, true)]
    [DataRow(PositionEncoding.Rotary, false, false)]
    [DataRow(PositionEncoding.Learned, true, false)]
    public void ParameterCount_FollowsTheFormula(PositionEncoding positions, bool tied, bool bias)
    {
        var o = Small(positions, tied, bias);
        long c = o.EmbeddingSize, v = ByteVocabulary, h = o.MlpRatio * c, b = bias ? 1 : 0;
        long perBlock = (c + b * c) * 2            // two layer norms
                        + 3 * c * c + b * 3 * c     // qkv
                        + c * c + b * c             // output
                        + h * c + b * h             // up
                        + c * h + b * c;            // down
        long expected = v * c
                        + (positions == PositionEncoding.Learned ? o.ContextLength * c : 0)
                        + o.NumberOfLayers * perBlock
                        + c + b * c
                        + (tied ? 0 : v * c);
        using var model = new TransformerLanguageModel(o, ByteVocabulary);
        Assert.AreEqual(expected, model.ParameterCount);
        Assert.AreEqual(expected, model.parameters().Sum(p => p.numel()));
    }

    [TestMethod]
    public void Forward_GivesLogitsPerPosition()
    {
        using var model = new TransformerLanguageModel(Small(), ByteVocabulary);
        using var tokens = randint(0, ByteVocabulary, [3, 16], dtype: ScalarType.Int64);
        using var logits = model.forward(tokens);
        CollectionAssert.AreEqual(new long[] { 3, 16, ByteVocabulary }, logits.shape);
        using var shortTokens = randint(0, ByteVocabulary, [2, 5], dtype: ScalarType.Int64);
        using var shortLogits = model.forward(shortTokens);
        CollectionAssert.AreEqual(new long[] { 2, 5, ByteVocabulary }, shortLogits.shape);
    }

    [TestMethod]
    public void Forward_RejectsSequencesLongerThanTheContext()
    {
        using var model = new TransformerLanguageModel(Small(), ByteVocabulary);
        using var tokens = zeros([1, 17], dtype: ScalarType.Int64);
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => model.forward(tokens));
    }

    [TestMethod]
    [DataRow(PositionEncoding.Learned)]
    [DataRow(PositionEncoding.Rotary)]
    public void Forward_IsCausal(PositionEncoding positions)
    {
        manual_seed(7);
        using var model = new TransformerLanguageModel(Small(positions), ByteVocabulary);
        model.eval();
        using var tokens = randint(0, ByteVocabulary, [2, 16], dtype: ScalarType.Int64);
        const int changed = 9;
        using var altered = tokens.clone();
        altered[.., changed] = (tokens[.., changed] + 1) % ByteVocabulary;
        using var before = model.forward(tokens);
        using var after = model.forward(altered);
        using var diffPerPosition = (before - after).abs().amax([0, 2]);
        var diff = diffPerPosition.data<float>().ToArray();
        for (int t = 0; t < changed; t++)
            Assert.AreEqual(0f, diff[t], 1e-6f, $"position {t} saw token {changed}");
        for (int t = changed; t < 16; t++)
            Assert.IsTrue(diff[t] > 1e-5f, $"position {t} did not see token {changed}");
    }

    [TestMethod]
    public void RotaryPositions_DependOnRelativeOffsetsOnly()
    {
        // q·k after RoPE depends on the positions only through their difference.
        var (cos, sin) = RotaryEmbedding.CreateTables(16, 8);
        using (cos) using (sin)
        {
            manual_seed(3);
            using var q = randn(1, 1, 1, 8);
            using var k = randn(1, 1, 1, 8);
            float Score(int i, int j) =>
                (RotaryEmbedding.Apply(q, cos[i], sin[i]) * RotaryEmbedding.Apply(k, cos[j], sin[j])).sum().item<float>();
            Assert.AreEqual(Score(2, 5), Score(9, 12), 1e-4f);
            Assert.AreNotEqual(Score(2, 5), Score(2, 6), 1e-3f);
            using var atZero = RotaryEmbedding.Apply(q, cos[0], sin[0]);
            Assert.IsTrue(atZero.allclose(q));
        }
    }

    [TestMethod]
    public void Loss_AtInitialisation_IsNearLogVocabulary()
    {
        manual_seed(1);
        using var model = new TransformerLanguageModel(Small(), ByteVocabulary);
        using var inputs = randint(0, ByteVocabulary, [4, 16], dtype: ScalarType.Int64);
        using var targets = randint(0, ByteVocabulary, [4, 16], dtype: ScalarType.Int64);
        using var loss = model.Loss(inputs, targets);
        Assert.AreEqual(Math.Log(ByteVocabulary), loss.item<float>(), 0.1);
    }

    [TestMethod]
    [DataRow(PositionEncoding.Learned, true)]
    [DataRow(PositionEncoding.Rotary, false)]
    public void AdamW_OverfitsATinyBatch(PositionEncoding positions, bool tied)
    {
        manual_seed(2);
        using var model = new TransformerLanguageModel(Small(positions, tied), ByteVocabulary);
        using var sequence = randint(0, ByteVocabulary, [4, 17], dtype: ScalarType.Int64);
        using var inputs = sequence[.., ..16];
        using var targets = sequence[.., 1..];
        using var optimizer = optim.AdamW(model.parameters(), lr: 1e-2);
        float first = 0, last = 0;
        for (int step = 0; step < 60; step++)
        {
            using var scope = NewDisposeScope();
            optimizer.zero_grad();
            var loss = model.Loss(inputs, targets);
            loss.backward();
            optimizer.step();
            if (step == 0) first = loss.item<float>();
            last = loss.item<float>();
        }
        Assert.IsTrue(last < 0.5f, $"loss went from {first} to {last}");
    }

    [TestMethod]
    public void Backward_ReachesEveryParameter()
    {
        using var model = new TransformerLanguageModel(Small(PositionEncoding.Learned, tied: false), ByteVocabulary);
        using var inputs = randint(0, ByteVocabulary, [2, 16], dtype: ScalarType.Int64);
        using var loss = model.Loss(inputs, inputs);
        loss.backward();
        foreach (var (name, parameter) in model.named_parameters())
        {
            using var grad = parameter.grad;
            Assert.IsNotNull(grad, name);
            Assert.IsTrue(grad.abs().sum().item<float>() > 0, $"{name} has a zero gradient");
        }
    }

    [TestMethod]
    public void TrainingStep_InsideADisposeScope_LeavesNoLiveTensors()
    {
        using var model = new TransformerLanguageModel(Small(PositionEncoding.Rotary), ByteVocabulary);
        using var inputs = randint(0, ByteVocabulary, [2, 16], dtype: ScalarType.Int64);
        using var optimizer = optim.AdamW(model.parameters(), lr: 1e-3);
        void Step()
        {
            using var scope = NewDisposeScope();
            optimizer.zero_grad();
            model.Loss(inputs, inputs).backward();
            optimizer.step();
        }
        Step();  // the optimizer creates its state on the first step
        long live = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        for (int i = 0; i < 3; i++) Step();
        Assert.AreEqual(live, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }

    [TestMethod]
    public void Initialisation_IsDeterministicUnderManualSeed()
    {
        float[] Weights(int seed)
        {
            manual_seed(seed);
            using var model = new TransformerLanguageModel(Small(PositionEncoding.Learned, tied: false), ByteVocabulary);
            using var flat = nn.utils.parameters_to_vector(model.parameters());
            return flat.data<float>().ToArray();
        }
        CollectionAssert.AreEqual(Weights(5), Weights(5));
        CollectionAssert.AreNotEqual(Weights(5), Weights(6));
    }

    [TestMethod]
    public void Initialisation_FollowsGpt2()
    {
        manual_seed(4);
        var options = Small();
        options.EmbeddingSize = 64;
        options.NumberOfLayers = 8;
        using var model = new TransformerLanguageModel(options, ByteVocabulary);
        var p = model.named_parameters().ToDictionary(x => x.name, x => x.parameter);
        Assert.AreEqual(0.02, p["token_embedding.weight"].std().item<float>(), 0.002);
        Assert.AreEqual(0.02, p["blocks.3.mlp.up.weight"].std().item<float>(), 0.002);
        Assert.AreEqual(0.02 / 4, p["blocks.3.mlp.down.weight"].std().item<float>(), 0.0005);
        Assert.AreEqual(0.02 / 4, p["blocks.0.attention.output.weight"].std().item<float>(), 0.0005);
        Assert.AreEqual(0f, p["blocks.2.attention.qkv.bias"].abs().max().item<float>());
        Assert.AreEqual(1f, p["blocks.2.mlp_norm.weight"].min().item<float>());
        Assert.AreEqual(1f, p["final_norm.weight"].max().item<float>());
    }

    [TestMethod]
    public void Constructor_ValidatesItsArguments()
    {
        var bad = Small();
        bad.NumberOfHeads = 5;
        var e = Assert.ThrowsExactly<ArgumentException>(() => new TransformerLanguageModel(bad, ByteVocabulary));
        StringAssert.Contains(e.Message, "Model.NumberOfHeads");
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new TransformerLanguageModel(Small(), 0));
    }

    [TestMethod]
    public void BlockIndexOf_ParsesBlockParameters()
    {
        Assert.AreEqual(0, TransformerLanguageModel.BlockIndexOf("blocks.0.attention.qkv.weight"));
        Assert.AreEqual(12, TransformerLanguageModel.BlockIndexOf("blocks.12.mlp_norm.bias"));
        Assert.IsNull(TransformerLanguageModel.BlockIndexOf("token_embedding.weight"));
        Assert.IsNull(TransformerLanguageModel.BlockIndexOf("final_norm.weight"));
        Assert.IsNull(TransformerLanguageModel.BlockIndexOf("head.weight"));
        Assert.IsNull(TransformerLanguageModel.BlockIndexOf("blocks.x.mlp.up.weight"));
        Assert.IsNull(TransformerLanguageModel.BlockIndexOf("blocks.-1.mlp.up.weight"));
        Assert.IsNull(TransformerLanguageModel.BlockIndexOf("blocks.3"));
        using var model = new TransformerLanguageModel(Small(), ByteVocabulary);
        var indices = model.named_parameters().Select(p => TransformerLanguageModel.BlockIndexOf(p.name)).Where(i => i is not null).Distinct();
        CollectionAssert.AreEqual(new int?[] { 0, 1 }, indices.ToArray());
    }
}
