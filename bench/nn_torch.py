#!/usr/bin/env python3
"""PyTorch twin of `crates/autodidact-nn/examples/speed.rs`: the same transformer, batch and
thread count, timed the same way, printing the same lines.

    bench/.venv-torch/bin/python bench/nn_torch.py --threads 1 [--steps 20] [--expect-params N]

The model mirrors `crates/autodidact-nn/src/model.rs` (d_model 128, 4 layers, 4 heads, d_ff 512,
vocab 16, 64 positions):

- learned token and position embeddings, added; pre-norm blocks
  `x + attn(ln1(x))`, `x + mlp(ln2(x))`; a final LayerNorm; an untied output head;
- LayerNorm with a gain and no bias, eps 1e-5 (`ops::LAYER_NORM_EPS`);
- bias-free linears q, k, v, out, mlp up / down (ReLU between them) and head;
- causal softmax attention with scale 1/sqrt(head_dim) (`F.scaled_dot_product_attention`,
  PyTorch's own fused CPU kernel, with `--attn sdpa`, the default; `--attn manual` spells it
  out as matmul, mask, softmax, matmul);
- init as `model.rs`: N(0, 0.02) for embeddings and linears, N(0, 0.02 / sqrt(2 n_layers)) for
  the attention `out` and MLP `down` projections, gains 1 (same distributions, not the same
  values: the generators differ);
- loss: masked mean NLL over the positions that carry loss (every predicted position here);
- AdamW as `TrainConfig::default()`: betas (0.9, 0.99), eps 1e-8, weight decay 0.1 on the
  2-D weights except the embeddings (q, k, v, out, up, down, head), none on embeddings and
  gains; lr 1e-3 (what speed.rs passes); global-norm gradient clipping at 1.0;
- sampling: prompts decoded as one batch, temperature 1, one token per step, a KV cache of
  preallocated per-layer buffers written in place (as `model::KvCache`); the last new token
  is not fed back (as `sample.rs`).

float32, eager mode: no torch.compile, no TorchScript.
Timing as speed.rs: one warm-up training step, then `--steps` timed steps; per sampling case
one warm-up call, then 5 timed calls.
"""

import argparse
import math
import os
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

VOCAB, D_MODEL, N_LAYERS, N_HEADS, D_FF, SEQ, BATCH = 16, 128, 4, 4, 512, 64, 64
INIT_STD = 0.02
LAYER_NORM_EPS = 1e-5
SAMPLING_CASES = [(8, 5), (32, 32)]
SAMPLING_ROUNDS = 5


def expected_params(vocab, d, n_layers, d_ff, max_seq_len):
    """`Config::n_params` of crates/autodidact-nn/src/config.rs."""
    per_block = 2 * d + 4 * d * d + 2 * d * d_ff
    return vocab * d + max_seq_len * d + n_layers * per_block + d + vocab * d


class KvCache:
    """Per-layer (b, h, max_len, head_dim) key and value buffers, filled in place."""

    def __init__(self, n_layers, b, h, max_len, hd):
        self.k = [torch.empty(b, h, max_len, hd) for _ in range(n_layers)]
        self.v = [torch.empty(b, h, max_len, hd) for _ in range(n_layers)]
        self.len = 0


