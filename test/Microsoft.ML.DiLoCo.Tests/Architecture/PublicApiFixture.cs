namespace Microsoft.ML.DiLoCo.Tests.Architecture.PublicApiFixture;

// Types for PublicApiTests to list: one of each kind of member, visible and not. Never used otherwise.

/// <summary>An unsealed class: its protected members are part of what a subclass sees.</summary>
public class Widget : IDisposable
{
    public const int Limit = 3;
    public static readonly string Name = "widget";
#pragma warning disable CS0649 // never assigned: only its visibility matters
    protected int _count;
    internal int Hidden;
#pragma warning restore CS0649

    public Widget(int size, string? label = null) => (Size, Label) = (size, label ?? "");

    protected Widget() { }

    public enum Kind : byte { A = 1, B = 2 }

    public event EventHandler? Changed;

    public int Size { get; init; }

    public string Label { get; protected set; } = "";

    internal int Internal { get; set; }

    public virtual bool TryTake(out int value, params int[] more) => (value = more.Length) > 0;

    public void Configure(Kind kind = Kind.B, CancellationToken token = default, long? limit = null) { }

    public void Dispose() { }

    protected virtual void Raise() => Changed?.Invoke(this, EventArgs.Empty);

    internal void NotListed() { }

    private protected void AlsoNotListed() { }

    protected sealed class Part { }

    private sealed class Secret { }
}

/// <summary>A sealed class: nothing protected can be reached, so nothing protected is listed.</summary>
public sealed class SealedWidget : Widget
{
    public override bool TryTake(out int value, params int[] more) => base.TryTake(out value, more);

    protected override void Raise() { }
}

/// <summary>Internal: not listed at all.</summary>
internal sealed class Invisible
{
    public int Visible;
}
