#!/usr/bin/python3
"""Replays a Tailor FedPer run of the reference setup in plain PyTorch with Tailor's own random
draws: the initial model Tailor wrote, and each client's batch order from Tailor's generator
(SplitMix64 seeding, xoshiro256**, Lemire's bounded integers, Fisher-Yates, reimplemented here
from core/random.cc) under Tailor's seed derivation (task seed per round, then per client). If
Tailor's rounds are plain SGD + weighted averaging + personal heads, the accuracies agree to a
few test samples (float32 kernels differ in the last bits).

  build/tools/tailor simulate --config configs/reference_fedper.textproto \\
      --set rounds=1,seed=S,algorithm.name=fedavg,train.learning_rate=1e-30,output_dir=/tmp/init
  /usr/bin/python3 bench/pytorch_replay_fedper.py /tmp/init/final_shared.tlps S ROUNDS
"""
import copy
import os
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "tests", "data"))
from pfllib_reference import pfllib_split  # noqa: E402
from pytorch_fedavg_reference import load_pool  # noqa: E402
from pytorch_trainer_baseline import Cnn  # noqa: E402

M = (1 << 64) - 1


def splitmix(state):
    state = (state + 0x9E3779B97F4A7C15) & M
    z = ((state ^ (state >> 30)) * 0xBF58476D1CE4E5B9) & M
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M
    return state, z ^ (z >> 31)


def derive_seed(base, tags):  # core/random.cc DeriveSeed
    state, out = splitmix(base)
    for t in tags:
        state ^= (t + 0x632BE59BD9B4E019 + ((out << 6) & M) + (out >> 2)) & M
        state, out = splitmix(state)
    return out


class Rng:  # core/random.cc Rng: xoshiro256**
    def __init__(self, seed):
        self.s, state = [], seed
        for _ in range(4):
            state, v = splitmix(state)
            self.s.append(v)

    def next(self):
        s = self.s
        rotl = lambda x, k: ((x << k) | (x >> (64 - k))) & M  # noqa: E731
        result = (rotl((s[1] * 5) & M, 7) * 9) & M
        t = (s[1] << 17) & M
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = rotl(s[3], 45)
        return result

    def uniform_int(self, n):  # Lemire, with rejection
        m = self.next() * n
        if (m & M) < n:
            threshold = ((1 << 64) - n) % n
            while (m & M) < threshold:
                m = self.next() * n
        return m >> 64

    def shuffle(self, v):
        for i in range(len(v), 1, -1):
            j = self.uniform_int(i)
            v[i - 1], v[j] = v[j], v[i - 1]


def read_tlps(path):  # core/serialization.h, float32 tensors
    b = open(path, "rb").read()
    assert b[:4] == b"TLPS", path
    count, off, out = struct.unpack_from("<I", b, 8)[0], 12, {}
    for _ in range(count):
        n = struct.unpack_from("<I", b, off)[0]
        name = b[off + 4:off + 4 + n].decode()
        off += 4 + n
        rank = b[off + 1]
        dims = struct.unpack_from("<" + "q" * rank, b, off + 2)
        off += 2 + 8 * rank
        size = struct.unpack_from("<Q", b, off)[0]
        out[name] = torch.tensor(np.frombuffer(b[off + 8:off + 8 + size], np.float32)
                                 .reshape(dims).copy())
        off += 8 + size
    return out


def main():
    init, seed, rounds = read_tlps(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    torch.set_num_threads(2)
    x, y = load_pool()
    splits = pfllib_split(y.numpy(), 20, 0.1, 40, 0.75, 1)
    body = Cnn()
    body.load_state_dict({k: init[k] for k in body.state_dict()})
    heads = [copy.deepcopy(body.fc2.state_dict()) for _ in splits]
    for r in range(1, rounds + 1):
        task_seed = derive_seed(seed, [0x747261696E, r])  # "train", round (attempt 1)
        states, weights = [], []
        for c, (train_idx, _) in enumerate(splits):
            model = copy.deepcopy(body)
            model.fc2.load_state_dict(heads[c])
            opt = torch.optim.SGD(model.parameters(), lr=0.005)
            order = [int(i) for i in train_idx]
            Rng(derive_seed(task_seed, [c])).shuffle(order)
            for b in range(0, len(order) - 9, 10):  # batch 10, drop_last
                sel = torch.as_tensor(order[b:b + 10])
                opt.zero_grad()
                F.cross_entropy(model(x[sel]), y[sel]).backward()
                opt.step()
            states.append(model.state_dict())
            weights.append(len(train_idx))
            heads[c] = copy.deepcopy(model.fc2.state_dict())
        total = sum(weights)
        body.load_state_dict({k: sum(w / total * s[k] for w, s in zip(weights, states))
                              for k in states[0]})
        correct = count = 0
        with torch.no_grad():
            for c, (_, test_idx) in enumerate(splits):
                model = copy.deepcopy(body)
                model.fc2.load_state_dict(heads[c])
                sel = torch.as_tensor(test_idx)
                correct += (model(x[sel]).argmax(1) == y[sel]).sum().item()
                count += len(test_idx)
        print(f"round {r} personalized_accuracy {100 * correct / count:.4f} "
              f"({correct} of {count})", flush=True)


if __name__ == "__main__":
    main()
