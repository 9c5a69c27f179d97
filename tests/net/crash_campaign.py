#!/usr/bin/env python3
"""Crash campaign: a real coordinator and client daemons on loopback, the coordinator SIGKILLed
at uniformly random moments (and random clients with it), restarted each time, until the
experiment completes. Then the record must be true:

  - every round exactly once and in order, in metrics.jsonl and in coordinator.db;
  - nothing committed lost or changed: every metrics line seen before a kill is in the final
    file unchanged;
  - epsilon (under DP) never lower after a restart;
  - the final model bit-identical to the uninterrupted run (`tailor simulate`, same config);
  - every client's personal state file valid (its SHA-256 trailer matches);
  - no process left behind.

Prints one JSON line of figures (kills, rounds, lost, duplicates, mismatches, longest stall) and
exits 1 when any check fails.

  python3 tests/net/crash_campaign.py --tailor build/tools/tailor --algorithm fedper \
      --coordinator-kills 100 --client-kills 30 --rounds 150
"""
import argparse
import hashlib
import json
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time

ALGORITHMS = {
    "fedavg": 'algorithm { name: "fedavg" }',
    "fedadam": 'algorithm { name: "fedavg" }\n'
               'server { optimizer: "fedadam" server_learning_rate: 0.01 }',
    "fedper": 'algorithm { name: "fedper" }',
    "ditto": 'algorithm { name: "ditto" }',
    # Client-level DP with reproducible noise (so the run can be compared bit for bit); every
    # client each round keeps cohorts complete.
    "dp": 'algorithm { name: "fedper" }\n'
          'privacy { clip_norm: 0.01 noise_multiplier: 1.0 sampling_rate: 1 noise: "reproducible" }',
}

NUM_CLIENTS = 4


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def config_text(algorithm, rounds, seed):
    return f"""
name: "crash"
seed: {seed}
rounds: {rounds}
data {{ num_clients: {NUM_CLIENTS} max_samples: 400 }}
train {{ learning_rate: 0.02 batch_size: 10 }}
{ALGORITHMS[algorithm]}
eval {{ every_rounds: 100000 }}
"""


def read_lines(path):
    """The complete lines of a JSONL file (a line being written is left out)."""
    try:
        with open(path) as f:
            text = f.read()
    except FileNotFoundError:
        return []
    return [l for l in text.split("\n")[:-1] if l]


def tlps_valid(path):
    with open(path, "rb") as f:
        data = f.read()
    return len(data) > 32 and hashlib.sha256(data[:-32]).digest() == data[-32:]