class Attention(nn.Module):
    def __init__(self, attn_impl):
        super().__init__()
        self.q = nn.Linear(D_MODEL, D_MODEL, bias=False)
        self.k = nn.Linear(D_MODEL, D_MODEL, bias=False)
        self.v = nn.Linear(D_MODEL, D_MODEL, bias=False)
        self.out = nn.Linear(D_MODEL, D_MODEL, bias=False)
        self.h = N_HEADS
        self.hd = D_MODEL // N_HEADS
        self.attn_impl = attn_impl

    def forward(self, x, cache=None, layer=0):
        b, t, _ = x.shape
        q = self.q(x).view(b, t, self.h, self.hd).transpose(1, 2)  # (b, h, t, hd)
        k = self.k(x).view(b, t, self.h, self.hd).transpose(1, 2)
        v = self.v(x).view(b, t, self.h, self.hd).transpose(1, 2)
        offset = 0
        if cache is not None:
            offset = cache.len
            cache.k[layer][:, :, offset:offset + t] = k
            cache.v[layer][:, :, offset:offset + t] = v
            k = cache.k[layer][:, :, :offset + t]
            v = cache.v[layer][:, :, :offset + t]
        scale = 1.0 / math.sqrt(self.hd)
        if self.attn_impl == "sdpa":
            if offset == 0:
                y = F.scaled_dot_product_attention(q, k, v, is_causal=True, scale=scale)
            elif t == 1:  # one new query sees every cached key
                y = F.scaled_dot_product_attention(q, k, v, scale=scale)
            else:
                mask = causal_mask(t, offset + t, offset)
                y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=scale)
        else:
            scores = (q @ k.transpose(-2, -1)) * scale  # (b, h, t, offset + t)
            if t > 1:
                scores = scores.masked_fill(~causal_mask(t, offset + t, offset), float("-inf"))
            y = torch.softmax(scores, dim=-1) @ v
        return self.out(y.transpose(1, 2).reshape(b, t, D_MODEL))


def causal_mask(t_q, t_k, offset):
    """True where query i (at position offset + i) may see key j."""
    return torch.ones(t_q, t_k, dtype=torch.bool).tril(diagonal=offset)


class Mlp(nn.Module):
    def __init__(self):
        super().__init__()
        self.up = nn.Linear(D_MODEL, D_FF, bias=False)
        self.down = nn.Linear(D_FF, D_MODEL, bias=False)

    def forward(self, x):
        return self.down(F.relu(self.up(x)))


def layer_norm():
    return nn.LayerNorm(D_MODEL, eps=LAYER_NORM_EPS, elementwise_affine=True, bias=False)


class Block(nn.Module):
    def __init__(self, attn_impl):
        super().__init__()
        self.ln1 = layer_norm()
        self.attn = Attention(attn_impl)
        self.ln2 = layer_norm()
        self.mlp = Mlp()

    def forward(self, x, cache=None, layer=0):
        x = x + self.attn(self.ln1(x), cache, layer)
        return x + self.mlp(self.ln2(x))


class Model(nn.Module):
    def __init__(self, attn_impl):
        super().__init__()
        self.tok_emb = nn.Embedding(VOCAB, D_MODEL)
        self.pos_emb = nn.Embedding(SEQ, D_MODEL)
        self.blocks = nn.ModuleList(Block(attn_impl) for _ in range(N_LAYERS))
        self.ln_f = layer_norm()
        self.head = nn.Linear(D_MODEL, VOCAB, bias=False)
        out_std = INIT_STD / math.sqrt(2 * N_LAYERS)
        for name, p in self.named_parameters():
            if p.dim() == 1:  # LayerNorm gains
                nn.init.ones_(p)
            elif name.endswith("attn.out.weight") or name.endswith("mlp.down.weight"):
                nn.init.normal_(p, 0.0, out_std)
            else:
                nn.init.normal_(p, 0.0, INIT_STD)

    def forward(self, tokens, cache=None, last_only=False):
        """tokens (b, t) -> logits (b, t, vocab); with a cache, after its positions; with
        `last_only`, the head runs on the last position alone: (b, 1, vocab) (as
        `Model::forward_cached`)."""
        b, t = tokens.shape
        offset = cache.len if cache is not None else 0
        pos = torch.arange(offset, offset + t)
        x = self.tok_emb(tokens) + self.pos_emb(pos)
        for i, block in enumerate(self.blocks):
            x = block(x, cache, i)
        if cache is not None:
            cache.len += t
        x = self.ln_f(x)
        return self.head(x[:, -1:] if last_only else x)


def masked_nll(logits, targets, mask):
    """Mean negative log-likelihood over the positions where `mask` is true."""
    nll = F.cross_entropy(logits.reshape(-1, VOCAB), targets.reshape(-1), reduction="none")
    w = mask.reshape(-1).to(nll.dtype)
    return (nll * w).sum() / w.sum()


