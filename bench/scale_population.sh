#!/usr/bin/env bash
# Population scale: configs/scale_fedper_10k.textproto (FedPer, cohort 100, 5 rounds, personal
# heads on disk) at 1,000 and at 10,000 clients, alternating, REPEATS times each. Both
# populations have 7 images per client (the 1,000-client run uses the first 7,000 images), so a
# round trains the same amount and only the population differs. Each run is a
# fresh process with a fresh personal-state directory; /usr/bin/time gives its peak memory and
# metrics.jsonl its round times. Rounds 1-4 train only (the cost that must not grow with the
# population); round 5 adds the evaluation of every client.
#   bash bench/scale_population.sh BUILD_DIR [OUT=runs/scale] [REPEATS=2]
set -euo pipefail
build=$1
out=${2:-runs/scale}
repeats=${3:-2}
config=configs/scale_fedper_10k.textproto
mkdir -p "$out"
for rep in $(seq 1 "$repeats"); do
  for n in 1000 10000; do
    dir="$out/n${n}_rep${rep}"
    samples=$((n * 7))
    rm -rf "$dir"
    mkdir -p "$dir"
    /usr/bin/time -v -o "$dir/time.txt" "$build/tools/tailor" simulate --quiet \
      --config "$config" --set "name=n${n}_rep${rep},data.num_clients=$n,data.max_samples=$samples,output_dir=$dir" \
      --set "simulation.personal_state_dir=$dir/personal" > "$dir/stdout.txt"
    echo "scale: $dir done" >&2
  done
done
/usr/bin/python3 - "$out" "$repeats" <<'PY'
import json, re, statistics, sys
out, repeats = sys.argv[1], int(sys.argv[2])
rows = {}
for n in (1000, 10000):
    train, eval_s, rss, wall, files = [], [], [], [], []
    for rep in range(1, repeats + 1):
        d = f"{out}/n{n}_rep{rep}"
        recs = [json.loads(l) for l in open(f"{d}/metrics.jsonl")]
        train += [r["round_seconds"] for r in recs if "eval" not in r]
        eval_s.append(recs[-1]["eval_seconds"])
        t = open(f"{d}/time.txt").read()
        rss.append(int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", t).group(1)) / 1024)
        m = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):([\d.]+)", t)
        wall.append(int(m.group(1) or 0) * 3600 + int(m.group(2)) * 60 + float(m.group(3)))
        files.append(recs[-1]["eval"]["clients"])
    rows[n] = dict(train=statistics.median(train), train_min=min(train), train_max=max(train),
                   eval=statistics.median(eval_s), rss=max(rss), wall=statistics.median(wall),
                   evaluated=files[0])
print("| clients | training round, median s (range) | eval of all clients, s | peak RSS MiB | whole run s |")
print("|---:|---:|---:|---:|---:|")
for n, r in rows.items():
    print(f"| {n:,} | {r['train']:.2f} ({r['train_min']:.2f}–{r['train_max']:.2f}) | "
          f"{r['eval']:.1f} ({r['evaluated']:,} clients) | {r['rss']:.0f} | {r['wall']:.1f} |")
ratio = rows[10000]["train"] / rows[1000]["train"]
print(f"\ntraining round time, 10,000 / 1,000 clients: {ratio:.3f} "
      f"({'within' if abs(ratio - 1) <= 0.2 else 'NOT within'} 20%)")
print(f"peak memory, 10,000 / 1,000 clients: {rows[10000]['rss'] / rows[1000]['rss']:.3f}")
PY
