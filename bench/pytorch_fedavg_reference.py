#!/usr/bin/python3
"""An independent plain-PyTorch FedAvg (or FedPer) of the reference setup, to check Tailor's
curves against PyTorch itself on the same clients: PFLlib's partition (np.random.seed(1),
Dirichlet 0.1, least 40, 75/25 split), the reference CNN with PyTorch's default init, SGD lr
0.005, batch 10, drop_last, 1 local epoch, all 20 clients, sample-weighted averaging, accuracy
sum(correct)/sum(test) after each round. FedPer as PFLlib runs it: every client starts from the
same model, keeps its own fc2 (the head) across rounds, and only the body is averaged; each
client is evaluated with the averaged body and its own head.

  /usr/bin/python3 bench/pytorch_fedavg_reference.py ROUNDS TORCH_SEED [fedavg|fedper]
"""
import copy
import gzip
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "tests", "data"))
from pfllib_reference import pfllib_split  # noqa: E402  (the partition the tests check)
from pytorch_trainer_baseline import Cnn  # noqa: E402


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


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    torch.manual_seed(int(sys.argv[2]) if len(sys.argv) > 2 else 0)
    torch.set_num_threads(2)
    x, y = load_pool()
    fedper = len(sys.argv) > 3 and sys.argv[3] == "fedper"
    splits = pfllib_split(y.numpy(), 20, 0.1, 40, 0.75, 1)
    global_model = Cnn()
    # FedPer: each client's head, kept between rounds (all start from the initial model's).
    heads = [copy.deepcopy(global_model.fc2.state_dict()) for _ in splits]
    for r in range(1, rounds + 1):
        states, weights, losses = [], [], []
        for c, (train_idx, _) in enumerate(splits):
            model = copy.deepcopy(global_model)
            if fedper:
                model.fc2.load_state_dict(heads[c])
            opt = torch.optim.SGD(model.parameters(), lr=0.005)
            order = torch.randperm(len(train_idx))
            client_loss, steps = 0.0, 0
            for b in range(0, len(order) - 9, 10):
                sel = torch.as_tensor(train_idx[order[b:b + 10].numpy()])
                opt.zero_grad()
                loss = F.cross_entropy(model(x[sel]), y[sel])
                loss.backward()
                opt.step()
                client_loss += loss.item()
                steps += 1
            losses.append(client_loss / max(steps, 1))
            states.append(model.state_dict())
            weights.append(len(train_idx))
            if fedper:
                heads[c] = copy.deepcopy(model.fc2.state_dict())
        total = sum(weights)
        avg = {k: sum(w / total * s[k] for w, s in zip(weights, states)) for k in states[0]}
        global_model.load_state_dict(avg)
        correct = count = 0
        with torch.no_grad():
            for c, (_, test_idx) in enumerate(splits):
                sel = torch.as_tensor(test_idx)
                model = global_model
                if fedper:
                    model = copy.deepcopy(global_model)
                    model.fc2.load_state_dict(heads[c])
                correct += (model(x[sel]).argmax(1) == y[sel]).sum().item()
                count += len(test_idx)
        label = "personalized_accuracy" if fedper else "global_accuracy"
        # The sample-weighted mean of the clients' mean batch losses, as Tailor's train_loss.
        train_loss = sum(w * l for w, l in zip(weights, losses)) / total
        print(f"round {r} {label} {100 * correct / count:.2f} train_loss {train_loss:.4f}",
              flush=True)


if __name__ == "__main__":
    main()
