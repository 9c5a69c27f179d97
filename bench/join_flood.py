#!/usr/bin/python3
"""Join floods against a running experiment (issue 14): a coordinator and two client daemons on
loopback run rounds back to back while bench/join_flood floods Join (a victim's id with wrong
tokens; then random ids). For each 15 s window it prints the honest rounds completed, the
coordinator's resident memory and how many bytes its log grew, beside the same numbers measured
without a flood in the same run (ratios, not absolute times).

  bench/join_flood.py [--build build] [--window 15] [--threads 4] [--tailor PATH]
(--tailor: another build's binary, e.g. an older commit's, to compare.)
"""
import argparse
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

CONFIG = """
name: "flood"
seed: 5
rounds: 100000
data { num_clients: 2 max_samples: 400 }
train { learning_rate: 0.05 local_epochs: 1 }
algorithm { name: "fedavg" }
eval { every_rounds: 100000 }
"""


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def rounds_done(log_path):
    with open(log_path, errors="replace") as f:
        return len(re.findall(r"event=round_complete ", f.read()))


def throttled_lines(path):
    """Lines where a client daemon was refused for rate (its own requests)."""
    with open(path, errors="replace") as f:
        return sum("RESOURCE_EXHAUSTED" in line for line in f)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--window", type=float, default=15)
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--tailor", default="")
    args = ap.parse_args()
    tailor = os.path.abspath(args.tailor or os.path.join(args.build, "tools/tailor"))
    flood = os.path.abspath(os.path.join(args.build, "bench/join_flood"))
    work = tempfile.mkdtemp(prefix="join-flood-")
    port = random.randint(20000, 40000)
    address = f"127.0.0.1:{port}"
    tokens = {i: os.urandom(16).hex() for i in range(2)}
    with open(f"{work}/exp.textproto", "w") as f:
        f.write(CONFIG)
    with open(f"{work}/tokens", "w") as f:
        f.writelines(f"{i} {t}\n" for i, t in tokens.items())
    for i, t in tokens.items():
        with open(f"{work}/token{i}", "w") as f:
            f.write(t)
    procs = []
    coord_log = f"{work}/coordinator.log"
    coordinator = subprocess.Popen(
        [tailor, "coordinator", f"--config={work}/exp.textproto", f"--set=output_dir={work}/out",
         f"--listen={address}", f"--client_tokens={work}/tokens", "--long_poll_s=2"],
        stdout=subprocess.DEVNULL, stderr=open(coord_log, "w"))
    procs.append(coordinator)
    for i in range(2):
        procs.append(subprocess.Popen(
            [tailor, "client", f"--config={work}/exp.textproto", f"--coordinator={address}",
             f"--client_id={i}", f"--token_file={work}/token{i}", f"--state_dir={work}/state{i}"],
            stdout=subprocess.DEVNULL, stderr=open(f"{work}/client{i}.log", "w")))
    try:
        deadline = time.time() + 120
        while rounds_done(coord_log) < 5:
            if time.time() > deadline or coordinator.poll() is not None:
                sys.exit(f"the experiment did not start; see {coord_log}")
            time.sleep(0.2)
        print(f"{'window':<22} {'rounds':>7} {'x baseline':>10} {'RSS MiB':>8} {'log KiB':>8} "
              f"{'c0 429s':>7} {'c1 429s':>7}  flood")
        baseline = None
        for name, mode in (("no flood", None), ("flood: victim's id", "victim"),
                           ("flood: random ids", "random"), ("after the floods", None)):
            r0, log0 = rounds_done(coord_log), os.path.getsize(coord_log)
            t0 = [throttled_lines(f"{work}/client{i}.log") for i in range(2)]
            flooder = None
            if mode:
                flooder = subprocess.Popen(
                    [flood, f"--target={address}", f"--mode={mode}", "--victim_id=1",
                     f"--seconds={args.window}", f"--threads={args.threads}"],
                    stdout=subprocess.PIPE, text=True)
            time.sleep(args.window)
            result = flooder.communicate()[0].strip() if flooder else ""
            rounds = rounds_done(coord_log) - r0
            baseline = baseline or rounds
            t1 = [throttled_lines(f"{work}/client{i}.log") - t0[i] for i in range(2)]
            print(f"{name:<22} {rounds:>7} {rounds / baseline:>10.2f} "
                  f"{rss_kib(coordinator.pid) / 1024:>8.1f} "
                  f"{(os.path.getsize(coord_log) - log0) / 1024:>8.1f} {t1[0]:>7} {t1[1]:>7}  {result}")
        print("c0/c1 429s: log lines where client 0 / client 1 (the victim) were refused for rate")
    finally:
        for p in procs:
            p.send_signal(signal.SIGKILL)
            p.wait()
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
