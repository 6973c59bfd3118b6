namespace Microsoft.ML.DiLoCo.Tests.EndToEnd;

/// <summary>Text the tests make themselves: simple sentences from a small grammar, so a tiny model learns fast.</summary>
internal static class SyntheticText
{
    private static readonly string[] Subjects = { "the cat", "a dog", "my friend", "the old king", "our teacher" };
    private static readonly string[] Verbs = { "sees", "likes", "finds", "paints", "follows" };
    private static readonly string[] Objects = { "the red ball", "a small house", "the river", "some bread", "the moon" };

    public static TextRow[] Documents(int count, int sentencesPerDocument, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, count).Select(_ => new TextRow
        {
            Text = string.Join(" ", Enumerable.Range(0, sentencesPerDocument).Select(_ =>
                $"{Subjects[random.Next(Subjects.Length)]} {Verbs[random.Next(Verbs.Length)]} {Objects[random.Next(Objects.Length)]}.")),
        }).ToArray();
    }

    public sealed class TextRow
    {
        public string Text { get; set; } = "";
    }

    public sealed class ScoredRow
    {
        public string Text { get; set; } = "";
        public float Loss { get; set; }
        public float Perplexity { get; set; }
        public int TokenCount { get; set; }
    }
}
