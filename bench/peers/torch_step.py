"""PyTorch peer for `bench_step` / `paraxis bench step`: median forward+backward (or full training step) time.

Run with Debian's python3-torch:  /usr/bin/python3 bench/peers/torch_step.py --model mlp --batch 256 --threads 1
Prints one JSON line: {"model", "batch", "threads", "median_ms", "min_ms", "max_ms", "runs", "cpu_median_ms",
"peak_rss_mb"}. peak_rss_mb is this process's peak resident set (getrusage ru_maxrss: interpreter, torch, model,
optimizer state and activations), for bench_gpt2's memory column.
cpu_median_ms is the calling thread's CPU time (time.thread_time): with one thread every kernel runs on it, so
on a machine loaded by other work it counts only this step's own time.
"""
import argparse
import json
import os
import resource
import statistics
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_models  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", choices=["mlp", "cnn", "alexnet", "gpt"], required=True)
    ap.add_argument("--batch", type=int, required=True)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--mlp-sizes", default="784,4096,4096,10")
    ap.add_argument("--cnn", default="16,32,128,10", help="cnn: c1,c2,fc,classes")
    ap.add_argument("--cnn-kernel", default="5,1", help="cnn: kernel,stride (of the first convolution)")
    ap.add_argument("--image", default=None, help="cnn: C,H,W (default 1,28,28); alexnet: 3,224,224 only")
    ap.add_argument("--gpt", default="256,128,256,4,4", help="V,T,C,NH,L")
    ap.add_argument("--optimizer", choices=["none", "sgd", "adamw"], default="none",
                    help="none times forward+backward only; sgd/adamw time a full training step")
    ap.add_argument("--autocast", choices=["none", "bf16"], default="none",
                    help="bf16: the forward and loss under torch.autocast('cpu', dtype=torch.bfloat16)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    if a.model == "mlp":
        sizes = [int(s) for s in a.mlp_sizes.split(",")]
        model = torch_models.mlp(sizes)
        x = torch.rand(a.batch, sizes[0])
        y = torch.randint(0, sizes[-1], (a.batch,))
    elif a.model == "cnn":
        c1, c2, fc, classes = (int(s) for s in a.cnn.split(","))
        kernel, stride = (int(s) for s in a.cnn_kernel.split(","))
        image = tuple(int(s) for s in (a.image or "1,28,28").split(","))
        model = torch_models.CNN(c1, c2, fc, classes, image, kernel, stride)
        x = torch.rand(a.batch, *image)
        y = torch.randint(0, classes, (a.batch,))
    elif a.model == "alexnet":
        model = torch_models.AlexNet()
        x = torch.rand(a.batch, 3, 224, 224)
        y = torch.randint(0, 1000, (a.batch,))
    else:
        V, T, C, NH, L = (int(s) for s in a.gpt.split(","))
        model = torch_models.GPT(V, T, C, NH, L)
        x = torch.randint(0, V, (a.batch, T))
        y = torch.randint(0, V, (a.batch, T))
    opt = None
    if a.optimizer == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    elif a.optimizer == "adamw":
        opt = torch.optim.AdamW(model.parameters(), lr=1e-3)

    def step():
        if opt:
            opt.zero_grad(set_to_none=False)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=a.autocast == "bf16"):
            logits = model(x)
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
        loss.backward()
        if opt:
            opt.step()

    for _ in range(a.warmup):
        step()
    times, cpu = [], []
    for _ in range(a.runs):
        t0, c0 = time.perf_counter(), time.thread_time()
        step()
        times.append((time.perf_counter() - t0) * 1e3)
        cpu.append((time.thread_time() - c0) * 1e3)
    print(json.dumps({"model": a.model, "batch": a.batch, "threads": a.threads, "median_ms": statistics.median(times),
                      "min_ms": min(times), "max_ms": max(times), "runs": a.runs,
                      "cpu_median_ms": statistics.median(cpu), "autocast": a.autocast,
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
                      "torch": torch.__version__}))


if __name__ == "__main__":
    main()
