#!/usr/bin/env python3
"""The orderflow chart installed into a real Kubernetes API server.

Run by scripts/k8s-check.sh (make k8s-check), which starts etcd and
kube-apiserver on loopback and sets KUBECONFIG and HELM. For each profile
(the default values and every file under helm/orderflow/examples/), in a
namespace of its own that enforces the "restricted" Pod Security Standard:

  1. every rendered object is created with dryRun and fieldValidation=Strict:
     admission, validation and unknown fields, as the API server judges them;
  2. `helm install --dry-run=server` succeeds and creates nothing;
  3. `helm install` creates exactly the chart's objects, and reading them back
     shows every field kept and what the server defaulted;
  4. `helm upgrade` with the same values rolls nothing; with a changed
     setting it changes the config checksum and so the pod template, and
     leaves a replica count KEDA set alone;
  5. `helm test` creates its Pod, which the namespace's Pod Security admits;
  6. `helm uninstall` leaves the namespace as it was before the install.

There are no nodes and no controllers, so nothing runs. Two stand-ins do what
the missing parts would do to let helm go on, and say so: one marks the topics
hook Job complete (the Job controller), one reports the test Pod succeeded
(the kubelet). They check each object first; neither proves the Pod or the Job
would succeed.

Prints one line per step and a final "N passed, N failed" line.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
import crds  # noqa: E402
from kube import ApiError, Kube  # noqa: E402
from test_chart import CHART, WORKERS, check_pod_security  # noqa: E402
from test_schemas import PROFILES  # noqa: E402

RELEASE = "orderflow"
HELM_TIMEOUT = "60s"
# Every wait for helm is bounded by this many seconds (helm's own --timeout is shorter).
PROCESS_TIMEOUT = 120
HOOK = "helm.sh/hook"


def now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# Details of the running step, printed under its ok/FAIL line.
NOTES: list[str] = []


def say(line: str = "") -> None:
    print(line, flush=True)


def note(line: str) -> None:
    NOTES.append(line)


def deep_merge(base: dict, over: dict) -> dict:
    """Values files merge like this: maps key by key, anything else replaced."""
    out = dict(base)
    for k, v in over.items():
        out[k] = deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


class Profile:
    """One profile installed as release `orderflow` in namespace orderflow-<profile>."""

    def __init__(self, kube: Kube, helm: str, home: Path, name: str):
        self.kube, self.helm, self.name = kube, helm, name
        self.files = PROFILES[name]
        self.ns = f"orderflow-{name}"
        # helm's caches and settings live in the work directory, not the user's home.
        self.env = {**os.environ, "HOME": str(home), "KUBECACHEDIR": str(home / "kube-cache")}
        values = yaml.safe_load((CHART / "values.yaml").read_text())
        for f in self.files:
            values = deep_merge(values, yaml.safe_load(f.read_text()) or {})
        self.values = values
        self.before: set[str] = set()
        self.rendered: list[dict] = []
        self.test_pod: dict | None = None  # as the stand-in kubelet found it

    # ---------------------------------------------------------------- helm

    def helm_args(self, *args: str) -> list[str]:
        cmd = [self.helm, *args, "--namespace", self.ns]
        for f in self.files:
            cmd += ["-f", str(f)]
        return cmd

    def run_helm(self, args: list[str], stand_in=None) -> subprocess.CompletedProcess:
        """Runs helm; while it runs, stand_in() (if any) plays a missing controller."""
        # Files, not pipes: nobody reads a pipe while helm runs, and a full one would block it.
        with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
            proc = subprocess.Popen(args, stdout=out, stderr=err, text=True, env=self.env)
            deadline = time.monotonic() + PROCESS_TIMEOUT
            try:
                while proc.poll() is None:
                    if stand_in:
                        stand_in()
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"{' '.join(args[:2])} still running after {PROCESS_TIMEOUT} s")
                    time.sleep(0.2)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait(timeout=10)
            out.seek(0)
            err.seek(0)
            return subprocess.CompletedProcess(args, proc.returncode, out.read(), err.read())

    def show(self, proc: subprocess.CompletedProcess, lines: int = 8) -> None:
        """helm's output, up to its NOTES, indented."""
        shown = proc.stdout.split("\nNOTES:")[0].strip().splitlines()[:lines]
        shown += [f"stderr: {line}" for line in proc.stderr.strip().splitlines()[:lines]]
        for line in shown:
            note(f"      | {line}")

    def check_quiet(self, proc: subprocess.CompletedProcess) -> None:
        """No warning from the API server: unknown fields, Pod Security, deprecations."""
        assert proc.returncode == 0, f"exit {proc.returncode}: {proc.stderr.strip()}"
        warnings = [line for line in proc.stderr.splitlines() if "warning" in line.lower()]
        assert not warnings, "\n".join(warnings)

    # ---------------------------------------------------------------- stand-ins

    def complete_hook_jobs(self) -> None:
        """Stand-in Job controller: a hook Job helm waits for is marked complete."""
        for job in self.kube.get(f"/apis/batch/v1/namespaces/{self.ns}/jobs")["items"]:
            conditions = {c["type"] for c in (job.get("status") or {}).get("conditions") or []}
            if HOOK not in job["metadata"].get("annotations", {}) or "Complete" in conditions:
                continue
            spec = job["spec"]["template"]["spec"]
            check_pod_security(spec, spec["containers"][0], f"Job/{job['metadata']['name']}")
            t = now()
            done = {"status": "True", "lastProbeTime": t, "lastTransitionTime": t,
                    "reason": "CompletionsReached", "message": "Reached expected number of succeeded pods"}
            self.kube.merge_patch(f"/apis/batch/v1/namespaces/{self.ns}/jobs/{job['metadata']['name']}/status", {
                "status": {"startTime": t, "completionTime": t, "succeeded": 1, "ready": 0, "terminating": 0,
                           "uncountedTerminatedPods": {},
                           "conditions": [{"type": "SuccessCriteriaMet", **done}, {"type": "Complete", **done}]}})
            note(f"      stand-in Job controller: Job/{job['metadata']['name']} (hook {job['metadata']['annotations'][HOOK]}) marked complete")

    def succeed_test_pods(self) -> None:
        """Stand-in kubelet: a `helm test` Pod is reported succeeded (nothing ran)."""
        for pod in self.kube.get(f"/api/v1/namespaces/{self.ns}/pods")["items"]:
            if pod["metadata"].get("annotations", {}).get(HOOK) != "test" or (pod.get("status") or {}).get("phase") == "Succeeded":
                continue
            self.test_pod = pod
            t = now()
            c = pod["spec"]["containers"][0]
            self.kube.merge_patch(f"/api/v1/namespaces/{self.ns}/pods/{pod['metadata']['name']}/status", {
                "status": {"phase": "Succeeded", "startTime": t, "containerStatuses": [{
                    "name": c["name"], "image": c["image"], "imageID": "", "ready": False, "restartCount": 0,
                    "state": {"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": t, "finishedAt": t}}}]}})
            note(f"      stand-in kubelet: Pod/{pod['metadata']['name']} reported Succeeded")

    # ---------------------------------------------------------------- expectations

    def workers(self) -> dict[str, dict]:
        """Effective settings of each enabled worker: defaults merged with its own entry."""
        out = {}
        for name, own in self.values["workers"].items():
            w = deep_merge(self.values["defaults"], own or {})
            if w["enabled"]:
                w["groupId"] = w.get("groupId") or name
                out[name] = w
        return out

    def installed(self) -> list[dict]:
        """The rendered objects helm installs (hooks and tests are not part of the release)."""
        return [d for d in self.rendered if HOOK not in d["metadata"].get("annotations", {})]

    def deployments(self) -> dict[str, dict]:
        items = self.kube.get(f"/apis/apps/v1/namespaces/{self.ns}/deployments")["items"]
        return {d["metadata"]["labels"]["app.kubernetes.io/component"]: d for d in items}

    def worker_deployments(self) -> dict[str, dict]:
        """The workers' Deployments (rolled by a checksum of their config), without the gateway's."""
        deployments = self.deployments()
        deployments.pop("gateway", None)
        return deployments

    # ---------------------------------------------------------------- steps

    def setup(self) -> None:
        """Namespace (Pod Security "restricted" enforced), what a real cluster or the operator adds."""
        labels = {f"pod-security.kubernetes.io/{mode}": "restricted" for mode in ("enforce", "warn", "audit")}
        self.kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": self.ns, "labels": labels}})
        # The service-account controller (kube-controller-manager) gives every
        # namespace this ServiceAccount; Pods without one are refused without it.
        self.kube.create({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default"}}, self.ns)
        # The Secrets a profile references, created first as its header says.
        for secret in filter(None, [self.values["kafka"]["sasl"]["existingSecret"],
                                    self.values["kafka"]["tls"]["existingSecret"],
                                    self.values["schemaRegistry"]["existingSecret"],
                                    self.values["gateway"]["auth"]["existingSecret"]]):
            self.kube.create({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": secret},
                              "stringData": {"username": "orderflow", "password": "not-a-secret", "ca.crt": "test",
                                             "token": "not-a-secret"}},
                             self.ns)
        self.before = self.kube.namespace_objects(self.ns)
        proc = subprocess.run(self.helm_args("template", RELEASE, str(CHART)), capture_output=True, text=True,
                              timeout=PROCESS_TIMEOUT, env=self.env)
        assert proc.returncode == 0, proc.stderr
        self.rendered = [d for d in yaml.safe_load_all(proc.stdout) if d]

    def strict_dry_run(self) -> None:
        problems = []
        for doc in self.rendered:
            try:
                self.kube.create(doc, self.ns, dryRun="All", fieldValidation="Strict")
            except ApiError as exc:
                problems.append(f"{doc['kind']}/{doc['metadata']['name']}: {exc.body[:300]}")
            problems += [f"{doc['kind']}/{doc['metadata']['name']}: warning: {w}" for w in self.kube.warnings]
        assert not problems, "\n".join(problems)
        assert self.kube.namespace_objects(self.ns) == self.before, "a dry run stored something"
        note(f"      {len(self.rendered)} objects accepted: {kinds(self.rendered)}")

    def install_dry_run_server(self) -> None:
        proc = self.run_helm(self.helm_args("install", RELEASE, str(CHART), "--dry-run=server"))
        self.check_quiet(proc)
        assert "STATUS: pending-install" in proc.stdout, proc.stdout[:500]
        assert self.kube.namespace_objects(self.ns) == self.before, "--dry-run=server created objects"
        self.show(proc, 5)

    def install(self) -> None:
        proc = self.run_helm(self.helm_args("install", RELEASE, str(CHART), "--timeout", HELM_TIMEOUT),
                             self.complete_hook_jobs)
        self.show(proc)
        self.check_quiet(proc)
        created = self.kube.namespace_objects(self.ns) - self.before
        expected = {f"{d['kind']}.{group(d)}/{d['metadata']['name']}" for d in self.installed()}
        expected.add(f"Secret.core/sh.helm.release.v1.{RELEASE}.v1")  # helm's record of the release
        assert created == expected, f"missing {sorted(expected - created)}, unexpected {sorted(created - expected)}"
        note(f"      created {len(created)}: {kinds(self.installed())} + helm's release Secret")

    def read_back(self) -> None:
        """The server kept every field the chart set; print what it defaulted."""
        defaulted: dict[str, dict[str, set[str]]] = {}  # kind -> path -> values
        for doc in self.installed():
            stored = self.kube.get(self.kube.path(doc, self.ns))
            lost = missing(doc, stored)
            assert not lost, f"{doc['kind']}/{doc['metadata']['name']}: not kept: {lost[:10]}"
            for path, value in added(doc, stored):
                defaulted.setdefault(doc["kind"], {}).setdefault(path, set()).add(value)
        for kind, paths in sorted(defaulted.items()):
            # A value that differs between objects was allocated (a Service's cluster IP), not defaulted.
            shown = [f"{p}={next(iter(v)) if len(v) == 1 else '(allocated)'}" for p, v in sorted(paths.items())]
            note(f"      {kind} defaulted: {', '.join(shown)}")
        workers = self.workers()
        deployments = self.deployments()
        gateway = deployments.pop("gateway", None)
        assert (gateway is not None) == self.values["gateway"]["enabled"], sorted(deployments)
        if gateway is not None:
            spec = gateway["spec"]["template"]["spec"]
            check_pod_security(spec, spec["containers"][0], f"Deployment/{gateway['metadata']['name']}")
        assert set(deployments) == set(workers), sorted(deployments)
        for name, dep in deployments.items():
            w, what = workers[name], f"Deployment/{dep['metadata']['name']}"
            spec = dep["spec"]["template"]["spec"]
            c = spec["containers"][0]
            check_pod_security(spec, c, what)
            assert c["resources"] == w["resources"], f"{what}: resources {c['resources']}"
            for probe, path, settings in (("livenessProbe", "/healthz", w["livenessProbe"]),
                                          ("readinessProbe", "/readyz", w["readinessProbe"])):
                p = c[probe]
                assert p["httpGet"] == {"path": path, "port": "http", "scheme": "HTTP"}, f"{what}: {probe} {p}"
                assert {k: p[k] for k in settings} == settings, f"{what}: {probe} {p}"
            expected_replicas = 1 if w["keda"]["enabled"] else w["replicas"]  # KEDA: the server's default
            assert dep["spec"]["replicas"] == expected_replicas, f"{what}: replicas {dep['spec']['replicas']}"
        scaled = {s["spec"]["scaleTargetRef"]["name"]: s for s in
                  self.kube.get(f"/apis/keda.sh/v1alpha1/namespaces/{self.ns}/scaledobjects")["items"]} \
            if any(w["keda"]["enabled"] for w in workers.values()) else {}
        for name, w in workers.items():
            target = deployments[name]["metadata"]["name"]
            if not w["keda"]["enabled"]:
                assert target not in scaled
                continue
            s = scaled[target]["spec"]
            trigger = s["triggers"][0]
            assert trigger["type"] == "kafka", trigger
            assert trigger["metadata"]["consumerGroup"] == w["groupId"] == WORKERS[name][2], trigger
            assert trigger["metadata"]["topic"] == w["inputTopic"], trigger
            assert trigger["metadata"]["lagThreshold"] == str(w["keda"]["lagThreshold"]), trigger
            assert (s["minReplicaCount"], s["maxReplicaCount"]) == (w["keda"]["minReplicaCount"], w["keda"]["maxReplicaCount"]), s
            note(f"      ScaledObject/{target}: group {trigger['metadata']['consumerGroup']}, topic {trigger['metadata']['topic']},"
                f" lagThreshold {trigger['metadata']['lagThreshold']}, replicas {s['minReplicaCount']}..{s['maxReplicaCount']}")

    def upgrade(self) -> None:
        before = self.worker_deployments()
        # What KEDA's HPA would do: scale a worker it manages.
        scaled_by_keda = {name: w["keda"]["minReplicaCount"] + 1 for name, w in self.workers().items() if w["keda"]["enabled"]}
        for name, replicas in scaled_by_keda.items():
            self.kube.merge_patch(f"/apis/apps/v1/namespaces/{self.ns}/deployments/{before[name]['metadata']['name']}/scale",
                                  {"spec": {"replicas": replicas}})
        before = self.worker_deployments()
        same = self.run_helm(self.helm_args("upgrade", RELEASE, str(CHART), "--timeout", HELM_TIMEOUT), self.complete_hook_jobs)
        self.check_quiet(same)
        for name, dep in self.worker_deployments().items():
            assert dep["metadata"]["generation"] == before[name]["metadata"]["generation"], \
                f"{name}: an upgrade with the same values rolled the pods"
        changed = self.run_helm(self.helm_args("upgrade", RELEASE, str(CHART), "--timeout", HELM_TIMEOUT,
                                               "--set", "logging.format=pretty"), self.complete_hook_jobs)
        self.show(changed)
        self.check_quiet(changed)
        after = self.worker_deployments()
        for name, dep in after.items():
            old = before[name]["spec"]["template"]["metadata"]["annotations"]["checksum/config"]
            new = dep["spec"]["template"]["metadata"]["annotations"]["checksum/config"]
            assert old != new, f"{name}: checksum/config unchanged after a config change"
            assert dep["metadata"]["generation"] == before[name]["metadata"]["generation"] + 1, \
                f"{name}: generation {before[name]['metadata']['generation']} -> {dep['metadata']['generation']}"
            if name in scaled_by_keda:
                assert dep["spec"]["replicas"] == scaled_by_keda[name], f"{name}: upgrade reset KEDA's replicas"
        some = sorted(after)[0]
        note(f"      {some}: checksum/config {before[some]['spec']['template']['metadata']['annotations']['checksum/config'][:12]}"
            f" -> {after[some]['spec']['template']['metadata']['annotations']['checksum/config'][:12]},"
            f" generation {before[some]['metadata']['generation']} -> {after[some]['metadata']['generation']}")
        if scaled_by_keda:
            note(f"      replicas set by KEDA kept: {scaled_by_keda}")

    def helm_test(self) -> None:
        self.test_pod = None
        proc = self.run_helm([self.helm, "test", RELEASE, "--namespace", self.ns, "--timeout", HELM_TIMEOUT],
                             self.succeed_test_pods)
        self.show(proc, 12)
        assert self.test_pod, "helm test created no Pod"
        assert proc.returncode == 0, proc.stderr
        pod = self.test_pod
        spec = pod["spec"]
        check_pod_security(spec, spec["containers"][0], f"Pod/{pod['metadata']['name']}")
        urls = [a for a in spec["containers"][0]["command"] if a.startswith("http://")]
        # Workers expected to run no pod (0 replicas, or KEDA may scale to 0) have nothing to ask.
        deployments, workers = self.deployments(), self.workers()
        expected = [f"http://{deployments[name]['metadata']['name']}:{self.values['service']['port']}/readyz"
                    for name, w in sorted(workers.items())
                    if (w["keda"]["minReplicaCount"] if w["keda"]["enabled"] else w["replicas"]) > 0]
        assert urls == expected, f"test Pod asks {urls}, expected {expected}"
        # hook-delete-policy hook-succeeded: helm deletes the Pod once it succeeded.
        self.kube.wait_for("the test Pod's deletion",
                           lambda: not self.kube.exists(f"/api/v1/namespaces/{self.ns}/pods/{pod['metadata']['name']}"), 30)
        note(f"      Pod/{pod['metadata']['name']} admitted (restricted), asks {len(urls)} Services, deleted after success")

    def uninstall(self) -> None:
        proc = self.run_helm([self.helm, "uninstall", RELEASE, "--namespace", self.ns, "--timeout", HELM_TIMEOUT])
        self.show(proc)
        assert proc.returncode == 0, proc.stderr
        after = self.kube.namespace_objects(self.ns)
        assert after == self.before, f"left behind {sorted(after - self.before)}, removed {sorted(self.before - after)}"
        note(f"      namespace as before the install: {', '.join(sorted(after))}")


def group(doc: dict) -> str:
    return doc["apiVersion"].rsplit("/", 1)[0] if "/" in doc["apiVersion"] else "core"


def kinds(docs: list[dict]) -> str:
    counts: dict[str, int] = {}
    for d in docs:
        counts[d["kind"]] = counts.get(d["kind"], 0) + 1
    return ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))


