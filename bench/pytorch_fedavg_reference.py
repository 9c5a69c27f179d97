#!/usr/bin/python3
"""An independent plain-PyTorch FedAvg of the reference setup, to check Tailor's FedAvg curve
against PyTorch itself on the same clients: PFLlib's partition (np.random.seed(1), Dirichlet 0.1,
least 40, 75/25 split), the reference CNN with PyTorch's default init, SGD lr 0.005, batch 10,
drop_last, 1 local epoch, all 20 clients, sample-weighted averaging, global accuracy
sum(correct)/sum(test) after each round.

  /usr/bin/python3 bench/pytorch_fedavg_reference.py ROUNDS TORCH_SEED
"""
import copy
import gzip
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def load_pool():
    def read(path, offset):
        with gzip.open(path) as f:
            return np.frombuffer(f.read(), np.uint8, offset=offset)
    base = "/usr/share/datasets/fashion-mnist/"
    x = np.concatenate([read(base + "train-images-idx3-ubyte.gz", 16),
                        read(base + "t10k-images-idx3-ubyte.gz", 16)]).reshape(-1, 1, 28, 28)
    y = np.concatenate([read(base + "train-labels-idx1-ubyte.gz", 8),
                        read(base + "t10k-labels-idx1-ubyte.gz", 8)]).astype(np.int64)
    return torch.tensor(x, dtype=torch.float32) / 255 * 2 - 1, torch.tensor(y)


def pfllib_split(labels, num_clients=20, alpha=0.1, least=40, train_fraction=0.75):
    np.random.seed(1)
    n, classes = len(labels), int(labels.max()) + 1
    min_size = 0
    while min_size < least:
        batches = [[] for _ in range(num_clients)]
        for k in range(classes):
            idx = np.where(labels == k)[0]
            np.random.shuffle(idx)
            p = np.random.dirichlet(np.repeat(alpha, num_clients))
            p = np.array([pj * (len(b) < n / num_clients) for pj, b in zip(p, batches)])
            p = p / p.sum()
            cuts = (np.cumsum(p) * len(idx)).astype(int)[:-1]
            batches = [b + part.tolist() for b, part in zip(batches, np.split(idx, cuts))]
            min_size = min(len(b) for b in batches)
    splits = []
    for b in batches:
        m = len(b)
        perm = np.random.permutation(m)
        n_test = m - int(np.floor(train_fraction * m))
        arr = np.array(b)
        splits.append((arr[perm[n_test:]], arr[perm[:n_test]]))
    return splits


class Cnn(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 5)
        self.conv2 = nn.Conv2d(32, 64, 5)
        self.fc1 = nn.Linear(1024, 512)
        self.fc2 = nn.Linear(512, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        return self.fc2(F.relu(self.fc1(torch.flatten(x, 1))))


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    torch.manual_seed(int(sys.argv[2]) if len(sys.argv) > 2 else 0)
    torch.set_num_threads(2)
    x, y = load_pool()
    splits = pfllib_split(y.numpy())
    global_model = Cnn()
    for r in range(1, rounds + 1):
        states, weights = [], []
        for train_idx, _ in splits:
            model = copy.deepcopy(global_model)
            opt = torch.optim.SGD(model.parameters(), lr=0.005)
            order = torch.randperm(len(train_idx))
            for b in range(0, len(order) - 9, 10):
                sel = torch.as_tensor(train_idx[order[b:b + 10].numpy()])
                opt.zero_grad()
                F.cross_entropy(model(x[sel]), y[sel]).backward()
                opt.step()
            states.append(model.state_dict())
            weights.append(len(train_idx))
        total = sum(weights)
        avg = {k: sum(w / total * s[k] for w, s in zip(weights, states)) for k in states[0]}
        global_model.load_state_dict(avg)
        correct = count = 0
        with torch.no_grad():
            for _, test_idx in splits:
                sel = torch.as_tensor(test_idx)
                correct += (global_model(x[sel]).argmax(1) == y[sel]).sum().item()
                count += len(test_idx)
        print(f"round {r} global_accuracy {100 * correct / count:.2f}", flush=True)


if __name__ == "__main__":
    main()