class Campaign:
    def __init__(self, args):
        self.args = args
        self.rng = random.Random(args.seed)
        self.work = tempfile.mkdtemp(prefix="tailor-crash-")
        self.port = free_port()
        self.procs = []  # every process started, to check none is left behind
        self.failures = []
        with open(f"{self.work}/exp.textproto", "w") as f:
            f.write(config_text(args.algorithm, args.rounds, args.seed))
        with open(f"{self.work}/tokens", "w") as f:
            for i in range(NUM_CLIENTS):
                f.write(f"{i} secret-{i}\n")
        for i in range(NUM_CLIENTS):
            with open(f"{self.work}/token{i}", "w") as f:
                f.write(f"secret-{i}")

    def spawn(self, argv, log):
        p = subprocess.Popen(argv, stdout=open(f"{self.work}/{log}", "a"),
                             stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.procs.append(p)
        return p

    def coordinator(self):
        return self.spawn([self.args.tailor, "coordinator", f"--config={self.work}/exp.textproto",
                           f"--set=output_dir={self.work}/coord",
                           f"--listen=127.0.0.1:{self.port}",
                           f"--client_tokens={self.work}/tokens", "--long_poll_s=2",
                           "--heartbeat_timeout_s=0", "--round_timeout_s=3600"],
                          "coordinator.log")

    def client(self, i):
        return self.spawn([self.args.tailor, "client", f"--config={self.work}/exp.textproto",
                           f"--coordinator=127.0.0.1:{self.port}", f"--client_id={i}",
                           f"--token_file={self.work}/token{i}",
                           f"--state_dir={self.work}/state{i}", "--heartbeat_s=1"],
                          f"client{i}.log")

    def fail(self, what):
        self.failures.append(what)

    def run(self):
        a = self.args
        metrics = f"{self.work}/coord/metrics.jsonl"
        # The uninterrupted reference, from the same config.
        sim = subprocess.run([a.tailor, "simulate", f"--config={self.work}/exp.textproto",
                              f"--set=output_dir={self.work}/sim", "--quiet"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, timeout=1800)
        if sim.returncode != 0:
            self.fail(f"the reference simulation exited {sim.returncode}")
            return self.report(0, 0, 0.0)

        coord = self.coordinator()
        clients = [self.client(i) for i in range(NUM_CLIENTS)]
        # round -> the first metrics line seen for it. Every line seen was committed (the file is
        # rebuilt from the database), so the final file must hold it unchanged: nothing lost,
        # nothing counted twice, epsilon never lower after a restart.
        seen = {}
        coordinator_kills = client_kills = 0
        last_progress = time.monotonic()
        longest_stall = 0.0
        deadline = time.monotonic() + a.timeout
        while True:
            # A uniformly random moment in the coordinator's life, then SIGKILL.
            wait_until = time.monotonic() + self.rng.uniform(a.min_interval, a.max_interval)
            while time.monotonic() < wait_until and coord.poll() is None:
                time.sleep(0.02)
                for line in read_lines(metrics):
                    r = json.loads(line)
                    if r["round"] not in seen:
                        seen[r["round"]] = line
                        last_progress = time.monotonic()
                longest_stall = max(longest_stall, time.monotonic() - last_progress)
            if coord.poll() is not None:
                break  # finished (or failed) on its own
            if time.monotonic() > deadline:
                self.fail(f"not finished after {a.timeout} s")
                break
            if coordinator_kills < a.coordinator_kills:
                coord.send_signal(signal.SIGKILL)
                coord.wait()
                coordinator_kills += 1
                coord = self.coordinator()
            if client_kills < a.client_kills and self.rng.random() < a.client_kill_probability:
                i = self.rng.randrange(NUM_CLIENTS)
                last_round_committed = any(json.loads(l)["round"] == a.rounds
                                           for l in read_lines(metrics))
                if last_round_committed or clients[i].poll() is not None:
                    # The coordinator killed just now had finished its last round: its clients
                    # were told (or are being told) that the experiment is over, and one started
                    # now would wait for a coordinator that is not coming.
                    continue
                clients[i].send_signal(signal.SIGKILL)
                clients[i].wait()
                client_kills += 1
                clients[i] = self.client(i)
        coord.wait(timeout=max(1, deadline - time.monotonic()))
        if coord.returncode != 0:
            self.fail(f"the coordinator exited {coord.returncode}")
        for i, c in enumerate(clients):
            try:
                if c.wait(timeout=60) != 0:
                    self.fail(f"client {i} exited {c.returncode}")
            except subprocess.TimeoutExpired:
                self.fail(f"client {i} still running 60 s after the coordinator finished")
        self.check(seen)
        return self.report(coordinator_kills, client_kills, longest_stall)

    def check(self, seen):
        a = self.args
        lines = read_lines(f"{self.work}/coord/metrics.jsonl")
        rounds = [json.loads(l)["round"] for l in lines]
        self.duplicates = len(rounds) - len(set(rounds))
        self.lost = len([r for r in seen if r not in rounds])
        self.mismatches = 0
        final_by_round = {json.loads(l)["round"]: l for l in lines}
        for r, line in seen.items():
            if r in final_by_round and final_by_round[r] != line:
                self.mismatches += 1
        if rounds != list(range(1, a.rounds + 1)):
            self.fail(f"metrics.jsonl holds rounds {rounds[:5]}... ({len(rounds)} lines), "
                      f"not 1..{a.rounds} once each in order")
        if self.lost or self.mismatches:
            self.fail(f"{self.lost} committed rounds lost, {self.mismatches} changed")
        epsilons = [json.loads(l).get("privacy", {}).get("epsilon") for l in lines]
        if any(e is not None for e in epsilons):
            if any(b < x for x, b in zip(epsilons, epsilons[1:])):
                self.fail("epsilon decreases along the committed rounds")
        db = sqlite3.connect(f"{self.work}/coord/coordinator.db")
        db_rounds = [r for (r,) in db.execute("SELECT round FROM rounds ORDER BY round")]
        db.close()
        if db_rounds != list(range(1, a.rounds + 1)):
            self.fail(f"coordinator.db holds {len(db_rounds)} rounds, not 1..{a.rounds}")
        try:
            with open(f"{self.work}/coord/final_shared.tlps", "rb") as f:
                net = f.read()
            with open(f"{self.work}/sim/final_shared.tlps", "rb") as f:
                ref = f.read()
            self.model_identical = net == ref
        except FileNotFoundError as e:
            self.model_identical = False
            self.fail(f"no final model: {e}")
        if not self.model_identical:
            self.fail("the final model differs from the uninterrupted simulation's")
        # Every state file valid; no temporary file of a write cut short by a kill left behind
        # (each restarted process removes them before it writes).
        self.states = 0
        dirs = [f"{self.work}/state{i}/crash" for i in range(NUM_CLIENTS)]
        for d in dirs + [f"{self.work}/coord/models"]:
            for name in os.listdir(d) if os.path.isdir(d) else []:
                if ".tmp." in name:
                    self.fail(f"a temporary file was left behind: {d}/{name}")
                elif not tlps_valid(f"{d}/{name}"):
                    self.fail(f"{d}/{name} is not a valid TLPS file")
                elif "/state" in d:
                    self.states += 1
        alive = [p.pid for p in self.procs if p.poll() is None]
        if alive:
            self.fail(f"processes left behind: {alive}")
            for p in self.procs:
                if p.poll() is None:
                    p.kill()

    def rejoin_seconds(self):
        """For every coordinator start: seconds from `listening` until every client joined it
        (starts that were killed before all had joined are left out)."""
        times, start, joined = [], None, set()
        try:
            with open(f"{self.work}/coordinator.log") as f:
                log = f.read().splitlines()
        except FileNotFoundError:
            return times
        for line in log:
            if not line.startswith("ts="):
                continue
            ts = line[3:line.index(" ")]
            t = time.mktime(time.strptime(ts[:19], "%Y-%m-%dT%H:%M:%S")) + float(ts[19:-1] or 0)
            if "event=listening" in line:
                start, joined = t, set()
            elif "event=client_joined" in line and start is not None:
                joined.add(line.split("client=")[1].split()[0])
                if len(joined) == NUM_CLIENTS:
                    times.append(t - start)
                    start = None
        return times

    def report(self, coordinator_kills, client_kills, longest_stall):
        rejoin = sorted(self.rejoin_seconds())
        figures = {
            "algorithm": self.args.algorithm,
            "rounds": self.args.rounds,
            "coordinator_kills": coordinator_kills,
            "client_kills": client_kills,
            "rounds_lost": getattr(self, "lost", None),
            "duplicates": getattr(self, "duplicates", None),
            "mismatches": getattr(self, "mismatches", None),
            "model_bit_identical": getattr(self, "model_identical", False),
            "personal_state_files": getattr(self, "states", 0),
            "longest_stall_s": round(longest_stall, 2),
            "rejoin_all_clients_s_median": round(rejoin[len(rejoin) // 2], 2) if rejoin else None,
            "rejoin_all_clients_s_max": round(rejoin[-1], 2) if rejoin else None,
            "failures": self.failures,
        }
        print(json.dumps(figures))
        if self.failures:
            print(f"work directory kept: {self.work}", file=sys.stderr)
        else:
            subprocess.run(["rm", "-rf", self.work])
        return 0 if not self.failures else 1


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--tailor", required=True)
    p.add_argument("--algorithm", choices=sorted(ALGORITHMS), default="fedper")
    p.add_argument("--rounds", type=int, default=20)
    p.add_argument("--coordinator-kills", type=int, default=10)
    p.add_argument("--client-kills", type=int, default=3)
    p.add_argument("--client-kill-probability", type=float, default=0.3)
    p.add_argument("--min-interval", type=float, default=0.3,
                   help="seconds after a (re)start before the earliest kill")
    p.add_argument("--max-interval", type=float, default=3.0)
    p.add_argument("--timeout", type=float, default=1500)
    p.add_argument("--seed", type=int, default=1)
    sys.exit(Campaign(p.parse_args()).run())


if __name__ == "__main__":
    main()