def missing(sent, stored, path: str = "") -> list[str]:
    """Paths of values in `sent` that `stored` does not hold (a field pruned or changed)."""
    if isinstance(sent, dict):
        if not isinstance(stored, dict):
            return [path or "."]
        return [p for k, v in sent.items() for p in missing(v, stored.get(k), f"{path}.{k}")]
    if isinstance(sent, list):
        if not isinstance(stored, list) or len(stored) != len(sent):
            return [path]
        return [p for i, v in enumerate(sent) for p in missing(v, stored[i], f"{path}[{i}]")]
    return [] if sent == stored else [f"{path}: sent {sent!r}, stored {stored!r}"]


# Set by the server on every object; not defaulting.
BOOKKEEPING = {"metadata", "status"}


def added(sent, stored, path: str = "") -> list[tuple[str, str]]:
    """Fields the server added (defaulted), as (path, JSON value), list indexes folded to []."""
    if isinstance(stored, dict) and isinstance(sent, dict):
        out = []
        for k, v in stored.items():
            if not path and k in BOOKKEEPING:
                continue
            if k in sent:
                out += added(sent[k], v, f"{path}.{k}")
            else:
                out.append((f"{path}.{k}".lstrip("."), json.dumps(v, separators=(",", ":"))))
        return out
    if isinstance(stored, list) and isinstance(sent, list):
        return [p for s, t in zip(sent, stored) for p in added(s, t, f"{path}[]")]
    return []


