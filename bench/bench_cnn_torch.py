#!/usr/bin/python3
# Peer figure for bench_cnn: the same CNN in PyTorch, forward + backward per step.
#   /usr/bin/python3 bench/bench_cnn_torch.py [batch=256] [steps=10] [threads=1]
import sys
import time

import torch
import torch.nn as nn

batch = int(sys.argv[1]) if len(sys.argv) > 1 else 256
steps = int(sys.argv[2]) if len(sys.argv) > 2 else 10
threads = int(sys.argv[3]) if len(sys.argv) > 3 else 1
torch.set_num_threads(threads)
model = nn.Sequential(nn.Conv2d(1, 16, 5, 1, 2), nn.ReLU(), nn.MaxPool2d(2, 2), nn.Conv2d(16, 32, 5, 1, 2),
                      nn.ReLU(), nn.MaxPool2d(2, 2), nn.Flatten(), nn.Linear(32 * 49, 128), nn.ReLU(),
                      nn.Linear(128, 10))
x = torch.rand(batch, 1, 28, 28)
dy = torch.full((batch, 10), 1.0 / batch)
times = []
for step in range(-2, steps):
    t0 = time.perf_counter()
    model(x).backward(dy)
    if step >= 0:
        times.append(time.perf_counter() - t0)
print(f"pytorch {torch.__version__} fwd+bwd: {1e3 * sum(times) / steps:.2f} ms/step mean, "
      f"{1e3 * min(times):.2f} ms best, batch {batch}, {threads} thread(s)")
