#!/usr/bin/env python3
"""Every algorithm, new-client evaluation included, through `tailor simulate` and one
`tailor report`, rendered by headless Chromium.

Runs each algorithm for 2 rounds on a small Dirichlet split (2 clients of 8 held out as new
clients), reports on their parent directory, then checks:
  * every run's metrics.jsonl has a new-client evaluation with a valid accuracy;
  * the report is self-contained (no http(s) fetches, no scripts);
  * Chromium renders it: the screenshot is not blank and every run's colour is drawn, and the
    rendered DOM names every run and shows a new-clients value for each.

usage: report_render_test.py TAILOR_BINARY
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

from PIL import Image

ALGORITHMS = ["fedavg", "fedprox", "fedavg_ft", "fedper", "fedrep", "lg_fedavg", "fedbabu",
              "ditto", "apfl", "fedbn", "fedala", "local"]
# sim/svg_plot.cc's palette, in run order.
COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
          "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f"]

CONFIG = """name: "{name}"
seed: 3
rounds: 2
data {{ num_clients: 8 max_samples: 1600 dirichlet {{ alpha: 0.5 min_samples_per_client: 40 }} }}
model {{ architecture: "{arch}" }}
train {{ learning_rate: 0.02 batch_size: 20 }}
algorithm {{ name: "{name}" }}
eval {{ new_clients: 2 }}
simulation {{ workers: 2 intra_op_threads: 1 }}
output_dir: "{out}"
"""


def fail(message):
    print("FAIL:", message)
    sys.exit(1)


def chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    fail("no chromium on PATH (deploy/install-deps.sh installs Debian's chromium)")


def main():
    tailor = sys.argv[1]
    work = tempfile.mkdtemp(prefix="tailor_report_")
    configs, dirs = [], []
    for name in ALGORITHMS:
        out = os.path.join(work, name)
        arch = "fmnist_cnn_bn" if name == "fedbn" else "mlp_small"
        path = os.path.join(work, name + ".textproto")
        with open(path, "w") as f:
            f.write(CONFIG.format(name=name, arch=arch, out=out))
        configs.append(path)
        dirs.append(out)
    run = subprocess.run([tailor, "simulate", "--quiet", "--config", ",".join(configs)],
                         capture_output=True, text=True)
    if run.returncode != 0:
        fail("tailor simulate failed:\n" + run.stdout + run.stderr)

    for name, out in zip(ALGORITHMS, dirs):
        lines = [json.loads(l) for l in open(os.path.join(out, "metrics.jsonl")) if l.strip()]
        fresh = lines[-1].get("new_clients")
        if fresh is None:
            fail(f"{name}: no new-client evaluation in metrics.jsonl")
        if fresh["clients"] != 2 or not 0 <= fresh["personalized_accuracy"] <= 1:
            fail(f"{name}: bad new-client evaluation {fresh}")
        if lines[-1]["eval"]["clients"] != 6:
            fail(f"{name}: the held-out clients were evaluated with the training ones")
        if lines[-1]["cohort"] != 6:
            fail(f"{name}: a held-out client trained (cohort {lines[-1]['cohort']})")

    # The parent directory stands for every run directory in it.
    report = os.path.join(work, "report.html")
    run = subprocess.run([tailor, "report", work, "--out", report], capture_output=True,
                         text=True)
    if run.returncode != 0 or f"({len(ALGORITHMS)} runs)" not in run.stdout:
        fail("tailor report failed:\n" + run.stdout + run.stderr)
    html = open(report).read()
    if re.search(r"(src|href)\s*=\s*[\"']?(https?:)?//", html) or "<script" in html:
        fail("the report fetches something or runs a script")

    browser = chromium()
    common = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
              "--user-data-dir=" + os.path.join(work, "profile")]
    shot = os.path.join(work, "shot.png")
    subprocess.run(common + ["--window-size=1200,3000", "--screenshot=" + shot,
                             "file://" + report], capture_output=True, timeout=120)
    if not os.path.exists(shot):
        fail("chromium wrote no screenshot")
    image = Image.open(shot).convert("RGB")
    pixels = list(image.getdata())
    non_white = sum(1 for p in pixels if p != (255, 255, 255))
    if non_white < 0.02 * len(pixels):
        fail(f"the rendered page is blank ({non_white} non-white pixels of {len(pixels)})")
    present = set(pixels)
    for i, color in enumerate(COLORS[:len(ALGORITHMS)]):
        rgb = tuple(int(color[k:k + 2], 16) for k in (1, 3, 5))
        if rgb not in present:
            fail(f"run {ALGORITHMS[i]}'s colour {color} is not drawn")

    dom = subprocess.run(common + ["--dump-dom", "file://" + report], capture_output=True,
                         text=True, timeout=120).stdout
    text = re.sub(r"<[^>]+>", " ", dom)
    for name in ALGORITHMS:
        if not re.search(r"\b%s \(%s\)" % (name, name), text):
            fail(f"the rendered page does not show run {name}")
        # Its table's last row: round 2, then six numbers or dashes, the sixth the new clients'.
        table = text.split(f"{name} ({name})", 1)[1]
        rows = re.findall(r"\b2\s+([\d.]+)\s+([\d.]+)\s+([\d.-]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)",
                          table)
        if not rows:
            fail(f"run {name}: no round-2 row with a new-clients accuracy")
    print(f"ok: {len(ALGORITHMS)} algorithms, new clients and report rendered "
          f"({non_white / len(pixels):.1%} of the page drawn)")
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