# --------------------------------------------------------------------------- runner

STEPS = [
    ("every object passes the server's strict validation and admission (dry run)", Profile.strict_dry_run),
    ("helm install --dry-run=server creates nothing", Profile.install_dry_run_server),
    ("helm install creates exactly the chart's objects", Profile.install),
    ("the server kept every field; security context, probes, resources, KEDA triggers", Profile.read_back),
    ("helm upgrade: same values roll nothing, a config change rolls the pods", Profile.upgrade),
    ("helm test creates its Pod", Profile.helm_test),
    ("helm uninstall removes everything it created", Profile.uninstall),
]


def apply_crds(kube: Kube) -> None:
    for crd in crds.definitions():
        kube.create(crd)
        name = crd["metadata"]["name"]

        def established() -> bool:
            status = kube.get(f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}").get("status") or {}
            return any(c["type"] == "Established" and c["status"] == "True" for c in status.get("conditions") or [])
        kube.wait_for(f"CRD {name} established", established, 30)
    kube.forget_discovery()


def main() -> int:
    # Stopped by scripts/k8s-check.sh with SIGTERM: unwind, so helm children are killed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    helm = os.environ.get("HELM") or sys.exit("test_install.py: set HELM")
    work = Path(os.environ.get("K8S_CHECK_WORK") or sys.exit("test_install.py: set K8S_CHECK_WORK"))
    kube = Kube(os.environ.get("KUBECONFIG") or sys.exit("test_install.py: set KUBECONFIG"))
    version = kube.get("/version")
    say(f"kube-apiserver {version['gitVersion']}, helm {subprocess.run([helm, 'version', '--short'], capture_output=True, text=True).stdout.strip()}")
    passed = failed = 0

    profiles = {name: Profile(kube, helm, work / "home", name) for name in PROFILES}
    for p in profiles.values():
        p.setup()

    # Without the CRDs the API server has no ScaledObject: the production profile is refused.
    if "production" in profiles:
        p = profiles["production"]
        proc = p.run_helm(p.helm_args("install", RELEASE, str(CHART), "--dry-run=server"))
        if proc.returncode != 0 and "ScaledObject" in proc.stderr:
            passed += 1
            say("ok   production is refused before the KEDA CRDs exist")
            say(f"      | {next(line for line in proc.stderr.splitlines() if 'ScaledObject' in line)[:240]}")
        else:
            failed += 1
            say(f"FAIL production is refused before the KEDA CRDs exist: exit {proc.returncode}")
    apply_crds(kube)
    say(f"ok   CRDs applied and established: {', '.join(m + '@' + v for m, v, _, _ in crds.MODULES)}")
    passed += 1

    for name, p in profiles.items():
        say(f"== {name} (namespace {p.ns})")
        broken = False
        for title, step in STEPS:
            if broken:
                failed += 1
                say(f"FAIL {name}: {title}: skipped after an earlier failure")
                continue
            t0 = time.monotonic()
            try:
                step(p)
            except Exception as exc:  # an API or helm error fails the step like an assertion
                failed += 1
                broken = True
                say(f"FAIL {name}: {title}: {type(exc).__name__}: {exc}")
            else:
                passed += 1
                say(f"ok   {name}: {title} ({time.monotonic() - t0:.1f} s)")
            for line in NOTES:
                say(line)
            NOTES.clear()
    say(f"{passed} passed, {failed} failed")
    return 1 if failed or not passed else 0


if __name__ == "__main__":
    sys.exit(main())
