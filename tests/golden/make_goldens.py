#!/usr/bin/python3
"""PyTorch golden files for tests/golden/golden_test.cc: logits, loss, every gradient and a 10-step SGD loss
curve for one small model of each family, built EXACTLY as docs/model-names.md fixes them (same parameter
names and layouts), so paraxis can load the parameters by name and compare.

Run:  /usr/bin/python3 tests/golden/make_goldens.py          (Debian python3-torch 1.13; ~10 s)
Writes tests/golden/{mlp,cnn,gpt}.safetensors, each holding
  <param name>        every parameter, initial values                       F32
  input.x             mlp (8, 20) F32 | cnn (4, 1, 28, 28) F32 | gpt (2, 8) I32 token ids
  input.y             labels (8,) / (4,) I32 | gpt next-token targets (2, 8) I32
  out.logits          mlp (8, 5) | cnn (4, 10) | gpt (2, 8, 32)             F32
  out.loss            (1,) mean cross-entropy (torch.nn.functional.cross_entropy)
  grad.<param name>   d out.loss / d param at the initial values            F32
  curve.loss          (10,) loss before each of 10 plain SGD steps (p -= 0.1 * grad, grads zeroed each step)
                      on the same batch, starting from the initial values; curve.loss[0] == out.loss
  __metadata__        magic "paraxis-golden", version "1", torch version, model (ModelSpec::describe()),
                      spec (JSON), batch, lr, steps, seed, labels_dtype "I32"
Before writing, the script checks itself (see verify_*): the hand-written GPT against nn.MultiheadAttention and
against a float64 loop-by-loop reimplementation, the loss against a hand-written log-softmax, the SGD curve
against torch.optim.SGD, and the files by reading them back. It prints the float32-vs-float64 discrepancy of
each model, which is the scale of differences to expect from another float32 implementation.
"""
import copy
import json
import math
import os
import struct

import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)
torch.set_default_dtype(torch.float32)

HERE = os.path.dirname(os.path.abspath(__file__))
LR, STEPS, SEED = 0.1, 10, 1234


# ---------------------------------------------------------------- models (names as in docs/model-names.md)


class MLP(nn.Module):
    def __init__(self, sizes):
        super().__init__()
        self.n = len(sizes) - 1
        for i in range(self.n):
            setattr(self, f"fc{i + 1}", nn.Linear(sizes[i], sizes[i + 1]))

    def forward(self, x):
        for i in range(self.n):
            x = getattr(self, f"fc{i + 1}")(x)
            if i + 1 < self.n:
                x = F.relu(x)
        return x


class CNN(nn.Module):
    def __init__(self, c1, c2, fc, classes):
        super().__init__()
        self.conv1 = nn.Conv2d(1, c1, 5, stride=1, padding=2)
        self.conv2 = nn.Conv2d(c1, c2, 5, stride=1, padding=2)
        self.fc1 = nn.Linear(c2 * 7 * 7, fc)
        self.fc2 = nn.Linear(fc, classes)

    def forward(self, x):  # (N, 1, 28, 28)
        x = F.max_pool2d(F.relu(self.conv1(x)), 2, 2)  # (N, c1, 14, 14)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2, 2)  # (N, c2, 7, 7)
        x = torch.flatten(x, 1)  # (N, c2*49), C-major
        return self.fc2(F.relu(self.fc1(x)))


class Attention(nn.Module):
    """Causal self-attention written out by hand: q, k, v are the three C-wide thirds of qkv's 3C outputs in
    that order; head h uses columns [h*C/NH, (h+1)*C/NH) of each."""

    def __init__(self, C, NH):
        super().__init__()
        self.C, self.NH = C, NH
        self.qkv = nn.Linear(C, 3 * C)
        self.proj = nn.Linear(C, C)

    def forward(self, x):  # (B, T, C)
        B, T, C = x.shape
        hd = C // self.NH
        q, k, v = self.qkv(x).split(C, dim=-1)  # each (B, T, C)
        q = q.view(B, T, self.NH, hd).transpose(1, 2)  # (B, NH, T, hd)
        k = k.view(B, T, self.NH, hd).transpose(1, 2)
        v = v.view(B, T, self.NH, hd).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) / math.sqrt(hd)  # (B, NH, T, T)
        mask = torch.ones(T, T, dtype=torch.bool).tril()
        att = att.masked_fill(~mask, float("-inf")).softmax(dim=-1)
        y = (att @ v).transpose(1, 2).reshape(B, T, C)  # heads side by side again
        return self.proj(y)


class MLPBlock(nn.Module):
    def __init__(self, C):
        super().__init__()
        self.fc1 = nn.Linear(C, 4 * C)
        self.fc2 = nn.Linear(4 * C, C)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x)))  # exact erf GELU (approximate='none')


