#!/usr/bin/python3
"""The language-model table of docs/benchmarks.md from runs' metrics.jsonl (one run per
algorithm, same data and seed). Per client: bits per byte of its own model on its test texts
at the last evaluation. "global" is the best non-personalized run of the table (its model is
the same for every client): a client improved when its own model scores fewer bits per byte
than that global model on the same test set; the gain is relative to the global model's bpb.
A second table gives each algorithm's median bits per byte per language (a fortune file's
directory: cs, de, es, it, pl, ru; the top-level files are English but brasil, Portuguese).
  bench/lm_table.py RUN_DIR [RUN_DIR...]"""
import json
import statistics
import sys


def load(run):
    last, uploads, seconds, name, personalized = None, [], [], run, True
    for line in open(f"{run}/metrics.jsonl"):
        r = json.loads(line)
        name = r.get("run", name)
        uploads.append(r.get("upload_bytes", 0))
        seconds.append(r.get("round_seconds", 0))
        if "eval" in r:
            last = r
    algorithm = open(f"{run}/config.resolved.textproto").read().split('algorithm {')[1]
    algorithm = algorithm.split('name: "')[1].split('"')[0]
    e = last["eval"]
    clients = e["client_bpb"]
    glob = e.get("global_bpb")
    names = {}
    try:
        for line in open(f"{run}/data.txt"):
            if not line.startswith("#"):
                fields = line.split("\t")
                names[int(fields[0])] = fields[1]
    except FileNotFoundError:
        pass
    return dict(run=name, algorithm=algorithm, clients=clients, micro=e["personalized_bpb"],
                names=[names.get(i, "?") for i in range(len(clients))],
                global_model=glob is not None and abs(glob - e["personalized_bpb"]) < 1e-12,
                new=last.get("new_clients", {}).get("personalized_bpb"),
                upload=statistics.mean(uploads), seconds=statistics.mean(seconds))


def quantile(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * (len(xs) - 1) + 0.5))]


def main():
    runs = [load(r) for r in sys.argv[1:]]
    baselines = [r for r in runs if r["global_model"]]
    base = min(baselines, key=lambda r: r["micro"]) if baselines else None
    print(f"global model: {base['algorithm'] if base else 'none'} "
          f"({base['micro']:.3f} bpb)" if base else "global model: none")
    print("| algorithm | bpb (micro) | median | p10 | p90 | improved over global | median gain |"
          " new clients | upload/round | s/round |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in runs:
        c = r["clients"]
        improved = gain = "-"
        if base is not None and r is not base:
            pairs = list(zip(c, base["clients"]))
            improved = f"{sum(a < b for a, b in pairs) / len(pairs):.0%}"
            gain = f"{statistics.median((b - a) / b for a, b in pairs):+.1%}"
        new = f"{r['new']:.3f}" if r["new"] is not None else "-"
        print(f"| {r['algorithm']} | {r['micro']:.3f} | {statistics.median(c):.3f} | "
              f"{quantile(c, 0.1):.3f} | {quantile(c, 0.9):.3f} | {improved} | {gain} | {new} | "
              f"{r['upload'] / 1e3:.1f} kB | {r['seconds']:.1f} |")
    by_language(runs)


def language(name):
    if "/" in name:
        return name.split("/")[0]
    return "pt" if name == "brasil" else "en"


def by_language(runs):
    languages = sorted({language(n) for r in runs for n in r["names"]})
    print()
    print("| algorithm | " + " | ".join(f"{l} (clients)" for l in languages) + " |")
    print("|---|" + "---|" * len(languages))
    for r in runs:
        cells = []
        for l in languages:
            values = [v for n, v in zip(r["names"], r["clients"]) if language(n) == l]
            cells.append(f"{statistics.median(values):.3f} ({len(values)})" if values else "-")
        print(f"| {r['algorithm']} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
