#!/usr/bin/python3
"""Reference for tests/data/pfllib_partition_test.cc: PFLlib's "dir" partition followed by its
per-client train_test_split, computed with NumPy's own legacy RandomState.

Usage: pfllib_reference.py LABELS_FILE NUM_CLIENTS ALPHA LEAST_SAMPLES TRAIN_FRACTION SEED
LABELS_FILE holds one uint8 label per sample. Prints, per client, a line "train i i i ..."
and a line "test i i i ...".

scikit-learn is not needed: train_test_split(train_size=f, shuffle=True) with no random_state
draws rng.permutation(m) from NumPy's global RandomState and takes the first m - floor(f*m)
entries as the test set; this script makes that same call.
"""
import math
import sys

import numpy as np


def pfllib_split(labels, num_clients, alpha, least, train_fraction, seed):
    """PFLlib's dir partition then split_data; returns [(train_indices, test_indices)] per client."""
    np.random.seed(seed)
    num_classes = int(labels.max()) + 1
    n = len(labels)
    min_size = 0
    while min_size < least:
        batches = [[] for _ in range(num_clients)]
        for k in range(num_classes):
            idx_k = np.where(labels == k)[0]
            np.random.shuffle(idx_k)
            p = np.random.dirichlet(np.repeat(alpha, num_clients))
            p = np.array([pj * (len(b) < n / num_clients) for pj, b in zip(p, batches)])
            p = p / p.sum()
            cuts = (np.cumsum(p) * len(idx_k)).astype(int)[:-1]
            batches = [b + part.tolist() for b, part in zip(batches, np.split(idx_k, cuts))]
            min_size = min(len(b) for b in batches)
    splits = []
    for b in batches:
        m = len(b)
        perm = np.random.permutation(m)
        n_test = m - math.floor(train_fraction * m)
        arr = np.array(b, dtype=np.int64)
        splits.append((arr[perm[n_test:]], arr[perm[:n_test]]))
    return splits


def main():
    labels = np.fromfile(sys.argv[1], dtype=np.uint8).astype(np.int64)
    splits = pfllib_split(labels, int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]),
                          float(sys.argv[5]), int(sys.argv[6]))
    for train, test in splits:
        print("train", *train.tolist())
        print("test", *test.tolist())


if __name__ == "__main__":
    main()
