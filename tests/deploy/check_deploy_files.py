#!/usr/bin/python3
"""Checks the deploy files against the code: the systemd units pass `systemd-analyze verify`
(with ExecStart pointed at the built binary), the compose and Kubernetes files parse, use only
the image the Dockerfile builds, only flags and subcommands `tailor` has, declared volumes, and
consistent ports.  Usage: check_deploy_files.py REPO_ROOT TAILOR_BINARY"""
import os
import re
import subprocess
import sys
import tempfile

import yaml

root, tailor = sys.argv[1], sys.argv[2]
failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL:", msg)


helpfull = subprocess.run([tailor, "--helpfull"], capture_output=True, text=True).stdout
known_flags = set(re.findall(r"--([a-z_]+)", helpfull))
subcommands = set(re.findall(r"tailor (\w+)", subprocess.run([tailor, "help"], capture_output=True, text=True).stdout))


def check_args(where, args):
    text = " ".join(args)
    for flag in re.findall(r"--([a-z_]+)", text):
        if flag not in known_flags:
            fail(f"{where}: unknown flag --{flag}")
    words = [a for a in re.split(r"\s+", text) if a and not a.startswith("-")]
    sub = next((w for w in words if w in ("coordinator", "client", "simulate", "status", "help")), None)
    if sub is None or sub not in subcommands:
        fail(f"{where}: no known tailor subcommand in {text[:80]}")


# systemd
with tempfile.TemporaryDirectory() as tmp:
    for unit, instance in (("tailor-coordinator.service", "tailor-coordinator.service"),
                           ("tailor-client@.service", "tailor-client@3.service")):
        src = open(os.path.join(root, "deploy/systemd", unit)).read()
        open(os.path.join(tmp, unit), "w").write(src.replace("/usr/local/bin/tailor", tailor))
        r = subprocess.run(["systemd-analyze", "verify", os.path.join(tmp, instance)],
                           capture_output=True, text=True, cwd=tmp)
        out = (r.stdout + r.stderr).strip()
        if r.returncode != 0 or out:
            fail(f"systemd-analyze verify {unit}: rc={r.returncode} {out}")
        execs = [l.split("=", 1)[1] for l in src.splitlines() if l.startswith("ExecStart=")]
        check_args(unit, execs)

# Dockerfile builds the image everything else names.
dockerfile = open(os.path.join(root, "deploy/Dockerfile")).read()
if "install -m 0755 /build/tools/tailor /usr/local/bin/tailor" not in dockerfile:
    fail("Dockerfile does not install the tailor binary where the manifests expect it")
IMAGE = "tailor:latest"

# compose
compose = yaml.safe_load(open(os.path.join(root, "deploy/docker-compose.yml")))
declared = set(compose.get("volumes", {}))
for name, svc in compose["services"].items():
    if svc.get("image") != IMAGE:
        fail(f"compose {name}: image {svc.get('image')} is not {IMAGE}")
    check_args(f"compose {name}", svc["command"])
    for v in svc.get("volumes", []):
        src = v.split(":")[0]
        if src.startswith(".") or src.startswith("/"):
            path = os.path.normpath(os.path.join(root, "deploy", src))
            if src.startswith("../") and not os.path.exists(path):
                fail(f"compose {name}: bind mount {src} does not exist")
        elif src not in declared:
            fail(f"compose {name}: volume {src} is not declared")
    for dep in svc.get("depends_on", []):
        if dep not in compose["services"]:
            fail(f"compose {name}: depends on unknown service {dep}")

# Kubernetes
ports = {}
for fname in ("coordinator.yaml", "clients.yaml"):
    for doc in yaml.safe_load_all(open(os.path.join(root, "deploy/kubernetes", fname))):
        if doc["kind"] == "Service":
            ports[doc["metadata"]["name"]] = {p["targetPort"] for p in doc["spec"]["ports"]}
            continue
        spec = doc["spec"]["template"]["spec"]
        volumes = {v["name"] for v in spec.get("volumes", [])}
        volumes |= {t["metadata"]["name"] for t in doc["spec"].get("volumeClaimTemplates", [])}
        for c in spec["containers"]:
            if c["image"] != IMAGE:
                fail(f"{fname}: image {c['image']} is not {IMAGE}")
            check_args(f"{fname} {c['name']}", c.get("command", [])[2:] + c["args"])
            for m in c.get("volumeMounts", []):
                if m["name"] not in volumes:
                    fail(f"{fname} {c['name']}: mounts undeclared volume {m['name']}")
            named = {p["name"]: p["containerPort"] for p in c.get("ports", [])}
            ports.setdefault("container:" + doc["metadata"]["name"], set()).update(named.values())
            for probe in ("livenessProbe", "readinessProbe"):
                port = c.get(probe, {}).get("httpGet", {}).get("port")
                if port is not None and port not in named and port not in named.values():
                    fail(f"{fname} {c['name']}: {probe} uses undeclared port {port}")
            # A port a flag listens on must be declared on the container.
            for a in c["args"]:
                m = re.match(r"--(listen|metrics_listen)=.*:([0-9]+)$", a)
                if m and int(m.group(2)) not in named.values():
                    fail(f"{fname} {c['name']}: {a} listens on an undeclared port")
if ports.get("tailor-coordinator") != ports.get("container:tailor-coordinator"):
    fail(f"Service targetPorts and container ports differ: {ports}")

print(f"{len(failures)} failed" if failures else "deploy files: all checks passed")
sys.exit(1 if failures else 0)