class Block(nn.Module):
    def __init__(self, C, NH):
        super().__init__()
        self.ln1 = nn.LayerNorm(C, eps=1e-5)
        self.attn = Attention(C, NH)
        self.ln2 = nn.LayerNorm(C, eps=1e-5)
        self.mlp = MLPBlock(C)

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class GPT(nn.Module):
    def __init__(self, V, T, C, NH, L):
        super().__init__()
        self.wte = nn.Embedding(V, C)
        self.wpe = nn.Embedding(T, C)
        self.blocks = nn.ModuleList([Block(C, NH) for _ in range(L)])
        self.ln_f = nn.LayerNorm(C, eps=1e-5)
        self.lm_head = nn.Linear(C, V, bias=False)

    def init_per_spec(self):
        """docs/model-names.md: embeddings and Linear weights N(0, 0.02), biases 0, LayerNorm 1 / 0."""
        for name, p in self.named_parameters():
            if name.endswith("bias"):
                nn.init.zeros_(p)
            elif ".ln" in name or name.startswith("ln_f"):
                nn.init.ones_(p)
            else:
                nn.init.normal_(p, 0.0, 0.02)

    def perturb_for_sensitivity(self, gen):
        """With the spec's init the attention rows are near-uniform, every bias is 0 and every LayerNorm weight 1,
        so some mistakes (an ignored bias or LayerNorm affine, q and k swapped) barely move the logits: a measured
        example, dropping the causal mask moves them by 0.09 with the spec's init and by 5.0 after this. The golden
        tests the computation, not the init (the C++ test loads these values by name), so widen the draw: weights
        N(0, 0.3), biases N(0, 0.1), LayerNorm weights 1 + N(0, 0.1)."""
        with torch.no_grad():
            for name, p in self.named_parameters():
                if name.endswith("bias"):
                    p.copy_(0.1 * torch.randn(p.shape, generator=gen))
                elif ".ln" in name or name.startswith("ln_f"):
                    p.copy_(1.0 + 0.1 * torch.randn(p.shape, generator=gen))
                else:
                    p.copy_(0.3 * torch.randn(p.shape, generator=gen))

    def forward(self, ids):  # (B, T_in) int
        T_in = ids.shape[1]
        x = self.wte(ids) + self.wpe.weight[:T_in]  # (B, T_in, C)
        for b in self.blocks:
            x = b(x)
        return self.lm_head(self.ln_f(x))  # (B, T_in, V)


# ---------------------------------------------------------------- cases


def make_case(kind):
    torch.manual_seed(SEED)
    gen = torch.Generator().manual_seed(SEED + 1)
    if kind == "mlp":
        sizes = [20, 32, 16, 5]
        model = MLP(sizes)  # torch's default Linear init: U(-1/sqrt(in), 1/sqrt(in)) for weight and bias
        x = torch.randn(8, 20, generator=gen)
        y = torch.randint(0, 5, (8,), generator=gen)
        spec = {"kind": "mlp", "mlp_sizes": sizes}
        describe = "mlp " + "-".join(map(str, sizes))
    elif kind == "cnn":
        c1, c2, fc, classes = 4, 8, 32, 10
        model = CNN(c1, c2, fc, classes)  # default Conv2d/Linear init: U(+-1/sqrt(fan_in)) for the biases
        x = torch.rand(4, 1, 28, 28, generator=gen)  # pixel-like, in [0, 1)
        y = torch.randint(0, classes, (4,), generator=gen)
        spec = {"kind": "cnn", "cnn_c1": c1, "cnn_c2": c2, "cnn_fc": fc, "classes": classes}
        describe = f"cnn c{c1}-c{c2}-fc{fc}-{classes}"
    else:
        V, T, C, NH, L = 32, 8, 16, 2, 2
        model = GPT(V, T, C, NH, L)
        model.init_per_spec()
        model.perturb_for_sensitivity(gen)
        seq = torch.randint(0, V, (2, T + 1), generator=gen)
        x, y = seq[:, :-1].contiguous(), seq[:, 1:].contiguous()  # targets = next tokens
        spec = {"kind": "gpt", "vocab": V, "context": T, "width": C, "heads": NH, "layers": L}
        describe = f"gpt V{V} T{T} C{C} NH{NH} L{L}"
    return model, x, y, spec, describe


def loss_fn(logits, y):
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))


def run_case(model, x, y):
    """Forward, backward and the SGD curve; returns (logits, loss, grads, curve, initial params)."""
    params0 = {n: p.detach().clone() for n, p in model.named_parameters()}
    model.zero_grad()
    logits = model(x)
    loss = loss_fn(logits, y)
    loss.backward()
    grads = {n: p.grad.detach().clone() for n, p in model.named_parameters()}
    curve = []
    with torch.no_grad():
        for n, p in model.named_parameters():
            p.copy_(params0[n])
    for _ in range(STEPS):
        model.zero_grad()
        l = loss_fn(model(x), y)
        curve.append(l.item())
        l.backward()
        with torch.no_grad():
            for p in model.parameters():
                p -= LR * p.grad  # plain SGD, no momentum, no weight decay
    with torch.no_grad():  # leave the model at its initial values
        for n, p in model.named_parameters():
            p.copy_(params0[n])
    return logits.detach(), loss.detach(), grads, torch.tensor(curve, dtype=torch.float32), params0


