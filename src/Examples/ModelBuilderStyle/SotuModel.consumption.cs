// The consumption half of the model, in the shape Model Builder generates (<Name>.consumption.cs): ModelInput,
// ModelOutput, a lazily created PredictionEngine and Predict. It needs only the saved model file.
using Microsoft.ML;
using Microsoft.ML.Data;

namespace ModelBuilderStyle;

public partial class SotuModel
{
    /// <summary>Model input class for SotuModel.</summary>
    public class ModelInput
    {
        [LoadColumn(0)]
        [ColumnName(@"Text")]
        public string Text { get; set; } = "";
    }

    /// <summary>Model output class for SotuModel: how surprising the text is to the model.</summary>
    public class ModelOutput
    {
        [ColumnName(@"Text")]
        public string Text { get; set; } = "";

        /// <summary>Mean negative log-likelihood per predicted token, in nats (NaN for empty text).</summary>
        [ColumnName(@"Loss")]
        public float Loss { get; set; }

        /// <summary>exp(Loss).</summary>
        [ColumnName(@"Perplexity")]
        public float Perplexity { get; set; }

        /// <summary>Tokens predicted (0 for empty text).</summary>
        [ColumnName(@"TokenCount")]
        public int TokenCount { get; set; }
    }

    /// <summary>Where the model is saved and loaded.</summary>
    public static string MLNetModelPath { get; set; } = Path.GetFullPath("SotuModel.mlnet");

    /// <summary>Created on first use. A PredictionEngine is not thread-safe: use one per thread (or a PredictionEnginePool) in a server.</summary>
    public static readonly Lazy<PredictionEngine<ModelInput, ModelOutput>> PredictEngine = new(() => CreatePredictEngine(), true);

    /// <summary>Scores one text with the saved model.</summary>
    public static ModelOutput Predict(ModelInput input)
    {
        var predEngine = PredictEngine.Value;
        return predEngine.Predict(input);
    }

    private static PredictionEngine<ModelInput, ModelOutput> CreatePredictEngine()
    {
        var mlContext = new MLContext();
        ITransformer mlModel = mlContext.Model.Load(MLNetModelPath, out var _);
        return mlContext.Model.CreatePredictionEngine<ModelInput, ModelOutput>(mlModel);
    }
}