@torch.inference_mode()
def generate(model, prompts, max_new, temperature, gen):
    """Batched sampling with a KV cache, one token per step; returns (b, max_new) new tokens."""
    b, t = prompts.shape
    cache = KvCache(N_LAYERS, b, N_HEADS, SEQ, D_MODEL // N_HEADS)
    inp = prompts
    out = []
    for step in range(max_new):
        logits = model(inp, cache, last_only=True)[:, -1]  # (b, vocab)
        probs = torch.softmax(logits / temperature, dim=-1)
        nxt = torch.multinomial(probs, 1, generator=gen)  # (b, 1)
        out.append(nxt)
        if step + 1 == max_new:
            break
        inp = nxt
    return torch.cat(out, dim=1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, default=int(os.environ.get("TORCH_THREADS", "1")),
                    help="torch.set_num_threads (default $TORCH_THREADS or 1)")
    ap.add_argument("--steps", type=int, default=int(os.environ.get("SPEED_STEPS", "20")),
                    help="timed training steps (default $SPEED_STEPS or 20)")
    ap.add_argument("--attn", choices=["sdpa", "manual"], default="sdpa")
    ap.add_argument("--adamw", choices=["default", "foreach", "fused"], default="default",
                    help="torch.optim.AdamW implementation (default: PyTorch's own choice, "
                    "which on the CPU is the per-parameter loop)")
    ap.add_argument("--expect-params", type=int, default=None,
                    help="parameter count of the candle model (default: Config::n_params's "
                    "formula); the script fails if the PyTorch model's differs")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = Model(args.attn)
    n_params = sum(p.numel() for p in model.parameters())
    ours = args.expect_params or expected_params(VOCAB, D_MODEL, N_LAYERS, D_FF, SEQ)
    print(f"model: {n_params} parameters (candle: {ours}), d_model {D_MODEL}, {N_LAYERS} layers, "
          f"{N_HEADS} heads; torch.set_num_threads({torch.get_num_threads()}), "
          f"torch {torch.__version__}, float32, eager (no torch.compile), attention {args.attn}, "
          f"AdamW {args.adamw}")
    if n_params != ours:
        sys.exit(f"error: the PyTorch model has {n_params} parameters, the candle model {ours}")

    decay = [p for n, p in model.named_parameters()
             if p.dim() == 2 and not n.startswith(("tok_emb", "pos_emb"))]
    no_decay = [p for n, p in model.named_parameters()
                if not (p.dim() == 2 and not n.startswith(("tok_emb", "pos_emb")))]
    impl = {"default": {}, "foreach": {"foreach": True}, "fused": {"fused": True}}[args.adamw]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
        lr=1e-3, betas=(0.9, 0.99), eps=1e-8, **impl)

    gen = torch.Generator().manual_seed(1)
    seqs = torch.randint(0, VOCAB, (BATCH, SEQ + 1), generator=gen)
    inputs, targets = seqs[:, :-1], seqs[:, 1:]
    mask = torch.ones(BATCH, SEQ, dtype=torch.bool)  # loss on every predicted position

    def train_step():
        opt.zero_grad(set_to_none=True)
        loss = masked_nll(model(inputs), targets, mask)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return loss.item()

    train_step()  # warm-up
    start = time.perf_counter()
    loss = 0.0
    for _ in range(args.steps):
        loss = train_step()
    secs = time.perf_counter() - start
    print(f"training: {args.steps / secs:.2f} steps/s, {args.steps * BATCH * SEQ / secs:.0f} "
          f"tokens/s (batch {BATCH} x {SEQ}, {args.steps} steps; last loss {loss:.9f})")

    model.eval()
    for prompt_len, new in SAMPLING_CASES:
        prompts = torch.randint(0, VOCAB, (BATCH, prompt_len), generator=gen)
        sgen = torch.Generator().manual_seed(0)
        generate(model, prompts, new, 1.0, sgen)  # warm-up
        start = time.perf_counter()
        for _ in range(SAMPLING_ROUNDS):
            generate(model, prompts, new, 1.0, sgen)
        secs = time.perf_counter() - start
        print(f"sampling: {SAMPLING_ROUNDS * BATCH / secs:.0f} samples/s, "
              f"{SAMPLING_ROUNDS * BATCH * new / secs:.0f} new tokens/s (batch {BATCH}, "
              f"prompt {prompt_len}, {new} new tokens, KV cache)")


if __name__ == "__main__":
    main()