# ---------------------------------------------------------------- self-checks


def close(a, b, rtol, atol, what):
    a, b = torch.as_tensor(a, dtype=torch.float64), torch.as_tensor(b, dtype=torch.float64)
    err = (a - b).abs().max().item() if a.numel() else 0.0
    assert torch.allclose(a, b, rtol=rtol, atol=atol), f"{what}: max abs diff {err}"
    return err


def verify_loss(logits, y, loss):
    lg = logits.double().reshape(-1, logits.shape[-1])
    t = y.reshape(-1)
    m = lg.max(dim=1, keepdim=True).values
    logsumexp = m.squeeze(1) + (lg - m).exp().sum(dim=1).log()
    manual = (logsumexp - lg[torch.arange(len(t)), t]).mean()
    close(loss, manual, 1e-6, 1e-6, "loss vs hand-written log-softmax")


def verify_attention_vs_mha(model):
    """Our hand-written attention equals nn.MultiheadAttention fed the same in_proj (q, k, v order) and heads."""
    attn = model.blocks[0].attn
    C, NH = attn.C, attn.NH
    mha = nn.MultiheadAttention(C, NH, batch_first=True)
    with torch.no_grad():
        mha.in_proj_weight.copy_(attn.qkv.weight)
        mha.in_proj_bias.copy_(attn.qkv.bias)
        mha.out_proj.weight.copy_(attn.proj.weight)
        mha.out_proj.bias.copy_(attn.proj.bias)
    x = torch.randn(3, 8, C, generator=torch.Generator().manual_seed(7))
    causal = torch.ones(8, 8, dtype=torch.bool).triu(1)  # True = may not attend
    ref, _ = mha(x, x, x, attn_mask=causal, need_weights=False)
    close(attn(x), ref, 1e-5, 1e-6, "attention vs nn.MultiheadAttention")


def gpt_float64_loops(P, ids, spec):
    """A second GPT, written the plain way from docs/model-names.md: float64, explicit loops over batch, head
    and position, no masking trick (position t sums over s <= t only)."""
    C, NH, L = spec["width"], spec["heads"], spec["layers"]
    hd = C // NH
    B, T = ids.shape

    def ln(x, w, b):
        mu = x.mean(-1, keepdim=True)
        var = ((x - mu) ** 2).mean(-1, keepdim=True)
        return (x - mu) / torch.sqrt(var + 1e-5) * w + b

    def lin(x, w, b=None):
        y = x @ w.T
        return y + b if b is not None else y

    x = P["wte.weight"][ids] + P["wpe.weight"][:T]
    for i in range(L):
        pre = f"blocks.{i}."
        h = ln(x, P[pre + "ln1.weight"], P[pre + "ln1.bias"])
        qkv = lin(h, P[pre + "attn.qkv.weight"], P[pre + "attn.qkv.bias"])
        q, k, v = qkv[..., :C], qkv[..., C : 2 * C], qkv[..., 2 * C :]
        rows = []
        for b in range(B):
            out_b = []
            for t in range(T):
                heads = []
                for hh in range(NH):
                    cols = slice(hh * hd, (hh + 1) * hd)
                    scores = torch.stack([(q[b, t, cols] * k[b, s, cols]).sum() / math.sqrt(hd) for s in range(t + 1)])
                    w = torch.exp(scores - scores.max())
                    w = w / w.sum()
                    heads.append(sum(w[s] * v[b, s, cols] for s in range(t + 1)))
                out_b.append(torch.cat(heads))
            rows.append(torch.stack(out_b))
        att = torch.stack(rows)  # (B, T, C)
        x = x + lin(att, P[pre + "attn.proj.weight"], P[pre + "attn.proj.bias"])
        h = ln(x, P[pre + "ln2.weight"], P[pre + "ln2.bias"])
        u = lin(h, P[pre + "mlp.fc1.weight"], P[pre + "mlp.fc1.bias"])
        u = 0.5 * u * (1.0 + torch.erf(u / math.sqrt(2.0)))
        x = x + lin(u, P[pre + "mlp.fc2.weight"], P[pre + "mlp.fc2.bias"])
    return lin(ln(x, P["ln_f.weight"], P["ln_f.bias"]), P["lm_head.weight"])


