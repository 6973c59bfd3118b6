namespace Microsoft.ML.DiLoCo.Tests.Training;

/// <summary>
/// torchft's regression fixtures (ALGORITHM.md, "Golden vectors"): two workers, two scalar weights starting at 1.0,
/// gradient 2, inner SGD lr 1, outer SGD lr 2 without momentum, H = 6, P = 2. Shared by the engine's and the public API's tests.
/// </summary>
internal static class GoldenVectors
{
    public static readonly Dictionary<(float, int), (float[] F0, float[] F1)> Expected = new()
    {
        [(0f, 0)] = (new float[] { 1, -1, -3, -11, -13, -15, -17, -19, -21, -35, -37, -39, -41, -43, -45, -59 },
                     new float[] { 1, -1, -3, -5, -7, -9, -23, -25, -27, -29, -31, -33, -47, -49, -51, -53 }),
        [(0.5f, 0)] = (new float[] { 1, -1, -3, -8, -10, -12, -14, -16, -18, -24.5f, -26.5f, -28.5f, -30.5f, -32.5f, -34.5f, -40.25f },
                       new float[] { 1, -1, -3, -5, -7, -9, -17, -19, -21, -23, -25, -27, -32, -34, -36, -38 }),
        [(0f, 1)] = (new float[] { 1, -1, -3, -7, -9, -11, -13, -15, -17, -27, -29, -31, -33, -35, -37, -47 },
                     new float[] { 1, -1, -3, -5, -7, -9, -19, -21, -23, -25, -27, -29, -39, -41, -43, -45 }),
        [(0.5f, 1)] = (new float[] { 1, -1, -3, -6, -8, -10, -12, -14, -16, -21.5f, -23.5f, -25.5f, -27.5f, -29.5f, -31.5f, -35.75f },
                       new float[] { 1, -1, -3, -5, -7, -9, -15, -17, -19, -21, -23, -25, -29, -31, -33, -35 }),
    };

    // θ̂ after the listed step (ALGORITHM.md): fragment 0 at steps 3 and 9, fragment 1 at 6 and 12.
    public static readonly Dictionary<(float, int), (float F0At3, float F0At9, float F1At6, float F1At12)> ExpectedGlobal = new()
    {
        [(0f, 0)] = (-11, -35, -23, -47),
        [(0.5f, 0)] = (-11, -29, -23, -35),
        [(0f, 1)] = (-7, -27, -19, -39),
        [(0.5f, 1)] = (-7, -25, -19, -31),
    };
}
