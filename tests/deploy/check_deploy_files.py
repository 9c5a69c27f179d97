#!/usr/bin/python3
"""Checks the deploy files against the code: the systemd units pass `systemd-analyze verify`
(with ExecStart pointed at the built binary), the compose and Kubernetes files parse, use only
the image the Dockerfile builds, only flags and subcommands `tailor` has, declared volumes, and
consistent ports.  And that they keep secrets secret and processes confined: no secret in the
Docker build context, the image runs as a non-root user and is named by a version (never
:latest), every service and pod gets only its own key and token (never the CA's key, never
another client's), pods run non-root with a restricted securityContext and resource limits,
/metrics is not exposed beyond loopback or a NetworkPolicy, and the systemd units load secrets
with LoadCredential= and cap memory.  Usage: check_deploy_files.py REPO_ROOT TAILOR_BINARY"""
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
        # DynamicUser cannot read 0600 root-owned secrets: they must come through LoadCredential
        # (read back as %d/NAME), never as a path under /etc.
        credentials = {l.split("=", 1)[1].split(":", 1)[0]
                       for l in src.splitlines() if l.startswith("LoadCredential=")}
        for flag in ("token_file", "tls_key", "client_tokens", "operator_token_file"):
            for value in re.findall(rf"--{flag}=(\S+)", " ".join(execs)):
                name = value[3:] if value.startswith("%d/") else None
                if name is None or name not in credentials:
                    fail(f"{unit}: --{flag}={value} is not a LoadCredential= secret (%d/NAME)")
        if not re.search(r"^MemoryMax=\S+", src, re.M):
            fail(f"{unit}: no MemoryMax=")
        if "DynamicUser=yes" not in src:
            fail(f"{unit}: not DynamicUser=yes")
        for m in re.findall(r"--metrics_listen=(\S+)", " ".join(execs)):
            if not m.startswith("127.0.0.1:"):
                fail(f"{unit}: --metrics_listen={m} is not loopback")

# Dockerfile builds the image everything else names.
dockerfile = open(os.path.join(root, "deploy/Dockerfile")).read()
if "install -m 0755 /build/tools/tailor /usr/local/bin/tailor" not in dockerfile:
    fail("Dockerfile does not install the tailor binary where the manifests expect it")
version = re.search(r"project\(tailor VERSION ([0-9.]+)", open(os.path.join(root, "CMakeLists.txt")).read())
IMAGE = f"tailor:{version.group(1) if version else 'unversioned'}"
if not version:
    fail("CMakeLists.txt: project(tailor VERSION x.y.z) names no version for the image tag")
user = re.findall(r"^USER\s+(\S+)", dockerfile, re.M)
if not user or user[-1].split(":")[0] in ("0", "root"):
    fail(f"Dockerfile: the image must end with a non-root USER (got {user})")
if IMAGE not in dockerfile:
    fail(f"Dockerfile: its build command does not tag {IMAGE}")

# The build context (`COPY . /src`) must not carry secrets.
ignore_path = os.path.join(root, ".dockerignore")
ignored = open(ignore_path).read().split() if os.path.exists(ignore_path) else []
for pattern in ("deploy/certs", "**/*.key", "**/*.token", "build", ".git"):
    if pattern not in ignored:
        fail(f".dockerignore does not exclude {pattern}")

SECRET = re.compile(r"(\.key|\.token|client-tokens)$")


def secret_files_ok(where, client_id, files):
    """`files`: the secret file names a service or pod can read. None of the CA's key; for a
    client, only its own key and token; for the coordinator, no client's key."""
    for f in files:
        base = os.path.basename(f)
        if base == "ca.key":
            fail(f"{where}: can read the CA's private key ({f})")
        m = re.match(r"client-(\d+)\.(key|token)$", base)
        if m and (client_id is None or int(m.group(1)) != client_id):
            fail(f"{where}: can read another client's secret ({f})")

