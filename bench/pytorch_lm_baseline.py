#!/usr/bin/python3
"""Tailor's byte transformer (models/transformer_spec.h) trained by a plain PyTorch loop: the
same shapes, operations and batch (16 texts of 255 random printable bytes, BOS first, EOS last;
256 scored tokens each), SGD lr 0.05, one intra-op thread. Prints one line:
model=<name> tokens_per_second=<T>.
  bench/pytorch_lm_baseline.py [tiny|default] [SECONDS]"""
import math
import sys
import time

import torch
import torch.nn.functional as F

SHAPES = {"tiny": dict(layers=2, d=32, heads=2, context=64, ratio=2),
          "default": dict(layers=4, d=256, heads=4, context=256, ratio=4)}
VOCAB, BOS, EOS = 258, 256, 257


class Block(torch.nn.Module):
    def __init__(self, d, heads, ratio):
        super().__init__()
        self.heads = heads
        self.ln1 = torch.nn.LayerNorm(d)
        self.q, self.k, self.v, self.o = (torch.nn.Linear(d, d, bias=False) for _ in range(4))
        self.ln2 = torch.nn.LayerNorm(d)
        self.fc = torch.nn.Linear(d, d * ratio)
        self.proj = torch.nn.Linear(d * ratio, d)

    def forward(self, h, mask):
        b, t, d = h.shape
        a = self.ln1(h)
        split = lambda x: x.view(b, t, self.heads, d // self.heads).transpose(1, 2)
        q, k, v = split(self.q(a)), split(self.k(a)), split(self.v(a))
        scores = (q @ k.transpose(-2, -1)) / math.sqrt(d // self.heads)
        att = torch.softmax(scores.masked_fill(mask, float("-inf")), -1) @ v
        h = h + self.o(att.transpose(1, 2).reshape(b, t, d))
        return h + self.proj(F.gelu(self.fc(self.ln2(h))))


class ByteTransformer(torch.nn.Module):
    def __init__(self, layers, d, heads, context, ratio):
        super().__init__()
        self.tok_emb = torch.nn.Embedding(VOCAB, d)
        self.pos_emb = torch.nn.Embedding(context, d)
        self.blocks = torch.nn.ModuleList(Block(d, heads, ratio) for _ in range(layers))
        self.ln_f = torch.nn.LayerNorm(d)
        self.lm_head = torch.nn.Linear(d, VOCAB, bias=False)

    def forward(self, ids):
        t = ids.shape[1]
        h = self.tok_emb(ids) + self.pos_emb.weight[:t].unsqueeze(0)
        mask = torch.ones(t, t, dtype=torch.bool).triu(1)
        for block in self.blocks:
            h = block(h, mask)
        return self.lm_head(self.ln_f(h))


def main():
    name = sys.argv[1] if len(sys.argv) > 1 else "tiny"
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 6.0
    shape = SHAPES[name]
    torch.set_num_threads(1)
    torch.manual_seed(1)
    length = shape["context"] - 1
    texts = torch.randint(32, 127, (256, length))
    seqs = torch.cat([torch.full((256, 1), BOS), texts, torch.full((256, 1), EOS)], 1)
    model = ByteTransformer(**shape)
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    model.train()
    tokens = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        order = torch.randperm(256)
        for i in range(0, 256, 16):
            batch = seqs[order[i:i + 16]]
            opt.zero_grad()
            logits = model(batch[:, :-1])
            loss = F.cross_entropy(logits.reshape(-1, VOCAB), batch[:, 1:].reshape(-1))
            loss.backward()
            opt.step()
            tokens += batch.shape[0] * (batch.shape[1] - 1)
    elapsed = time.perf_counter() - start
    print(f"model={name} tokens_per_second={tokens / elapsed:.1f}")


if __name__ == "__main__":
    main()
