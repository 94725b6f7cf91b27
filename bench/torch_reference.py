#!/usr/bin/env python3
"""PyTorch peer for `ivr engine-bench`: the same two workloads, the same shapes, in eager
PyTorch, so the engine's figures can be read as ratios measured in one run.

  train   the bench GPT (vocab 128, d 128, 4 layers, 4 heads, MLP x4, context 192, learned
          positions, pre-LN, exact GELU, untied head), batch 32 x 192 tokens, masked
          cross-entropy, backward, global-norm clipping and AdamW (betas 0.9/0.95, wd 0.1):
          median ms of timed steps after warm-up, as src/engine/bench.ts measures ours.
  decode  the default VLM (vocab 112, d 128, 4 layers, 4 heads, 48x48 image in 8x8 patches
          -> 36 image tokens with row/column embeddings, ALiBi over text), batch 64: prefill
          of image + 12 prompt tokens, then 160 sampled tokens (T = 1) with a preallocated
          KV cache that each step reads only up to the filled length, as a careful eager
          implementation would; the clock covers prefill and decode, as src/model/
          decode-bench.ts does for ours.

Used only by the benchmark, never by the product or its tests. Prints one JSON object.
Run it with OpenBLAS (Debian's libopenblas0-pthread): with the reference BLAS torch is
an order of magnitude slower, which would flatter the engine.
"""
import argparse
import json
import math
import statistics
import time

import torch
import torch.nn.functional as F