def verify_gpt_reimplementation(params0, x, y, spec, logits, grads):
    P = {n: p.double().clone().requires_grad_(True) for n, p in params0.items()}
    ref_logits = gpt_float64_loops(P, x, spec)
    ref_loss = loss_fn(ref_logits, y)
    ref_loss.backward()
    e1 = close(logits, ref_logits, 1e-5, 1e-5, "gpt logits vs float64 loop reimplementation")
    e2 = max(close(grads[n], P[n].grad, 1e-4, 1e-6, f"gpt grad {n} vs float64 reimplementation") for n in grads)
    return e1, e2


def float64_discrepancy(model, x, y, logits, grads):
    """Max |float32 - float64| of logits and gradients: the scale of rounding differences between two correct
    float32 implementations."""
    m64 = copy.deepcopy(model).double()
    xx = x.double() if x.is_floating_point() else x
    l64 = m64(xx)
    loss_fn(l64, y).backward()
    dl = (logits.double() - l64).abs().max().item()
    dg = max((grads[n].double() - p.grad).abs().max().item() for n, p in m64.named_parameters())
    return dl, dg


def verify_curve_with_optim(model, x, y, curve, params0):
    m = copy.deepcopy(model)
    opt = torch.optim.SGD(m.parameters(), lr=LR)
    got = []
    for _ in range(STEPS):
        opt.zero_grad()
        l = loss_fn(m(x), y)
        got.append(l.item())
        l.backward()
        opt.step()
    # optim.SGD computes p.add_(g, alpha=-lr) (one rounding) where the curve uses p -= lr * g (two): ulp-level.
    close(curve, torch.tensor(got), 1e-6, 1e-6, "curve vs torch.optim.SGD")


# ---------------------------------------------------------------- safetensors by hand (no package needed)


def write_safetensors(path, tensors, metadata):
    header = {"__metadata__": metadata}
    blobs, offset = [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous()
        dtype = {torch.float32: "F32", torch.int32: "I32"}[t.dtype]
        data = t.numpy().astype("<f4" if dtype == "F32" else "<i4").tobytes()
        header[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))
    os.replace(tmp, path)


def read_safetensors(path):
    raw = open(path, "rb").read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    meta = header.pop("__metadata__")
    buf = raw[8 + n :]
    out = {}
    for name, e in header.items():
        b, en = e["data_offsets"]
        dt = torch.float32 if e["dtype"] == "F32" else torch.int32
        out[name] = torch.frombuffer(bytearray(buf[b:en]), dtype=dt).reshape(e["shape"]) if en > b else torch.zeros(e["shape"], dtype=dt)
    return out, meta


# ---------------------------------------------------------------- main


def main():
    for kind in ("mlp", "cnn", "gpt"):
        model, x, y, spec, describe = make_case(kind)
        logits, loss, grads, curve, params0 = run_case(model, x, y)
        verify_loss(logits, y, loss)
        close(curve[0], loss, 0, 0, "curve[0] vs out.loss")
        assert curve[-1] < curve[0], f"{kind}: SGD did not lower the loss: {curve.tolist()}"
        verify_curve_with_optim(model, x, y, curve, params0)
        extra = ""
        if kind == "gpt":
            verify_attention_vs_mha(model)
            e1, e2 = verify_gpt_reimplementation(params0, x, y, spec, logits, grads)
            extra = f", vs float64 loop GPT: logits {e1:.1e} grads {e2:.1e}"
        dl, dg = float64_discrepancy(model, x, y, logits, grads)

        tensors = dict(params0)
        tensors["input.x"] = x.to(torch.int32) if kind == "gpt" else x
        tensors["input.y"] = y.to(torch.int32)
        tensors["out.logits"] = logits
        tensors["out.loss"] = loss.reshape(1)
        tensors.update({"grad." + n: g for n, g in grads.items()})
        tensors["curve.loss"] = curve
        meta = {
            "magic": "paraxis-golden",
            "version": "1",
            "torch": torch.__version__,
            "model": describe,
            "spec": json.dumps(spec),
            "batch": str(x.shape[0]),
            "lr": str(LR),
            "steps": str(STEPS),
            "seed": str(SEED),
            "labels_dtype": "I32",
        }
        path = os.path.join(HERE, f"{kind}.safetensors")
        write_safetensors(path, tensors, meta)
        back, meta_back = read_safetensors(path)
        assert meta_back == meta and set(back) == set(tensors)
        for n, t in tensors.items():
            assert torch.equal(back[n], t.to(back[n].dtype)) and back[n].dtype == t.dtype, n
        nparam = sum(p.numel() for p in params0.values())
        print(
            f"{kind}: {describe}, {nparam} params, loss {loss.item():.6f} -> {curve[-1].item():.6f} after "
            f"{STEPS} steps, fp32-vs-fp64 logits {dl:.1e} grads {dg:.1e}{extra}; {os.path.getsize(path)} bytes"
        )


if __name__ == "__main__":
    main()
