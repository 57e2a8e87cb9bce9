"""PyTorch twins of paraxis's models (docs/model-names.md), used by the benchmark peers.

Same architectures, same parameter names and layouts, so a state dict round-trips with paraxis's safetensors.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


def mlp(sizes):
    layers = []
    for i in range(len(sizes) - 1):
        layers.append((f"fc{i + 1}", nn.Linear(sizes[i], sizes[i + 1])))
        if i + 2 < len(sizes):
            layers.append((f"relu{i + 1}", nn.ReLU()))
    from collections import OrderedDict
    return nn.Sequential(OrderedDict(layers))


def _conv_out(h, k, stride):
    return (h + 2 * (k // 2) - k) // stride + 1


class CNN(nn.Module):
    """src/nn/models/cnn.cc: two k x k convolutions (padding k//2, the first with `stride`) each followed by
    relu and a 2x2 pooling, then fc1, relu, fc2, on (C, H, W) images (Fashion-MNIST's 1x28x28 by default)."""

    def __init__(self, c1=16, c2=32, fc=128, classes=10, image=(1, 28, 28), kernel=5, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(image[0], c1, kernel, stride=stride, padding=kernel // 2)
        self.conv2 = nn.Conv2d(c1, c2, kernel, padding=kernel // 2)
        h, w = ((_conv_out(_conv_out(n, kernel, stride) // 2, kernel, 1) // 2) for n in image[1:])
        self.fc1 = nn.Linear(c2 * h * w, fc)
        self.fc2 = nn.Linear(fc, classes)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        return self.fc2(F.relu(self.fc1(torch.flatten(x, 1))))


class AlexNet(nn.Module):
    """torchvision's AlexNet layer shapes and names (src/nn/models/alexnet.cc) on 3x224x224 images, written out
    because Debian's python3-torch comes without torchvision. Dropout p = 0 like paraxis's default, and no
    AdaptiveAvgPool2d((6, 6)): at 224x224 the features are already 6x6 (torchvision's pool is the identity)."""

    def __init__(self, classes=1000, dropout=0.0):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 64, 11, stride=4, padding=2), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),
            nn.Conv2d(64, 192, 5, padding=2), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),
            nn.Conv2d(192, 384, 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(256, 256, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2))
        self.classifier = nn.Sequential(
            nn.Dropout(dropout), nn.Linear(256 * 6 * 6, 4096), nn.ReLU(inplace=True),
            nn.Dropout(dropout), nn.Linear(4096, 4096), nn.ReLU(inplace=True), nn.Linear(4096, classes))

    def forward(self, x):
        return self.classifier(torch.flatten(self.features(x), 1))


class Attention(nn.Module):
    def __init__(self, C, NH):
        super().__init__()
        self.NH = NH
        self.qkv = nn.Linear(C, 3 * C)
        self.proj = nn.Linear(C, C)

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=2)
        hd = C // self.NH
        q, k, v = (t.view(B, T, self.NH, hd).transpose(1, 2) for t in (q, k, v))
        att = (q @ k.transpose(-2, -1)) / math.sqrt(hd)
        mask = torch.ones(T, T, dtype=torch.bool).tril()
        att = att.masked_fill(~mask, float("-inf")).softmax(dim=-1)
        return self.proj((att @ v).transpose(1, 2).reshape(B, T, C))


class MLPBlock(nn.Module):
    def __init__(self, C):
        super().__init__()
        self.fc1 = nn.Linear(C, 4 * C)
        self.fc2 = nn.Linear(4 * C, C)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x)))


class Block(nn.Module):
    def __init__(self, C, NH):
        super().__init__()
        self.ln1 = nn.LayerNorm(C)
        self.attn = Attention(C, NH)
        self.ln2 = nn.LayerNorm(C)
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
        self.ln_f = nn.LayerNorm(C)
        self.lm_head = nn.Linear(C, V, bias=False)

    def forward(self, idx):
        B, T = idx.shape
        x = self.wte(idx) + self.wpe(torch.arange(T))
        for b in self.blocks:
            x = b(x)
        return self.lm_head(self.ln_f(x))