class Block(torch.nn.Module):
    def __init__(self, d, heads, mlp_ratio):
        super().__init__()
        self.heads = heads
        self.ln1 = torch.nn.LayerNorm(d)
        self.qkv = torch.nn.Linear(d, 3 * d)
        self.proj = torch.nn.Linear(d, d)
        self.ln2 = torch.nn.LayerNorm(d)
        self.fc = torch.nn.Linear(d, mlp_ratio * d)
        self.out = torch.nn.Linear(mlp_ratio * d, d)

    def split(self, x):
        b, t, d = x.shape
        return x.view(b, t, self.heads, d // self.heads).transpose(1, 2)

    def attention(self, x, bias, cache=None, used=0):
        """bias broadcasts to [B, H, Tq, Tk]; with a cache, keys/values of x are written at
        [used, used + Tq) and attention reads [0, used + Tq)."""
        b, t, d = x.shape
        q, k, v = (self.split(z) for z in self.qkv(self.ln1(x)).split(d, dim=-1))
        if cache is not None:
            kc, vc = cache
            kc[:, :, used:used + t] = k
            vc[:, :, used:used + t] = v
            k, v = kc[:, :, :used + t], vc[:, :, :used + t]
        att = (q @ k.transpose(-1, -2)) * (1.0 / math.sqrt(d // self.heads)) + bias
        y = att.softmax(-1) @ v
        return x + self.proj(y.transpose(1, 2).reshape(b, t, d))

    def forward(self, x, bias, cache=None, used=0):
        x = self.attention(x, bias, cache, used)
        return x + self.out(F.gelu(self.fc(self.ln2(x))))


class Gpt(torch.nn.Module):
    def __init__(self, vocab=128, d=128, layers=4, heads=4, mlp_ratio=4, context=192):
        super().__init__()
        self.tok = torch.nn.Embedding(vocab, d)
        self.pos = torch.nn.Parameter(torch.randn(context, d) * 0.02)
        self.blocks = torch.nn.ModuleList(Block(d, heads, mlp_ratio) for _ in range(layers))
        self.lnf = torch.nn.LayerNorm(d)
        self.head = torch.nn.Linear(d, vocab, bias=False)

    def forward(self, ids):
        t = ids.shape[1]
        x = self.tok(ids) + self.pos[:t]
        bias = torch.full((t, t), -1e9).triu(1)
        for blk in self.blocks:
            x = blk(x, bias)
        return self.head(self.lnf(x))


def bench_train(threads, steps, batch=32, context=192, vocab=128):
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = Gpt(vocab=vocab, context=context)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1)
    g = torch.Generator().manual_seed(2)
    ids = torch.randint(0, vocab, (batch, context), generator=g)
    targets = torch.cat([torch.zeros(batch, 1, dtype=torch.long), ids[:, :-1]], dim=1)  # predict the previous token
    mask = torch.ones(batch, context)

    def step():
        logits = model(ids)
        logp = logits.log_softmax(-1).gather(-1, targets.unsqueeze(-1)).squeeze(-1)
        loss = -(logp * mask).sum() / mask.sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return loss.item()

    for _ in range(2):
        step()
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    ms = statistics.median(times) * 1000
    return {"ms": ms, "tokens_per_s": batch * context / (ms / 1000)}


class Vlm(torch.nn.Module):
    def __init__(self, vocab=112, d=128, layers=4, heads=4, mlp_ratio=4, image=48, patch=8):
        super().__init__()
        self.side = image // patch
        self.heads = heads
        self.patch = torch.nn.Linear(patch * patch * 3, d)
        self.row = torch.nn.Parameter(torch.randn(self.side, d) * 0.02)
        self.col = torch.nn.Parameter(torch.randn(self.side, d) * 0.02)
        self.tok = torch.nn.Embedding(vocab, d)
        self.blocks = torch.nn.ModuleList(Block(d, heads, mlp_ratio) for _ in range(layers))
        self.lnf = torch.nn.LayerNorm(d)
        self.head = torch.nn.Linear(d, vocab, bias=False)
        self.slopes = torch.tensor([-(2 ** (-8 * (h + 1) / heads)) for h in range(heads)]).view(1, heads, 1, 1)

    def embed_image(self, patches):
        pos = self.row.repeat_interleave(self.side, 0) + self.col.repeat(self.side, 1)
        return self.patch(patches) + pos

    def run(self, x, bias, caches, used):
        for blk, cache in zip(self.blocks, caches):
            x = blk(x, bias, cache, used)
        return self.head(self.lnf(x[:, -1]))


@torch.inference_mode()
def bench_decode(threads, batch=64, new_tokens=160, prompt_len=12, vocab=112, d=128, layers=4, heads=4):
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = Vlm(vocab=vocab, d=d, layers=layers, heads=heads).eval()
    g = torch.Generator().manual_seed(3)
    patches = (torch.rand(36, 192, generator=g) * 2 - 1).expand(batch, 36, 192)
    prompt = torch.randint(4, 93, (prompt_len,), generator=g).expand(batch, prompt_len)
    n_img = 36
    slots = n_img + prompt_len + new_tokens

    def generate(steps):
        caches = [(torch.zeros(batch, heads, slots, d // heads), torch.zeros(batch, heads, slots, d // heads)) for _ in range(layers)]
        # Prefill: the image (full attention inside it), then the prompt (causal, ALiBi
        # among text tokens, distance-free to the image).
        model.run(model.embed_image(patches), torch.zeros(1, 1, 1, 1), caches, 0)
        qpos = torch.arange(prompt_len, dtype=torch.float32)
        dist = qpos.view(-1, 1) - qpos.view(1, -1)
        to_image = torch.zeros(prompt_len, n_img)
        causal = torch.cat([to_image, torch.full((prompt_len, prompt_len), -1e9).triu(1)], dim=1)
        alibi = torch.cat([to_image, dist], dim=1) * model.slopes
        text_bias = causal.view(1, 1, prompt_len, -1) + alibi
        logits = model.run(model.tok(prompt), text_bias, caches, n_img)
        used = n_img + prompt_len
        out = []
        for s in range(steps):
            tok = torch.multinomial(logits.softmax(-1), 1)
            out.append(tok)
            if s == steps - 1:
                break
            # One new text token at text position prompt_len + s against every filled slot.
            kpos = torch.arange(used + 1 - n_img, dtype=torch.float32)
            dist = torch.cat([torch.zeros(n_img), (prompt_len + s) - kpos])
            logits = model.run(model.tok(tok), (dist * model.slopes).view(1, heads, 1, -1), caches, used)
            used += 1
        return torch.cat(out, dim=1)

    generate(new_tokens)  # warm-up of the same size, as the engine's decode bench does
    t0 = time.perf_counter()
    toks = generate(new_tokens)
    seconds = time.perf_counter() - t0
    return {"seconds": seconds, "tokens_per_s": toks.numel() / seconds}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    ap.add_argument("--steps", type=int, default=12, help="timed train steps (median reported)")
    ap.add_argument("--skip-train", action="store_true")
    ap.add_argument("--skip-decode", action="store_true")
    a = ap.parse_args()
    out = {"torch": torch.__version__, "threads": a.threads, "blas": blas()}
    if not a.skip_train:
        tr = bench_train(a.threads, a.steps)
        out.update(train_step_ms=tr["ms"], train_tokens_per_s=tr["tokens_per_s"])
    if not a.skip_decode:
        dec = bench_decode(a.threads)
        out.update(decode_seconds=dec["seconds"], decode_tokens_per_s=dec["tokens_per_s"])
    print(json.dumps(out))


def blas():
    """The BLAS library this process actually mapped (Debian's torch links libblas.so.3,
    which the alternatives system points at OpenBLAS or at the reference BLAS)."""
    import os
    try:
        with open("/proc/self/maps") as f:
            libs = {os.path.realpath(line.split()[-1]) for line in f if "blas" in line.split()[-1]}
        return ", ".join(sorted(libs)) or "none mapped"
    except OSError:
        return "unknown"


if __name__ == "__main__":
    main()
