#!/usr/bin/python3
"""The language-model table of docs/benchmarks.md from runs' metrics.jsonl (one run per
algorithm, same data and seed). Per client: bits per byte of its own model on its test texts
at the last evaluation. "global" is the best non-personalized run of the table (its model is
the same for every client): a client improved when its own model scores fewer bits per byte
than that global model on the same test set; the gain is relative to the global model's bpb.
A second table gives each algorithm's median bits per byte per language (a fortune file's
directory: cs, de, es, it, pl, ru; the top-level files are English but brasil, Portuguese).
Runs after --unseen are the same algorithms with other eval.new_client_epochs: a third table
gives the held-out clients' bits per byte after k epochs of their algorithm's local training
from the final global model.
  bench/lm_table.py RUN_DIR [RUN_DIR...] [--unseen RUN_DIR...]"""
import json
import statistics
import sys


def load(run):
    last, start, uploads, seconds, name = None, None, [], [], run
    for line in open(f"{run}/metrics.jsonl"):
        r = json.loads(line)
        name = r.get("run", name)
        if r["round"] == 0:  # eval.at_start: the initial model, before any round
            start = r
            continue
        uploads.append(r.get("upload_bytes", 0))
        seconds.append(r.get("round_seconds", 0))
        if "eval" in r:
            last = r
    algorithm = open(f"{run}/config.resolved.textproto").read().split('algorithm {')[1]
    algorithm = algorithm.split('name: "')[1].split('"')[0]
    resolved = open(f"{run}/config.resolved.textproto").read()
    epochs = int(resolved.split("new_client_epochs: ")[1].split()[0]) \
        if "new_client_epochs: " in resolved else 1
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
    result = dict(run=name, algorithm=algorithm, clients=clients, micro=e["personalized_bpb"],
                  names=[names.get(i, "?") for i in range(len(clients))],
                  global_model=glob is not None and abs(glob - e["personalized_bpb"]) < 1e-12,
                  new=last.get("new_clients", {}).get("personalized_bpb"), epochs=epochs,
                  upload=statistics.mean(uploads), seconds=statistics.mean(seconds))
    if start is not None and result["global_model"]:
        # The initial model (the pretrained base) as a row of its own: nothing trained, nothing
        # sent; its held-out clients trained for k epochs from the base.
        s = start["eval"]
        result["start"] = dict(result, algorithm="pretrained base", clients=s["client_bpb"],
                               micro=s["personalized_bpb"], upload=0, seconds=0,
                               new=start.get("new_clients", {}).get("personalized_bpb"))
    return result


def quantile(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * (len(xs) - 1) + 0.5))]


def main():
    args = sys.argv[1:]
    unseen = args[args.index("--unseen") + 1:] if "--unseen" in args else []
    runs = []
    for r in (args[:args.index("--unseen")] if unseen else args):
        run = load(r)
        runs += [run.pop("start")] if "start" in run else []
        runs.append(run)
    baselines = [r for r in runs if r["global_model"]]
    base = min(baselines, key=lambda r: r["micro"]) if baselines else None
    print(f"global model: {base['algorithm'] if base else 'none'} "
          f"({base['micro']:.3f} bpb)" if base else "global model: none")
    print("| algorithm | bpb (micro) | mean | median | p10 | p90 | improved over global |"
          " median gain | new clients | upload/round | s/round |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in runs:
        c = r["clients"]
        improved = gain = "-"
        if base is not None and r is not base:
            pairs = list(zip(c, base["clients"]))
            improved = f"{sum(a < b for a, b in pairs) / len(pairs):.0%}"
            gain = f"{statistics.median((b - a) / b for a, b in pairs):+.1%}"
        new = f"{r['new']:.3f}" if r["new"] is not None else "-"
        print(f"| {r['algorithm']} | {r['micro']:.3f} | {statistics.mean(c):.3f} | "
              f"{statistics.median(c):.3f} | "
              f"{quantile(c, 0.1):.3f} | {quantile(c, 0.9):.3f} | {improved} | {gain} | {new} | "
              + (f"{r['upload'] / 1e3:.1f} kB | {r['seconds']:.1f} |" if r["seconds"] else "- | - |"))
    by_language(runs)
    if unseen:
        by_epochs([r for r in runs if r["algorithm"] != "pretrained base"] +
                  [load(r) for r in unseen])


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


def by_epochs(runs):
    """Held-out clients' bits per byte (micro) against their epochs of local training."""
    epochs = sorted({r["epochs"] for r in runs})
    print()
    print("| algorithm | " + " | ".join(f"k = {k}" for k in epochs) + " |")
    print("|---|" + "---|" * len(epochs))
    for algorithm in dict.fromkeys(r["algorithm"] for r in runs):
        by_k = {r["epochs"]: r["new"] for r in runs if r["algorithm"] == algorithm}
        if len(by_k) < 2:
            continue
        print(f"| {algorithm} | " + " | ".join(
            f"{by_k[k]:.3f}" if by_k.get(k) is not None else "-" for k in epochs) + " |")


if __name__ == "__main__":
    main()
