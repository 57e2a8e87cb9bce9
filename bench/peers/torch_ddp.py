"""PyTorch DDP peer for bench_parallel: data parallelism over 2 processes x 1 thread, gloo on 127.0.0.1.

Run with Debian's python3-torch (the bench removes OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE from this process's
environment only):
    /usr/bin/python3 bench/peers/torch_ddp.py --model mlp --batch 256 --procs 2
Each process trains on batch/procs rows of the global batch (full training step: forward, loss, backward with
DDP's bucketed all-reduce overlapping it, SGD step). Prints one JSON line from rank 0:
{"model", "batch", "procs", "threads", "median_ms", "min_ms", "max_ms", "runs", "torch"}.
"""
import argparse
import json
import os
import socket
import statistics
import sys
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel as DDP

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_models  # noqa: E402


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def worker(rank, a, port, queue):
    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(port)
    torch.set_num_threads(a.threads)
    dist.init_process_group("gloo", rank=rank, world_size=a.procs)
    torch.manual_seed(0)
    local = a.batch // a.procs
    if a.model == "mlp":
        sizes = [int(s) for s in a.mlp_sizes.split(",")]
        model = torch_models.mlp(sizes)
        x = torch.rand(local, sizes[0])
        y = torch.randint(0, sizes[-1], (local,))
    else:
        V, T, C, NH, L = (int(s) for s in a.gpt.split(","))
        model = torch_models.GPT(V, T, C, NH, L)
        x = torch.randint(0, V, (local, T))
        y = torch.randint(0, V, (local, T))
    ddp = DDP(model)
    opt = torch.optim.SGD(ddp.parameters(), lr=0.01, momentum=0.9)

    def step():
        opt.zero_grad(set_to_none=False)
        logits = ddp(x)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
        loss.backward()
        opt.step()

    for _ in range(a.warmup):
        step()
    dist.barrier()
    times = []
    for _ in range(a.runs):
        t0 = time.perf_counter()
        step()
        times.append((time.perf_counter() - t0) * 1e3)
    if rank == 0:
        queue.put(times)
    dist.barrier()
    dist.destroy_process_group()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", choices=["mlp", "gpt"], required=True)
    ap.add_argument("--batch", type=int, required=True, help="global batch (split over the processes)")
    ap.add_argument("--procs", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1, help="torch threads per process")
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--mlp-sizes", default="784,4096,4096,10")
    ap.add_argument("--gpt", default="256,128,256,4,4", help="V,T,C,NH,L")
    a = ap.parse_args()
    if a.batch % a.procs:
        sys.exit(f"--batch {a.batch} is not divisible by --procs {a.procs}")
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    mp.spawn(worker, args=(a, free_port(), queue), nprocs=a.procs, join=True)
    times = queue.get()
    print(json.dumps({"model": a.model, "batch": a.batch, "procs": a.procs, "threads": a.threads,
                      "median_ms": statistics.median(times), "min_ms": min(times), "max_ms": max(times),
                      "runs": a.runs, "torch": torch.__version__}))


if __name__ == "__main__":
    main()
