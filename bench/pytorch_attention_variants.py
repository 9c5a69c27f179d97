#!/usr/bin/python3
"""Where a training step of the 3.35M byte transformer goes, and what rewriting its attention
buys, in PyTorch on one thread (docs/benchmarks.md, "Language models: Tailor's trainer vs a
plain PyTorch loop"). The model is bench/pytorch_lm_baseline.py's.
  bench/pytorch_attention_variants.py profile     # PyTorch's profiler over 3 steps, by operator
  bench/pytorch_attention_variants.py [REPS]      # A/B in one process: tokens/s of each variant
                                                  # over the plain block, REPS alternations of 3 s
Variants keep the model's arithmetic: `mask` folds the causal mask and the 1/sqrt(d) scale into
one baddbmm; `mask` with 2 or 4 query blocks also skips the masked upper triangle; `fused`
computes q, k and v as one product."""
import math
import statistics
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, __file__.rsplit("/", 1)[0])
import pytorch_lm_baseline as base  # noqa: E402

VARIANT = {"kind": "plain", "blocks": 1}
PLAIN_FORWARD = base.Block.forward


def forward(self, h, mask):
    if VARIANT["kind"] == "plain":
        return PLAIN_FORWARD(self, h, mask)
    b, t, d = h.shape
    heads, hd = self.heads, d // self.heads
    a = self.ln1(h)
    if VARIANT["kind"] == "fused":
        q, k, v = F.linear(a, torch.cat([self.q.weight, self.k.weight, self.v.weight], 0)).split(d, -1)
    else:
        q, k, v = self.q(a), self.k(a), self.v(a)
    split = lambda x: x.view(b, t, heads, hd).transpose(1, 2).reshape(b * heads, t, hd)
    q, k, v = split(q), split(k), split(v)
    size = t // VARIANT["blocks"]
    outs = []
    for j in range(VARIANT["blocks"]):
        end = (j + 1) * size
        bias = torch.zeros(size, end)
        bias[:, j * size:end] = torch.full((size, size), float("-inf")).triu(1)
        scores = torch.baddbmm(bias.expand(b * heads, size, end), q[:, j * size:end],
                               k[:, :end].transpose(1, 2), alpha=1 / math.sqrt(hd))
        outs.append(torch.bmm(torch.softmax(scores, -1), v[:, :end]))
    att = torch.cat(outs, 1) if len(outs) > 1 else outs[0]
    h = h + self.o(att.view(b, heads, t, hd).transpose(1, 2).reshape(b, t, d))
    return h + self.proj(F.gelu(self.fc(self.ln2(h))))


def main():
    torch.set_num_threads(1)
    torch.manual_seed(0)
    base.Block.forward = forward
    model = base.ByteTransformer(**base.SHAPES["default"])
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    seqs = torch.randint(32, 127, (16, 257))

    def step():
        opt.zero_grad()
        logits = model(seqs[:, :-1])
        F.cross_entropy(logits.reshape(-1, base.VOCAB), seqs[:, 1:].reshape(-1)).backward()
        opt.step()

    if len(sys.argv) > 1 and sys.argv[1] == "profile":
        step()
        from torch.profiler import ProfilerActivity, profile
        with profile(activities=[ProfilerActivity.CPU]) as p:
            for _ in range(3):
                step()
        print(p.key_averages().table(sort_by="self_cpu_time_total", row_limit=16))
        return
    reps = int(sys.argv[1]) if len(sys.argv) > 1 else 4
    variants = [("plain", 1), ("mask", 1), ("mask", 2), ("mask", 4), ("fused", 1), ("fused", 4)]
    rates = {v: [] for v in variants}
    for _ in range(reps):
        for v in variants:
            VARIANT["kind"], VARIANT["blocks"] = v
            step()
            start, steps = time.perf_counter(), 0
            while time.perf_counter() - start < 3:
                step()
                steps += 1
            rates[v].append(16 * 256 * steps / (time.perf_counter() - start))
    plain = statistics.median(rates[("plain", 1)])
    for (kind, blocks), r in rates.items():
        print(f"{kind:6s} blocks={blocks} tokens_per_second={statistics.median(r):8.0f} "
              f"ratio={statistics.median(r) / plain:.3f}")


if __name__ == "__main__":
    main()
