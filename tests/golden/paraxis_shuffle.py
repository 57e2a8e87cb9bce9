"""paraxis's data order in plain Python, for reproducing a paraxis run in PyTorch (see docs/data.md).

    from paraxis_shuffle import shuffle_order
    order = shuffle_order(60000, seed=1, epoch=0)      # the samples of epoch 0, in visiting order
    batch_k = order[k * B:(k + 1) * B]                  # rows of global batch k (drop_last: k < N // B)

Mirrors include/paraxis/core/rng.h (Philox4x32-10, stream_id = FNV-1a) and shuffle_order in
include/paraxis/data/loader.h; tests/data/shuffle_golden_test.cc checks the two agree.
"""
M0, M1, W0, W1 = 0xD2511F53, 0xCD9E8D57, 0x9E3779B9, 0xBB67AE85
MASK32 = 0xFFFFFFFF


def philox_block(seed, stream, counter):
    x = [counter & MASK32, counter >> 32 & MASK32, stream & MASK32, stream >> 32 & MASK32]
    k0, k1 = seed & MASK32, seed >> 32 & MASK32
    for _ in range(10):
        p0, p1 = M0 * x[0], M1 * x[2]
        x = [(p1 >> 32) ^ x[1] ^ k0, p1 & MASK32, (p0 >> 32) ^ x[3] ^ k1, p0 & MASK32]
        k0, k1 = (k0 + W0) & MASK32, (k1 + W1) & MASK32
    return x


def stream_id(name):
    h = 1469598103934665603
    for c in name.encode():
        h = ((h ^ c) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return h


def shuffle_order(n, seed, epoch):
    stream = stream_id("data.shuffle.%d" % epoch)
    order = list(range(n))
    block, block_index = None, -1
    for k in range(n - 1, 0, -1):
        i = n - 1 - k  # the i-th 32-bit draw of the stream
        if i >> 2 != block_index:
            block_index = i >> 2
            block = philox_block(seed, stream, block_index)
        j = (block[i & 3] * (k + 1)) >> 32
        order[k], order[j] = order[j], order[k]
    return order
