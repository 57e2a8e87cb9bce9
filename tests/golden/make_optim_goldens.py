#!/usr/bin/python3
"""Writes tests/golden/optim_golden.txt: PyTorch's own SGD, AdamW and clip_grad_norm_ on small fixed tensors.

Run from the repository root with Debian's PyTorch:  /usr/bin/python3 tests/golden/make_optim_goldens.py
The C++ test tests/train/optim_golden_test.cc replays the same initial values, gradients and learning rates
(all read from the file) through paraxis's optimizers and compares every parameter after every step.

File format, one record per line, whitespace separated, floats printed with 9 significant digits (exact for
float32):
  paraxis-optim-golden v1 torch=<version>        header (magic, format version, torch version)
  case <name> <kind> <key>=<value> ...           kind: sgd | adamw | clip; hyperparameters as key=value
  param <param-name> <ndim> <dims...>            parameter shape
  value <param-name> <floats...>                 initial parameter value
  lr <step> <float>                              learning rate used at that step (sgd, adamw)
  grad <step> <param-name> <floats...>           gradient given to that step
  after <step> <param-name> <floats...>          parameter after the step (clip: the clipped gradient)
  norm <step> <float>                            clip: the total norm clip_grad_norm_ returned
  end
"""
import os

import torch

torch.set_num_threads(1)
STEPS = 5
SHAPES = [("fc1.weight", (3, 4)), ("fc1.bias", (3,))]


def fmt(t):
    return " ".join("%.9g" % v for v in t.detach().reshape(-1).tolist())


def make_tensors(seed):
    gen = torch.Generator().manual_seed(seed)
    values = {n: torch.randn(s, generator=gen, dtype=torch.float32) for n, s in SHAPES}
    # Gradients of a few scales so weight decay, momentum and the second moment all matter.
    grads = [{n: torch.randn(s, generator=gen, dtype=torch.float32) * (0.5 + k) for n, s in SHAPES}
             for k in range(STEPS)]
    return values, grads


def run_optimizer(out, name, kind, hyper, lrs, seed):
    values, grads = make_tensors(seed)
    params = {n: torch.nn.Parameter(v.clone()) for n, v in values.items()}
    plist = [params[n] for n, _ in SHAPES]
    if kind == "sgd":
        opt = torch.optim.SGD(plist, lr=lrs[0], momentum=hyper["momentum"], dampening=0.0,
                              weight_decay=hyper["weight_decay"], nesterov=False)
    else:
        opt = torch.optim.AdamW(plist, lr=lrs[0], betas=(hyper["beta1"], hyper["beta2"]), eps=hyper["eps"],
                                weight_decay=hyper["weight_decay"], amsgrad=False)
    out.append("case %s %s %s" % (name, kind, " ".join("%s=%r" % kv for kv in hyper.items())))
    for n, s in SHAPES:
        out.append("param %s %d %s" % (n, len(s), " ".join(str(d) for d in s)))
        out.append("value %s %s" % (n, fmt(values[n])))
    for step in range(STEPS):
        for group in opt.param_groups:
            group["lr"] = lrs[step]
        out.append("lr %d %.9g" % (step, lrs[step]))
        for n, _ in SHAPES:
            params[n].grad = grads[step][n].clone()
            out.append("grad %d %s %s" % (step, n, fmt(grads[step][n])))
        opt.step()
        for n, _ in SHAPES:
            out.append("after %d %s %s" % (step, n, fmt(params[n])))
    out.append("end")


def run_clip(out, name, max_norm, seed):
    values, grads = make_tensors(seed)
    params = {n: torch.nn.Parameter(v.clone()) for n, v in values.items()}
    out.append("case %s clip max_norm=%r" % (name, max_norm))
    for n, s in SHAPES:
        out.append("param %s %d %s" % (n, len(s), " ".join(str(d) for d in s)))
        out.append("value %s %s" % (n, fmt(values[n])))
    for n, _ in SHAPES:
        params[n].grad = grads[2][n].clone()
        out.append("grad 0 %s %s" % (n, fmt(grads[2][n])))
    total = torch.nn.utils.clip_grad_norm_([params[n] for n, _ in SHAPES], max_norm)
    out.append("norm 0 %.9g" % total.item())
    for n, _ in SHAPES:
        out.append("after 0 %s %s" % (n, fmt(params[n].grad)))
    out.append("end")


def main():
    out = ["paraxis-optim-golden v1 torch=%s" % torch.__version__]
    varying = [0.1, 0.05, 0.2, 0.02, 0.1]
    run_optimizer(out, "sgd_momentum_wd", "sgd", {"momentum": 0.9, "weight_decay": 0.01}, [0.1] * STEPS, 1)
    run_optimizer(out, "sgd_plain", "sgd", {"momentum": 0.0, "weight_decay": 0.0}, [0.1] * STEPS, 2)
    run_optimizer(out, "sgd_varying_lr", "sgd", {"momentum": 0.5, "weight_decay": 0.1}, varying, 3)
    run_optimizer(out, "adamw_default", "adamw",
                  {"beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.01}, [1e-2] * STEPS, 4)
    run_optimizer(out, "adamw_varying_lr", "adamw",
                  {"beta1": 0.8, "beta2": 0.99, "eps": 1e-6, "weight_decay": 0.1}, varying, 5)
    run_clip(out, "clip_active", 1.0, 6)
    run_clip(out, "clip_inactive", 100.0, 7)
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "optim_golden.txt")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")
    print("wrote", path)


if __name__ == "__main__":
    main()
