#!/usr/bin/python3
"""The reference CNN trained by a plain PyTorch loop, as Python FL frameworks (PFLlib) do it:
same architecture, batch size, SGD lr 0.005, one intra-op thread, random 28x28 images.
Prints one line: batch=<B> samples_per_second=<S>."""
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


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
        x = F.relu(self.fc1(torch.flatten(x, 1)))
        return self.fc2(x)


def main():
    batch = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 6.0
    torch.set_num_threads(1)
    torch.manual_seed(1)
    n = 2000
    x = torch.rand(n, 1, 28, 28) * 2 - 1
    y = torch.randint(0, 10, (n,))
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=batch,
                                         shuffle=True, drop_last=True)
    model = Cnn()
    opt = torch.optim.SGD(model.parameters(), lr=0.005)
    loss_fn = nn.CrossEntropyLoss()
    model.train()
    samples = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        for xb, yb in loader:
            opt.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()
            samples += xb.shape[0]
    elapsed = time.perf_counter() - start
    print(f"batch={batch} samples_per_second={samples / elapsed:.1f}")


if __name__ == "__main__":
    main()
