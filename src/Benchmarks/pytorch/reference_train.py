#!/usr/bin/python3
"""PyTorch peer of our transformer for the speed benchmark (issue 5, item 4).

Same architecture as src/Microsoft.ML.DiLoCo/Model (pre-norm blocks, learned positions, tied embeddings, GELU MLP,
LayerNorm and linear biases, GPT-2 init), same optimizer (AdamW, betas 0.9/0.95, weight decay 0.1 on matrices,
gradient clipping 1.0), same batch and context, random byte tokens. Prints one JSON line with tokens/s of inner steps.
PyTorch 1.13 (Debian) has no fused attention: attention is the explicit masked softmax.
Run it with the same thread count and allocator settings as the .NET side (see build/bench.sh).
"""
import argparse, json, math, statistics, time
import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, d, heads, ratio):
        super().__init__()
        self.heads = heads
        self.attention_norm = nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d)
        self.output = nn.Linear(d, d)
        self.mlp_norm = nn.LayerNorm(d)
        self.up = nn.Linear(d, ratio * d)
        self.down = nn.Linear(ratio * d, d)

    def forward(self, x, mask):
        b, t, d = x.shape
        q, k, v = self.qkv(self.attention_norm(x)).split(d, dim=2)
        q, k, v = (z.view(b, t, self.heads, d // self.heads).transpose(1, 2) for z in (q, k, v))
        scores = (q @ k.transpose(-2, -1)) / math.sqrt(d // self.heads)
        scores = scores.masked_fill(mask[:t, :t], float("-inf"))
        y = (scores.softmax(-1) @ v).transpose(1, 2).reshape(b, t, d)
        x = x + self.output(y)
        return x + self.down(F.gelu(self.up(self.mlp_norm(x))))


class GPT(nn.Module):
    def __init__(self, vocab, context, d, layers, heads, ratio=4):
        super().__init__()
        self.token_embedding = nn.Embedding(vocab, d)
        self.position_embedding = nn.Embedding(context, d)
        self.blocks = nn.ModuleList(Block(d, heads, ratio) for _ in range(layers))
        self.final_norm = nn.LayerNorm(d)
        self.register_buffer("mask", torch.triu(torch.ones(context, context, dtype=torch.bool), 1), persistent=False)
        for name, p in self.named_parameters():
            if p.dim() >= 2:
                std = 0.02 / math.sqrt(2 * layers) if name.endswith(("output.weight", "down.weight")) else 0.02
                nn.init.normal_(p, 0.0, std)
            elif name.endswith("bias"):
                nn.init.zeros_(p)

    def embed(self, tokens):
        return self.token_embedding(tokens) + self.position_embedding(torch.arange(tokens.shape[1]))

    def body(self, x):
        for block in self.blocks:
            x = block(x, self.mask)
        return self.final_norm(x)

    def head(self, x):
        return x @ self.token_embedding.weight.t()

    def forward(self, tokens):
        return self.head(self.body(self.embed(tokens)))


PHASES = ("batch", "embedding forward", "blocks forward", "head + loss forward", "zero grad", "head + loss backward",
          "blocks backward", "embedding backward", "clip", "AdamW", "dispose")


def kernels(vocab, width, rows, repetitions):
    """The head's kernels alone, at the shapes of one step (rows = batch x context): median seconds each."""
    h, w = torch.randn(rows, width), torch.randn(vocab, width) * 0.02
    targets, g = torch.randint(0, vocab, (rows,)), torch.randn(rows, vocab)
    logits = (h @ w.t()).requires_grad_()

    def cross_entropy_both():
        F.cross_entropy(logits, targets).backward()
        logits.grad = None
    cases = {
        "logits GEMM x·Wᵀ": lambda: h @ w.t(),
        "logits GEMM W·xᵀ (transposed)": lambda: w @ h.t(),
        "W·xᵀ, then copied to x·Wᵀ's layout": lambda: (w @ h.t()).t().contiguous(),
        "log-softmax": lambda: logits.detach().log_softmax(-1),
        "cross-entropy forward + backward": cross_entropy_both,
        "gradient GEMM G·W": lambda: g @ w,
        "gradient GEMM Gᵀ·x": lambda: g.t() @ h,
    }
    times = {name: [] for name in cases}
    for _ in range(repetitions + 1):  # the first round warms up
        for name, f in cases.items():
            started = time.perf_counter()
            f()
            times[name].append(time.perf_counter() - started)
    return {name: statistics.median(v[1:]) for name, v in times.items()}


def plain_step(model, opt, batch, vocab):
    logits = model(batch[:, :-1])
    loss = F.cross_entropy(logits.reshape(-1, vocab), batch[:, 1:].reshape(-1))
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    return loss


def profiled_step(model, opt, data, step, vocab, times):
    """The same step cut at the embedding output and the final norm's output (detached leaves), each phase timed."""
    marks = [time.perf_counter()]
    batch = data[step]
    inputs, targets = batch[:, :-1], batch[:, 1:].reshape(-1)
    marks.append(time.perf_counter())
    x0 = model.embed(inputs)
    x0_leaf = x0.detach().requires_grad_()
    marks.append(time.perf_counter())
    h = model.body(x0_leaf)
    h_leaf = h.detach().requires_grad_()
    marks.append(time.perf_counter())
    loss = F.cross_entropy(model.head(h_leaf).reshape(-1, vocab), targets)
    marks.append(time.perf_counter())
    opt.zero_grad(set_to_none=True)
    marks.append(time.perf_counter())
    loss.backward()
    marks.append(time.perf_counter())
    h.backward(h_leaf.grad)
    marks.append(time.perf_counter())
    x0.backward(x0_leaf.grad)
    marks.append(time.perf_counter())
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    marks.append(time.perf_counter())
    opt.step()
    marks.append(time.perf_counter())
    value = loss.item()
    del batch, inputs, targets, x0, x0_leaf, h, h_leaf, loss
    marks.append(time.perf_counter())
    for name, a, b in zip(PHASES, marks, marks[1:]):
        times[name].append(b - a)
    times["whole step (cut)"].append(marks[-1] - marks[0])
    return value


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--vocab", type=int, default=257)
    p.add_argument("--context", type=int, default=128)
    p.add_argument("--width", type=int, default=128)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--steps", type=int, default=60)
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--profile", action="store_true", help="alternate plain and phase-timed steps; print median seconds per phase")
    p.add_argument("--kernels", type=int, default=0, help="time the head's kernels this many times each instead of training")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    model = GPT(a.vocab, a.context, a.width, a.layers, a.heads)
    decay = [p for p in model.parameters() if p.dim() >= 2]
    other = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": other, "weight_decay": 0.0}], lr=1e-3, betas=(0.9, 0.95))
    data = torch.randint(0, a.vocab, (a.steps + a.warmup, a.batch, a.context + 1))
    params = sum(p.numel() for p in model.parameters())
    if a.kernels:
        print(json.dumps({"peer": "pytorch", "torch": torch.__version__, "kernel_seconds": kernels(a.vocab, a.width, a.batch * a.context, a.kernels)}))
        return
    if a.profile:
        times = {name: [] for name in PHASES + ("whole step (cut)", "whole step (plain)")}
        for step in range(a.steps + a.warmup):
            if step == a.warmup:
                times = {name: [] for name in times}
            if step % 2 == 0:
                started = time.perf_counter()
                loss = plain_step(model, opt, data[step], a.vocab).item()
                times["whole step (plain)"].append(time.perf_counter() - started)
            else:
                loss = profiled_step(model, opt, data, step, a.vocab, times)
        print(json.dumps({"peer": "pytorch", "torch": torch.__version__, "parameters": params, "steps": a.steps,
                          "median_seconds": {k: statistics.median(v) for k, v in times.items()},
                          "spread_seconds": {k: [min(v), max(v)] for k, v in times.items()}, "loss": loss}))
        return
    step_seconds = []
    for step in range(a.steps + a.warmup):
        started = time.perf_counter()
        loss = plain_step(model, opt, data[step], a.vocab).item()
        if step >= a.warmup:
            step_seconds.append(time.perf_counter() - started)
    seconds = sum(step_seconds)
    print(json.dumps({"peer": "pytorch", "torch": torch.__version__, "parameters": params, "tokens_per_second": a.steps * a.batch * a.context / seconds,
                      "median_step_seconds": statistics.median(step_seconds), "seconds": seconds, "steps": a.steps, "loss": loss}))


if __name__ == "__main__":
    main()