# compose
compose = yaml.safe_load(open(os.path.join(root, "deploy/docker-compose.yml")))
declared = set(compose.get("volumes", {}))
for name, svc in compose["services"].items():
    if svc.get("image") != IMAGE:
        fail(f"compose {name}: image {svc.get('image')} is not {IMAGE}")
    check_args(f"compose {name}", svc["command"])
    if str(svc.get("user", "0")).split(":")[0] in ("0", "root"):
        fail(f"compose {name}: runs as root (no user:)")
    if "ALL" not in svc.get("cap_drop", []) or not svc.get("read_only"):
        fail(f"compose {name}: must drop all capabilities and have a read-only root filesystem")
    if "mem_limit" not in svc:
        fail(f"compose {name}: no mem_limit")
    client_id = next((int(a.split("=")[1]) for a in svc["command"] if a.startswith("--client_id=")), None)
    mounted = [v.split(":")[0] for v in svc.get("volumes", [])]
    for src in mounted:
        if os.path.basename(src.rstrip("/")) == "certs":
            fail(f"compose {name}: mounts the whole certs directory ({src})")
    secret_files_ok(f"compose {name}", client_id, mounted)
    for p in svc.get("ports", []):
        if str(p).endswith(":9464") and not str(p).startswith("127.0.0.1:"):
            fail(f"compose {name}: publishes the metrics port beyond the host's loopback ({p})")
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
policies = []
for fname in ("coordinator.yaml", "clients.yaml"):
    text = open(os.path.join(root, "deploy/kubernetes", fname)).read()
    # The documented secret commands must name files one by one, never a whole directory.
    for cmd in re.findall(r"kubectl create secret.*(?:\n#\s+--.*)*", text):
        files = re.findall(r"--from-file=(?:[^=\s]+=)?(\S+)", cmd)
        for f in files:
            if f.rstrip("/").endswith("certs"):
                fail(f"{fname}: a Secret made from the whole directory {f}")
        # A per-client command names client-$i; the coordinator's names no client key.
        secret_files_ok(f"{fname} secret", None if "$i" not in cmd else -1,
                        [f for f in files if "$i" not in f])
    for doc in yaml.safe_load_all(text):
        if doc["kind"] == "Service":
            ports[doc["metadata"]["name"]] = {p["targetPort"] for p in doc["spec"]["ports"]}
            continue
        if doc["kind"] == "NetworkPolicy":
            policies.append(doc)
            continue
        spec = doc["spec"]["template"]["spec"]
        where = f"{fname} {doc['metadata']['name']}"
        pod_security = spec.get("securityContext", {})
        if not pod_security.get("runAsNonRoot") or pod_security.get("runAsUser", 0) == 0:
            fail(f"{where}: the pod must run as a non-root user (runAsNonRoot, runAsUser)")
        if pod_security.get("seccompProfile", {}).get("type") != "RuntimeDefault":
            fail(f"{where}: no RuntimeDefault seccomp profile")
        volumes = {v["name"]: v for v in spec.get("volumes", [])}
        claims = {t["metadata"]["name"] for t in doc["spec"].get("volumeClaimTemplates", [])}
        for c in spec["containers"]:
            if c["image"] != IMAGE:
                fail(f"{where}: image {c['image']} is not {IMAGE}")
            args = c.get("command", [])[2:] + c["args"]
            check_args(f"{where} {c['name']}", args)
            security = c.get("securityContext", {})
            if (security.get("allowPrivilegeEscalation", True) or
                    not security.get("readOnlyRootFilesystem") or
                    "ALL" not in security.get("capabilities", {}).get("drop", [])):
                fail(f"{where} {c['name']}: needs allowPrivilegeEscalation: false, "
                     "readOnlyRootFilesystem: true and capabilities.drop [ALL]")
            resources = c.get("resources", {})
            for kind in ("requests", "limits"):
                for r in ("cpu", "memory"):
                    if r not in resources.get(kind, {}):
                        fail(f"{where} {c['name']}: no {kind}.{r}")
            client_id = next((int(a.split("=")[1]) for a in args if a.startswith("--client_id=")), None)
            if doc["metadata"]["name"].startswith("tailor-client"):
                if client_id is None:
                    fail(f"{where}: a client pod with no literal --client_id")
                elif doc["metadata"]["name"] != f"tailor-client-{client_id}":
                    fail(f"{where}: named for another client than --client_id={client_id}")
            for m in c.get("volumeMounts", []):
                if m["name"] not in volumes and m["name"] not in claims:
                    fail(f"{where} {c['name']}: mounts undeclared volume {m['name']}")
                secret = volumes.get(m["name"], {}).get("secret")
                if secret is None:
                    continue
                if client_id is not None and secret["secretName"] != f"tailor-client-{client_id}":
                    fail(f"{where}: client {client_id} mounts Secret {secret['secretName']}, "
                         f"not its own tailor-client-{client_id}")
                if secret.get("defaultMode", 0o644) & 0o007:
                    fail(f"{where}: Secret {secret['secretName']} is readable by others "
                         f"(defaultMode {oct(secret.get('defaultMode', 0o644))})")
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
service_ports = ports.get("tailor-coordinator", set())
if 9464 in service_ports:
    fail("the coordinator's Service exposes the metrics port 9464")
if service_ports != ports.get("container:tailor-coordinator", set()) - {9464}:
    fail(f"Service targetPorts and the container's gRPC port differ: {ports}")
# The metrics port is reachable only from what a NetworkPolicy allows.
guarded = False
for policy in policies:
    for rule in policy["spec"].get("ingress", []):
        rule_ports = {p["port"] for p in rule.get("ports", [])}
        if 9464 in rule_ports:
            guarded = bool(rule.get("from"))
        if not rule.get("from") and (not rule_ports or 9464 in rule_ports):
            guarded = False
            break
if not guarded:
    fail("no NetworkPolicy restricts who reaches the coordinator's metrics port 9464")

print(f"{len(failures)} failed" if failures else "deploy files: all checks passed")
sys.exit(1 if failures else 0)
