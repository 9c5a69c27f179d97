#!/usr/bin/python3
"""Prints one comparison line from paired measurements of Tailor and a baseline taken in the
same run (bench/compare_trainer.sh, bench/compare_lm_trainer.sh): both medians, the ratio of
the medians and the range of the paired ratios.
  bench/median_ratio.py LABEL UNIT "TAILOR VALUES" "BASELINE VALUES\""""
import statistics
import sys

label, unit = sys.argv[1], sys.argv[2]
t = [float(x) for x in sys.argv[3].split()]
p = [float(x) for x in sys.argv[4].split()]
ratios = sorted(a / b for a, b in zip(t, p))
print(f"{label}: tailor median {statistics.median(t):9.1f} {unit}  "
      f"pytorch-python median {statistics.median(p):9.1f} {unit}  "
      f"ratio of medians {statistics.median(t) / statistics.median(p):.2f}x  "
      f"(paired ratios {ratios[0]:.2f}..{ratios[-1]:.2f}, {len(t)} pairs)")
