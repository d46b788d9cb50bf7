#!/usr/bin/env python3
"""Rendered-manifest tests for the orderflow Helm chart.

Runs `helm template` on the chart with various values and checks the
manifests. Needs Python 3 with PyYAML and a helm binary: $HELM, else `helm`
on PATH. Run from anywhere:

    HELM=.cache/bin/helm python3 helm/tests/test_chart.py [-k SUBSTRING]

Prints one line per test and a final "N passed, N failed" line; exits
non-zero when any test fails.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import traceback
from pathlib import Path

import yaml

CHART = Path(__file__).resolve().parent.parent / "orderflow"
EXAMPLES = CHART / "examples"
RELEASE = "orderflow"
NAMESPACE = "orderflow-test"

WORKERS = {
    # worker: (input topic, output topic, default group id, dlq)
    "order-validator": ("orders.lifecycle", "orders.validation", "order-validator", "order-validator.dlq"),
    "order-status": ("orders.lifecycle", "orders.status", "order-status", "order-status.dlq"),
    "notifier": ("orders.lifecycle", "notifications.requested", "notifier", "notifier.dlq"),
    "risk-scorer": ("orders.lifecycle", "orders.risk", "risk-scorer", "risk-scorer.dlq"),
    "order-saga": ("orders.lifecycle", "orders.commands", "order-saga", "order-saga.dlq"),
}

# The further inputs of a worker: worker -> {route: (input topic, output topic)}.
ROUTES = {"notifier": {"users": ("users.lifecycle", "users.notifications")}}

CREDENTIAL_ENV = {
    "ORDERFLOW_SASL_USERNAME",
    "ORDERFLOW_SASL_PASSWORD",
    "ORDERFLOW_SCHEMA_REGISTRY_USERNAME",
    "ORDERFLOW_SCHEMA_REGISTRY_PASSWORD",
}


# --------------------------------------------------------------------------- helm


def helm_binary() -> str:
    helm = os.environ.get("HELM") or shutil.which("helm")
    if not helm:
        sys.exit("test_chart.py: no helm binary: set HELM or put helm on PATH")
    return helm


class Rendered:
    """The documents of one `helm template` run, with lookup helpers."""

    def __init__(self, docs: list[dict]):
        self.docs = docs

    def of(self, kind: str) -> list[dict]:
        return [d for d in self.docs if d.get("kind") == kind]

    def get(self, kind: str, name: str) -> dict | None:
        for d in self.of(kind):
            if d["metadata"]["name"] == name:
                return d
        return None

    def names(self, kind: str) -> set[str]:
        return {d["metadata"]["name"] for d in self.of(kind)}

    def configmap_data(self) -> dict:
        data = {}
        for cm in self.of("ConfigMap"):
            for key, value in (cm.get("data") or {}).items():
                data[(cm["metadata"]["name"], key)] = value
        return data


def _helm_template(values: list[dict] | None = None, files: list[Path] | None = None,
                   args: list[str] | None = None) -> subprocess.CompletedProcess:
    cmd = [helm_binary(), "template", RELEASE, str(CHART), "--namespace", NAMESPACE]
    tmp_paths = []
    try:
        for f in files or []:
            cmd += ["-f", str(f)]
        for v in values or []:
            fd, path = tempfile.mkstemp(suffix=".yaml", prefix="orderflow-values-")
            with os.fdopen(fd, "w") as fh:
                yaml.safe_dump(v, fh)
            tmp_paths.append(path)
            cmd += ["-f", path]
        cmd += args or []
        return subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    finally:
        for p in tmp_paths:
            os.unlink(p)


def render(values: dict | None = None, files: list[Path] | None = None,
           args: list[str] | None = None) -> Rendered:
    proc = _helm_template([values] if values else None, files, args)
    if proc.returncode != 0:
        raise AssertionError(f"helm template failed unexpectedly:\n{proc.stderr.strip()}")
    docs = [d for d in yaml.safe_load_all(proc.stdout) if d]
    return Rendered(docs)


def render_fails(values: dict | None = None, args: list[str] | None = None) -> str:
    """Render that must fail; returns helm's error output."""
    proc = _helm_template([values] if values else None, None, args)
    if proc.returncode == 0:
        raise AssertionError(f"helm template succeeded but should have failed (values={values}, args={args})")
    return proc.stderr


# --------------------------------------------------------------------------- helpers


def dep_name(worker: str) -> str:
    return f"{RELEASE}-{worker}"


def worker_deployments(r) -> list:
    """The workers' Deployments, without the HTTP gateway's."""
    return [d for d in r.of("Deployment")
            if d["metadata"]["labels"].get("app.kubernetes.io/component") != "gateway"]


def container(dep: dict) -> dict:
    containers = dep["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1, f"{dep['metadata']['name']}: expected one container, got {len(containers)}"
    return containers[0]


def env_entries(c: dict) -> dict[str, dict]:
    entries = {}
    for e in c.get("env") or []:
        assert e["name"] not in entries, f"{c['name']}: env {e['name']} set twice"
        entries[e["name"]] = e
    return entries


def env_value(r: Rendered, c: dict, name: str) -> str | None:
    """Value of an env var, resolving configMapKeyRef against the rendered ConfigMaps."""
    e = env_entries(c).get(name)
    if e is None:
        return None
    if "value" in e:
        return e["value"]
    ref = (e.get("valueFrom") or {}).get("configMapKeyRef")
    if ref:
        data = r.configmap_data()
        key = (ref["name"], ref["key"])
        assert key in data, f"{c['name']}: env {name} references missing ConfigMap key {key}"
        return data[key]
    raise AssertionError(f"{c['name']}: env {name} is neither a value nor a configMapKeyRef: {e}")


def check_pod_security(spec: dict, c: dict, what: str) -> None:
    psc = spec.get("securityContext") or {}
    assert psc.get("runAsNonRoot") is True, f"{what}: pod securityContext.runAsNonRoot is not true: {psc}"
    assert psc.get("runAsUser") == 10001, f"{what}: pod securityContext.runAsUser != 10001: {psc}"
    assert psc.get("runAsGroup") == 10001, f"{what}: pod securityContext.runAsGroup != 10001: {psc}"
    assert psc.get("fsGroup") == 10001, f"{what}: pod securityContext.fsGroup != 10001: {psc}"
    assert (psc.get("seccompProfile") or {}).get("type") == "RuntimeDefault", \
        f"{what}: pod securityContext.seccompProfile.type is not RuntimeDefault: {psc}"
    csc = c.get("securityContext") or {}
    assert csc.get("readOnlyRootFilesystem") is True, f"{what}: container readOnlyRootFilesystem is not true: {csc}"
    assert csc.get("allowPrivilegeEscalation") is False, f"{what}: container allowPrivilegeEscalation is not false: {csc}"
    assert (csc.get("capabilities") or {}).get("drop") == ["ALL"], f"{what}: container capabilities.drop != [ALL]: {csc}"
    assert csc.get("privileged") in (None, False), f"{what}: container is privileged"
    assert spec.get("automountServiceAccountToken") is False, f"{what}: automountServiceAccountToken is not false"
    mounts = {m["mountPath"]: m["name"] for m in c.get("volumeMounts") or []}
    assert "/tmp" in mounts, f"{what}: nothing mounted at /tmp"
    vols = {v["name"]: v for v in spec.get("volumes") or []}
    assert "emptyDir" in vols.get(mounts["/tmp"], {}), f"{what}: /tmp is not an emptyDir"


def check_no_literal_credentials(r: Rendered) -> None:
    for d in r.docs:
        spec = d.get("spec", {})
        pod = spec.get("template", {}).get("spec") if "template" in spec else (spec if d["kind"] == "Pod" else None)
        if not pod:
            continue
        for c in pod.get("containers", []):
            for e in c.get("env") or []:
                # A *_FILE variable names the path of a mounted Secret, not the secret.
                if e["name"] in CREDENTIAL_ENV or (re.search(r"PASSWORD|SECRET|TOKEN", e["name"])
                                                   and not e["name"].endswith("_FILE")):
                    assert "value" not in e, f"{d['kind']}/{d['metadata']['name']}: {e['name']} has a literal value"
                    assert "secretKeyRef" in (e.get("valueFrom") or {}), \
                        f"{d['kind']}/{d['metadata']['name']}: {e['name']} is not a secretKeyRef"


def production() -> Rendered:
    return render(files=[EXAMPLES / "production.yaml"])


# --------------------------------------------------------------------------- tests

TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


@test
def default_renders_one_deployment_per_worker():
    r = render()
    assert r.names("Deployment") == {dep_name(w) for w in WORKERS}, r.names("Deployment")
    assert r.names("Service") == {dep_name(w) for w in WORKERS}, r.names("Service")
    assert len(r.of("ServiceAccount")) == 1
    assert r.of("ServiceAccount")[0].get("automountServiceAccountToken") is False
    assert len(r.of("ConfigMap")) == 1
    for w in WORKERS:
        dep = r.get("Deployment", dep_name(w))
        sel = dep["spec"]["selector"]["matchLabels"]
        assert sel.get("app.kubernetes.io/component") == w, f"{w}: selector {sel}"
        labels = dep["spec"]["template"]["metadata"]["labels"]
        for k, v in sel.items():
            assert labels.get(k) == v, f"{w}: pod labels {labels} do not match selector {sel}"
        assert container(dep)["command"] == [w], f"{w}: command {container(dep)['command']}"
        assert dep["spec"]["replicas"] == 2, f"{w}: replicas {dep['spec'].get('replicas')}"
        svc = r.get("Service", dep_name(w))
        assert svc["spec"]["selector"] == sel, f"{w}: Service selector {svc['spec']['selector']} != {sel}"
        assert [(p["name"], p["targetPort"]) for p in svc["spec"]["ports"]] == [("http", "http")]


@test
def gateway_is_off_by_default_and_renders_deployment_service_and_hpa_when_enabled():
    assert dep_name("gateway") not in render().names("Deployment")
    r = render({"gateway": {"enabled": True, "auth": {"existingSecret": "gateway-token"}}})
    dep = r.get("Deployment", dep_name("gateway"))
    assert dep, r.names("Deployment")
    assert "replicas" not in dep["spec"], "the HPA owns the replica count"
    c = container(dep)
    assert c["command"] == ["orderflow", "gateway"], c["command"]
    assert {p["name"]: p["containerPort"] for p in c["ports"]} == {"http": 8080}
    for probe, path in (("startupProbe", "/healthz"), ("livenessProbe", "/healthz"),
                        ("readinessProbe", "/readyz")):
        assert c[probe]["httpGet"] == {"path": path, "port": "http"}, c[probe]
    spec = dep["spec"]["template"]["spec"]
    check_pod_security(spec, c, "gateway")
    check_no_literal_credentials(r)
    assert env_value(r, c, "ORDERFLOW_GATEWAY_LISTEN") == "0.0.0.0:8080"
    assert env_value(r, c, "ORDERFLOW_GATEWAY_MAX_BODY_BYTES") == "1048576"
    assert env_value(r, c, "ORDERFLOW_GATEWAY_SHUTDOWN_TIMEOUT") == "20s"
    assert spec["terminationGracePeriodSeconds"] > 20
    # The token is a file from the Secret, never an environment value.
    token_file = env_value(r, c, "ORDERFLOW_GATEWAY_AUTH_TOKEN_FILE")
    mounts = {m["name"]: m for m in c["volumeMounts"]}
    assert token_file == mounts["auth-token"]["mountPath"] + "/token", (token_file, mounts)
    assert mounts["auth-token"]["readOnly"] is True
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert volumes["auth-token"]["secret"]["secretName"] == "gateway-token"
    svc = r.get("Service", dep_name("gateway"))
    assert svc["spec"]["selector"] == dep["spec"]["selector"]["matchLabels"]
    assert [(p["port"], p["targetPort"]) for p in svc["spec"]["ports"]] == [(80, "http")]
    hpa = r.get("HorizontalPodAutoscaler", dep_name("gateway"))
    assert hpa["spec"]["scaleTargetRef"]["name"] == dep_name("gateway")
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 10)


@test
def gateway_without_autoscaling_has_fixed_replicas_and_no_token_without_a_secret():
    r = render({"gateway": {"enabled": True, "replicas": 3, "autoscaling": {"enabled": False}}})
    dep = r.get("Deployment", dep_name("gateway"))
    assert dep["spec"]["replicas"] == 3
    assert not r.of("HorizontalPodAutoscaler")
    c = container(dep)
    assert env_value(r, c, "ORDERFLOW_GATEWAY_AUTH_TOKEN_FILE") is None
    assert "auth-token" not in {m["name"] for m in c["volumeMounts"]}


@test
def gateway_values_are_checked():
    err = render_fails({"gateway": {"enabled": True, "maxBodyBytes": 0}})
    assert "maxBodyBytes" in err, err
    err = render_fails({"gateway": {"enabled": True, "token": "literal"}})
    assert "token" in err, err
    err = render_fails({"gateway": {"enabled": True, "shutdownTimeoutSeconds": 40,
                                    "terminationGracePeriodSeconds": 30}})
    assert "terminationGracePeriodSeconds" in err, err


@test
def probes_on_every_worker():
    for r in (render(), production()):
        for dep in worker_deployments(r):
            c = container(dep)
            name = dep["metadata"]["name"]
            ports = {p["name"]: p["containerPort"] for p in c.get("ports") or []}
            assert ports.get("http") == 9090, f"{name}: container port http != 9090: {ports}"
            for probe, path in (("startupProbe", "/healthz"), ("livenessProbe", "/healthz"),
                                ("readinessProbe", "/readyz")):
                p = c.get(probe)
                assert p, f"{name}: no {probe}"
                get = p.get("httpGet") or {}
                assert get.get("path") == path, f"{name}: {probe} path {get.get('path')} != {path}"
                assert get.get("port") in ("http", 9090), f"{name}: {probe} port {get.get('port')}"


@test
def hardened_security_context_everywhere():
    for r in (render(), production()):
        pods = [(d["spec"]["template"]["spec"], f"{d['kind']}/{d['metadata']['name']}")
                for d in r.of("Deployment") + r.of("Job")]
        pods += [(d["spec"], f"Pod/{d['metadata']['name']}") for d in r.of("Pod")]
        assert any(w.startswith("Job/") for _, w in pods) == bool(r.of("Job"))
        for spec, what in pods:
            for c in spec["containers"]:
                check_pod_security(spec, c, what)
    assert production().of("Job"), "production example renders no topics Job"
    assert production().of("Pod"), "production example renders no test Pod"


@test
def resources_set():
    for r in (render(), production()):
        for d in r.of("Deployment") + r.of("Job") + r.of("Pod"):
            spec = d["spec"]["template"]["spec"] if "template" in d["spec"] else d["spec"]
            for c in spec["containers"]:
                res = c.get("resources") or {}
                for kind in ("requests", "limits"):
                    for rname in ("cpu", "memory"):
                        assert (res.get(kind) or {}).get(rname), \
                            f"{d['kind']}/{d['metadata']['name']}: resources.{kind}.{rname} not set: {res}"
    c = container(render().get("Deployment", dep_name("order-validator")))
    assert c["resources"] == {"requests": {"cpu": "50m", "memory": "64Mi"},
                              "limits": {"cpu": "1", "memory": "256Mi"}}, c["resources"]


@test
def worker_env_defaults():
    r = render(values={"kafka": {"bootstrapServers": "broker-a:9092,broker-b:9092"}})
    for w, (inp, out, group, dlq) in WORKERS.items():
        c = container(r.get("Deployment", dep_name(w)))
        expect = {
            "ORDERFLOW_BOOTSTRAP_SERVERS": "broker-a:9092,broker-b:9092",
            "ORDERFLOW_GROUP_ID": group,
            "ORDERFLOW_INPUT_TOPIC": inp,
            "ORDERFLOW_OUTPUT_TOPIC": out,
            "ORDERFLOW_DLQ_TOPIC": dlq,
            "ORDERFLOW_GUARANTEE": "exactly-once",
            "ORDERFLOW_TRANSACTIONAL_ID": f"{w}-$(POD_NAME)",
            "ORDERFLOW_LOG_FORMAT": "json",
            "ORDERFLOW_HTTP_ADDR": "0.0.0.0:9090",
            "ORDERFLOW_COMMIT_INTERVAL_MS": "100",
            "ORDERFLOW_SHUTDOWN_TIMEOUT_SECS": "20",
            "RUST_LOG": "info",
        }
        for name, value in expect.items():
            got = env_value(r, c, name)
            assert got == value, f"{w}: {name} = {got!r}, want {value!r}"
        names = [e["name"] for e in c["env"]]
        pod_name = env_entries(c).get("POD_NAME")
        assert pod_name and pod_name["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name", \
            f"{w}: POD_NAME is not from the downward API: {pod_name}"
        # $(POD_NAME) only expands when POD_NAME is defined earlier in the list.
        assert names.index("POD_NAME") < names.index("ORDERFLOW_TRANSACTIONAL_ID"), f"{w}: env order {names}"
        for absent in ("ORDERFLOW_RULES", "ORDERFLOW_SCHEMA_REGISTRY_URL", "ORDERFLOW_SASL_USERNAME",
                       "ORDERFLOW_CREATE_TOPICS"):
            assert absent not in names, f"{w}: {absent} set by default"
        for route, (route_in, route_out) in ROUTES.get(w, {}).items():
            assert env_value(r, c, f"ORDERFLOW_{route.upper()}_INPUT_TOPIC") == route_in, w
            assert env_value(r, c, f"ORDERFLOW_{route.upper()}_OUTPUT_TOPIC") == route_out, w
        routes_env = [n for n in names if re.fullmatch(r"ORDERFLOW_[A-Z]+_(INPUT|OUTPUT)_TOPIC", n)]
        assert len(routes_env) == 2 * len(ROUTES.get(w, {})), f"{w}: route env {routes_env}"


@test
def only_known_routes_of_a_worker_are_accepted():
    r = render(values={"workers": {"notifier": {"routes": {"users": {
        "inputTopic": "staging.users", "outputTopic": "staging.user-notices"}}}}})
    c = container(r.get("Deployment", dep_name("notifier")))
    assert env_value(r, c, "ORDERFLOW_USERS_INPUT_TOPIC") == "staging.users"
    assert env_value(r, c, "ORDERFLOW_USERS_OUTPUT_TOPIC") == "staging.user-notices"
    err = render_fails(values={"workers": {"order-status": {"routes": {"users": {
        "inputTopic": "a", "outputTopic": "b"}}}}})
    assert "workers.order-status.routes.users: order-status has no input named users" in err, err
    err = render_fails(values={"workers": {"notifier": {"routes": {"carts": {
        "inputTopic": "a", "outputTopic": "b"}}}}})
    assert "notifier has no input named carts (its routes: users)" in err, err
    err = render_fails(values={"workers": {"notifier": {"routes": {"users": {"outputTopc": "a"}}}}})
    assert "outputTopc" in err, err


@test
def at_least_once_has_no_transactional_id():
    r = render(values={"workers": {"notifier": {"guarantee": "at-least-once"}}})
    c = container(r.get("Deployment", dep_name("notifier")))
    assert env_value(r, c, "ORDERFLOW_GUARANTEE") == "at-least-once"
    assert "ORDERFLOW_TRANSACTIONAL_ID" not in env_entries(c), "transactional id set under at-least-once"
    c = container(r.get("Deployment", dep_name("risk-scorer")))
    assert env_value(r, c, "ORDERFLOW_TRANSACTIONAL_ID") == "risk-scorer-$(POD_NAME)"


@test
def production_credentials_by_secret_reference():
    r = production()
    check_no_literal_credentials(r)
    for d in r.of("Deployment") + r.of("Job"):
        spec = d["spec"]["template"]["spec"]
        c = spec["containers"][0]
        env = env_entries(c)
        what = f"{d['kind']}/{d['metadata']['name']}"
        for name, secret, key in (("ORDERFLOW_SASL_USERNAME", "orderflow-kafka-sasl", "username"),
                                  ("ORDERFLOW_SASL_PASSWORD", "orderflow-kafka-sasl", "password")):
            ref = env[name]["valueFrom"]["secretKeyRef"]
            assert (ref["name"], ref["key"]) == (secret, key), f"{what}: {name} -> {ref}"
        if d["kind"] == "Deployment":
            for name, key in (("ORDERFLOW_SCHEMA_REGISTRY_USERNAME", "username"),
                              ("ORDERFLOW_SCHEMA_REGISTRY_PASSWORD", "password")):
                ref = env[name]["valueFrom"]["secretKeyRef"]
                assert (ref["name"], ref["key"]) == ("orderflow-schema-registry", key), f"{what}: {name} -> {ref}"
            assert env_value(r, c, "ORDERFLOW_SCHEMA_REGISTRY_URL") == "https://schema-registry.example.internal"
            kafka_config = env_value(r, c, "ORDERFLOW_KAFKA_CONFIG")
        else:
            kafka_config = env["ORDERFLOW_KAFKA_CONFIG"]["value"]
        props = dict(p.split("=", 1) for p in kafka_config.split(";"))
        assert props.get("security.protocol") == "SASL_SSL", f"{what}: {kafka_config}"
        assert props.get("sasl.mechanism") == "SCRAM-SHA-512", f"{what}: {kafka_config}"
        assert props.get("ssl.ca.location") == "/etc/orderflow/kafka-tls/ca.crt", f"{what}: {kafka_config}"
        assert not any(k in props for k in ("sasl.username", "sasl.password")), f"{what}: credentials in {kafka_config}"
        mounts = {m["mountPath"]: m for m in c["volumeMounts"]}
        tls = mounts.get("/etc/orderflow/kafka-tls")
        assert tls and tls.get("readOnly") is True, f"{what}: TLS mount missing or writable: {mounts}"
        vol = {v["name"]: v for v in spec["volumes"]}[tls["name"]]
        assert vol["secret"]["secretName"] == "orderflow-kafka-tls", f"{what}: {vol}"
    # No Secret objects: credentials are only ever referenced.
    assert not r.of("Secret"), "chart renders a Secret"


@test
def keda_on_means_no_replicas_and_scaledobject_per_worker():
    r = production()
    sos = {so["spec"]["scaleTargetRef"]["name"]: so for so in r.of("ScaledObject")}
    assert set(sos) == {dep_name(w) for w in WORKERS}, sorted(sos)
    for dep in worker_deployments(r):
        name = dep["metadata"]["name"]
        assert "replicas" not in dep["spec"], f"{name}: replicas set although KEDA owns it"
        c = container(dep)
        so = sos[name]
        assert so["apiVersion"] == "keda.sh/v1alpha1"
        trig = so["spec"]["triggers"]
        worker = next(w for w in WORKERS if dep_name(w) == name)
        # One trigger per input topic, each on the worker's group.
        inputs = [env_value(r, c, "ORDERFLOW_INPUT_TOPIC")] + [
            env_value(r, c, f"ORDERFLOW_{route.upper()}_INPUT_TOPIC") for route in ROUTES.get(worker, {})]
        assert [t["metadata"]["topic"] for t in trig] == inputs, f"{name}: triggers {trig}"
        assert all(t["type"] == "kafka" for t in trig), trig
        assert len({json.dumps(dict(t["metadata"], topic=None), sort_keys=True) for t in trig}) == 1, \
            f"{name}: triggers differ in more than the topic: {trig}"
        md = trig[0]["metadata"]
        assert md["consumerGroup"] == env_value(r, c, "ORDERFLOW_GROUP_ID"), f"{name}: consumerGroup {md}"
        assert md["bootstrapServers"] == env_value(r, c, "ORDERFLOW_BOOTSTRAP_SERVERS"), f"{name}: {md}"
        assert all(isinstance(v, str) for v in md.values()), f"{name}: trigger metadata must be strings: {md}"
        assert int(md["lagThreshold"]) > 0
        assert md.get("sasl") == "scram_sha512" and md.get("tls") == "enable", md
        assert so["spec"]["maxReplicaCount"] <= 12 and so["spec"]["minReplicaCount"] <= so["spec"]["maxReplicaCount"]
        auth = trig[0]["authenticationRef"]["name"]
        ta = r.get("TriggerAuthentication", auth)
        assert ta, f"{name}: TriggerAuthentication {auth} not rendered"
        params = {t["parameter"]: (t["name"], t["key"]) for t in ta["spec"]["secretTargetRef"]}
        assert params == {"username": ("orderflow-kafka-sasl", "username"),
                          "password": ("orderflow-kafka-sasl", "password"),
                          "ca": ("orderflow-kafka-tls", "ca.crt")}, params
        # With KEDA a PDB is rendered whatever the replica count.
        assert r.get("PodDisruptionBudget", name), f"{name}: no PDB with KEDA on"


@test
def keda_scales_down_one_pod_at_a_time_and_falls_back():
    """Each step down is a rebalance: a stabilisation window and one pod per minute by
    default; a fallback replica count only when asked for."""
    r = production()
    for so in r.of("ScaledObject"):
        behavior = so["spec"]["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]
        assert behavior["scaleDown"] == {
            "stabilizationWindowSeconds": 300,
            "policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}],
        }, behavior
        name = so["spec"]["scaleTargetRef"]["name"]
        # The production profile asks for 2; the notifier's own keda entry keeps it.
        assert so["spec"]["fallback"] == {"failureThreshold": 3, "replicas": 2}, (name, so["spec"])
    off = render(values={"defaults": {"keda": {"enabled": True, "scaleDown": {"stabilizationWindowSeconds": 0}}}})
    for so in off.of("ScaledObject"):
        assert "fallback" not in so["spec"], "fallback without replicas"
        assert so["spec"]["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]["scaleDown"][
            "stabilizationWindowSeconds"] == 0


@test
def pods_spread_over_nodes_and_zones_by_default():
    r = render()
    for w in WORKERS:
        spec = r.get("Deployment", dep_name(w))["spec"]["template"]["spec"]
        constraints = spec["topologySpreadConstraints"]
        assert [c["topologyKey"] for c in constraints] == ["kubernetes.io/hostname", "topology.kubernetes.io/zone"]
        for c in constraints:
            assert c["whenUnsatisfiable"] == "ScheduleAnyway" and c["maxSkew"] == 1, c
            assert c["labelSelector"]["matchLabels"]["app.kubernetes.io/component"] == w, c
    own = [{"maxSkew": 2, "topologyKey": "kubernetes.io/hostname", "whenUnsatisfiable": "DoNotSchedule",
            "labelSelector": {"matchLabels": {"app": "x"}}}]
    r = render(values={"defaults": {"topologySpreadConstraints": own},
                       "workers": {"notifier": {"topologySpreadConstraints": [], "defaultTopologySpread": False}}})
    assert r.get("Deployment", dep_name("risk-scorer"))["spec"]["template"]["spec"]["topologySpreadConstraints"] == own
    assert "topologySpreadConstraints" not in r.get("Deployment", dep_name("notifier"))["spec"]["template"]["spec"]


@test
def env_from_and_extra_volumes_reach_the_pod():
    values = {"defaults": {
        "envFrom": [{"secretRef": {"name": "orderflow-extra"}}],
        "extraVolumes": [{"name": "certs", "secret": {"secretName": "client-certs"}}],
        "extraVolumeMounts": [{"name": "certs", "mountPath": "/etc/client-certs", "readOnly": True}],
    }}
    r = render(values=values)
    for w in WORKERS:
        dep = r.get("Deployment", dep_name(w))
        c = container(dep)
        assert c["envFrom"] == [{"secretRef": {"name": "orderflow-extra"}}], c.get("envFrom")
        mounts = {m["name"]: m["mountPath"] for m in c["volumeMounts"]}
        assert mounts["certs"] == "/etc/client-certs" and mounts["tmp"] == "/tmp", mounts
        vols = {v["name"]: v for v in dep["spec"]["template"]["spec"]["volumes"]}
        assert vols["certs"]["secret"]["secretName"] == "client-certs" and "tmp" in vols, vols
    assert "envFrom" not in container(render().get("Deployment", dep_name("notifier")))


@test
def network_policy_opens_only_the_http_port():
    r = production()
    (np,) = r.of("NetworkPolicy")
    spec = np["spec"]
    assert spec["podSelector"]["matchExpressions"] == [
        {"key": "app.kubernetes.io/component", "operator": "In", "values": sorted(WORKERS)}], spec["podSelector"]
    assert spec["policyTypes"] == ["Ingress"], "egress stays open without rules"
    (rule,) = spec["ingress"]
    assert rule["ports"] == [{"port": "http", "protocol": "TCP"}], rule
    assert rule["from"][0]["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": "monitoring"}
    # The selector matches the worker pods and not the topics Job's or the test Pod.
    for dep in worker_deployments(r):
        labels = dep["spec"]["template"]["metadata"]["labels"]
        assert all(labels.get(k) == v for k, v in spec["podSelector"]["matchLabels"].items())
        assert labels["app.kubernetes.io/component"] in spec["podSelector"]["matchExpressions"][0]["values"]
    for job in r.of("Job"):
        assert job["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/component"] not in WORKERS
    egress = [{"to": [{"ipBlock": {"cidr": "10.0.0.0/8"}}]}]
    spec = render(values={"networkPolicy": {"enabled": True, "egress": egress}}).of("NetworkPolicy")[0]["spec"]
    assert spec["policyTypes"] == ["Ingress", "Egress"] and spec["egress"] == egress, spec


@test
def custom_group_id_flows_to_keda():
    r = render(values={"defaults": {"keda": {"enabled": True}},
                       "workers": {"risk-scorer": {"groupId": "risk-scorer-v2"}}})
    c = container(r.get("Deployment", dep_name("risk-scorer")))
    assert env_value(r, c, "ORDERFLOW_GROUP_ID") == "risk-scorer-v2"
    so = r.get("ScaledObject", dep_name("risk-scorer"))
    assert so["spec"]["triggers"][0]["metadata"]["consumerGroup"] == "risk-scorer-v2"
    assert "authenticationRef" not in so["spec"]["triggers"][0], "plaintext Kafka needs no TriggerAuthentication"
    assert not r.of("TriggerAuthentication")
    # Empty groupId falls back to the worker name.
    r = render(values={"workers": {"notifier": {"groupId": ""}}})
    c = container(r.get("Deployment", dep_name("notifier")))
    assert env_value(r, c, "ORDERFLOW_GROUP_ID") == "notifier"


@test
def per_worker_keda_off_overrides_default_on():
    r = render(values={"defaults": {"keda": {"enabled": True}},
                       "workers": {"order-status": {"keda": {"enabled": False}, "replicas": 3}}})
    dep = r.get("Deployment", dep_name("order-status"))
    assert dep["spec"].get("replicas") == 3, f"order-status replicas {dep['spec'].get('replicas')!r}, want 3"
    assert not r.get("ScaledObject", dep_name("order-status")), "ScaledObject although keda.enabled: false"
    assert r.get("ScaledObject", dep_name("notifier")), "no ScaledObject for notifier with keda on by default"
    assert "replicas" not in r.get("Deployment", dep_name("notifier"))["spec"], "notifier: replicas set under KEDA"


@test
def replicas_zero_is_honoured_without_keda():
    r = render(values={"defaults": {"replicas": 3}, "workers": {"order-status": {"replicas": 0}}})
    dep = r.get("Deployment", dep_name("order-status"))
    assert "replicas" in dep["spec"] and dep["spec"]["replicas"] == 0, f"replicas: {dep['spec'].get('replicas')!r}"
    assert r.get("Deployment", dep_name("notifier"))["spec"]["replicas"] == 3
    assert not r.get("PodDisruptionBudget", dep_name("order-status")), "PDB for a worker at 0 replicas"
    assert r.get("PodDisruptionBudget", dep_name("notifier"))
    # The helm test pod does not wait for a worker that has no pods.
    args = " ".join(r.of("Pod")[0]["spec"]["containers"][0]["command"])
    assert dep_name("order-status") + ":" not in args, args
    assert dep_name("notifier") + ":" in args, args


@test
def single_replica_has_no_pdb():
    r = render(values={"defaults": {"replicas": 1}})
    assert not r.of("PodDisruptionBudget"), r.names("PodDisruptionBudget")
    r = render()
    for pdb in r.of("PodDisruptionBudget"):
        assert pdb["spec"]["maxUnavailable"] == 1, pdb["spec"]


@test
def disabled_worker_renders_nothing():
    r = render(values={"workers": {"notifier": {"enabled": False}}, "podMonitor": {"enabled": True}})
    gone = dep_name("notifier")
    for kind in ("Deployment", "Service", "PodDisruptionBudget", "ScaledObject"):
        assert gone not in r.names(kind), f"{kind} {gone} rendered for a disabled worker"
    assert r.names("Deployment") == {dep_name(w) for w in WORKERS if w != "notifier"}
    pm = r.of("PodMonitor")[0]
    assert "notifier" not in pm["spec"]["selector"]["matchExpressions"][0]["values"]
    assert gone + ":" not in " ".join(r.of("Pod")[0]["spec"]["containers"][0]["command"])
    # Disabled by default, enabled per worker.
    r = render(values={"defaults": {"enabled": False}, "workers": {"risk-scorer": {"enabled": True}}})
    assert r.names("Deployment") == {dep_name("risk-scorer")}, r.names("Deployment")


@test
def termination_grace_exceeds_shutdown_deadline():
    for r in (render(), production()):
        for dep in worker_deployments(r):
            spec = dep["spec"]["template"]["spec"]
            deadline = int(env_value(r, container(dep), "ORDERFLOW_SHUTDOWN_TIMEOUT_SECS"))
            assert spec["terminationGracePeriodSeconds"] > deadline, \
                f"{dep['metadata']['name']}: grace {spec['terminationGracePeriodSeconds']} <= deadline {deadline}"
    err = render_fails(values={"workers": {"notifier": {"shutdownTimeoutSeconds": 30}}})
    assert "terminationGracePeriodSeconds" in err and "notifier" in err, err
    err = render_fails(values={"defaults": {"terminationGracePeriodSeconds": 10}})
    assert "must be greater than shutdownTimeoutSeconds" in err, err


@test
def keda_max_replicas_bounded_by_partitions():
    err = render_fails(values={"topics": {"partitions": 6},
                               "defaults": {"keda": {"enabled": True, "maxReplicaCount": 8}}})
    assert "maxReplicaCount" in err and "topics.partitions" in err, err
    err = render_fails(values={"workers": {"order-validator": {"keda": {"enabled": True, "maxReplicaCount": 13}}}})
    assert "order-validator" in err and "(13)" in err and "(12)" in err, err
    # Equal is fine.
    render(values={"topics": {"partitions": 8}, "defaults": {"keda": {"enabled": True, "maxReplicaCount": 8}}})


@test
def unknown_keys_rejected_and_named():
    cases = [
        ({"workers": {"order-validator": {"replicass": 2}}}, "replicass"),
        ({"imagee": {"tag": "x"}}, "imagee"),
        ({"kafka": {"sasl": {"existingSecrett": "s"}}}, "existingSecrett"),
        ({"defaults": {"keda": {"maxReplicas": 3}}}, "maxReplicas"),
        ({"defaults": {"securityContext": {"readOnlyRootFileSystem": False}}}, "readOnlyRootFileSystem"),
        ({"workers": {"order-validatr": {"replicas": 1}}}, "order-validatr"),
    ]
    for values, key in cases:
        err = render_fails(values=values)
        assert key in err, f"error for {values} does not name {key!r}:\n{err}"


@test
def wrong_types_rejected():
    cases = [
        ({"workers": {"order-validator": {"replicas": "2"}}}, "replicas"),
        ({"topics": {"partitions": "12"}}, "partitions"),
        ({"defaults": {"terminationGracePeriodSeconds": "30"}}, "terminationGracePeriodSeconds"),
        ({"defaults": {"enabled": "yes"}}, "enabled"),
        ({"defaults": {"guarantee": "exactly_once"}}, "guarantee"),
        ({"kafka": {"securityProtocol": "SASL_TLS"}}, "securityProtocol"),
    ]
    for values, key in cases:
        err = render_fails(values=values)
        assert key in err, f"error for {values} does not name {key!r}:\n{err}"
    err = render_fails(args=["--set-string", "workers.order-validator.replicas=2"])
    assert "replicas" in err and "integer" in err, err


@test
def inconsistent_security_settings_fail_clearly():
    err = render_fails(values={"kafka": {"securityProtocol": "SASL_SSL"}})
    assert "kafka.sasl.existingSecret" in err, err
    err = render_fails(values={"kafka": {"sasl": {"existingSecret": "s"}}})
    assert "kafka.securityProtocol" in err, err
    err = render_fails(values={"kafka": {"config": {"sasl.password": "hunter2"}}})
    assert "credential" in err, err
    err = render_fails(values={"kafka": {"securityProtocol": "SSL", "tls": {"existingSecret": "t", "certKey": "tls.crt"}}})
    assert "keyKey" in err, err


@test
def kafka_config_properties():
    r = render(values={"kafka": {"config": {"message.max.bytes": 1048576, "enable.idempotence": True,
                                            "client.id": "orderflow", "socket.keepalive.enable": "true"}}})
    c = container(r.get("Deployment", dep_name("order-status")))
    value = env_value(r, c, "ORDERFLOW_KAFKA_CONFIG")
    assert value == ("security.protocol=PLAINTEXT;client.id=orderflow;enable.idempotence=true;"
                     "message.max.bytes=1048576;socket.keepalive.enable=true"), value
    for key in ("security.protocol", "bootstrap.servers", "transactional.id"):
        err = render_fails(values={"kafka": {"config": {key: "x"}}})
        assert f"kafka.config.{key} is set by the chart" in err, err
    err = render_fails(values={"kafka": {"config": {"client.id": "a;b"}}})
    assert "contains ';'" in err, err


@test
def mutual_tls_paths():
    r = render(values={"kafka": {"securityProtocol": "SSL",
                                 "tls": {"existingSecret": "kafka-client", "caKey": "ca.crt",
                                         "certKey": "tls.crt", "keyKey": "tls.key"}}})
    c = container(r.get("Deployment", dep_name("order-validator")))
    props = dict(p.split("=", 1) for p in env_value(r, c, "ORDERFLOW_KAFKA_CONFIG").split(";"))
    assert props["ssl.certificate.location"] == "/etc/orderflow/kafka-tls/tls.crt", props
    assert props["ssl.key.location"] == "/etc/orderflow/kafka-tls/tls.key", props
    assert "sasl.mechanism" not in props, props
    vol = {v["name"]: v for v in r.get("Deployment", dep_name("order-validator"))["spec"]["template"]["spec"]["volumes"]}
    assert [i["key"] for i in vol["kafka-tls"]["secret"]["items"]] == ["ca.crt", "tls.crt", "tls.key"]


@test
def rules_configmap_and_checksum():
    base = render()
    rules = 'max_amount = 10000\n[velocity]\nwindow_secs = 60\n'
    r = render(values={"workers": {"order-validator": {"rules": rules}}})
    cm = r.of("ConfigMap")[0]
    assert cm["data"].get("order-validator.toml", "").strip() == rules.strip(), cm["data"]
    assert not any(k.endswith(".toml") and k != "order-validator.toml" for k in cm["data"]), cm["data"]
    dep = r.get("Deployment", dep_name("order-validator"))
    c = container(dep)
    assert env_value(r, c, "ORDERFLOW_RULES") == "/etc/orderflow/rules/order-validator.toml"
    mount = {m["mountPath"]: m for m in c["volumeMounts"]}["/etc/orderflow/rules"]
    assert mount.get("readOnly") is True
    vol = {v["name"]: v for v in dep["spec"]["template"]["spec"]["volumes"]}[mount["name"]]
    assert vol["configMap"]["name"] == cm["metadata"]["name"]
    assert [i["key"] for i in vol["configMap"]["items"]] == ["order-validator.toml"]
    other = container(r.get("Deployment", dep_name("notifier")))
    assert "ORDERFLOW_RULES" not in env_entries(other), "ORDERFLOW_RULES set for a worker without rules"

    def checksum(rr, w):
        return rr.get("Deployment", dep_name(w))["spec"]["template"]["metadata"]["annotations"]["checksum/config"]

    for w in WORKERS:
        assert re.fullmatch(r"[0-9a-f]{64}", checksum(base, w)), checksum(base, w)
        assert checksum(r, w) != checksum(base, w), f"{w}: checksum/config did not change with the ConfigMap"
    # Deterministic, and it follows the ConfigMap's content.
    assert checksum(render(), "notifier") == checksum(base, "notifier")
    r2 = render(values={"kafka": {"bootstrapServers": "elsewhere:9092"}})
    assert checksum(r2, "notifier") != checksum(base, "notifier")


@test
def optional_objects_off_by_default():
    r = render()
    for kind in ("ScaledObject", "TriggerAuthentication", "PodMonitor", "PrometheusRule", "Job", "Secret",
                 "NetworkPolicy"):
        assert not r.of(kind), f"{kind} rendered by default"
    assert not [cm for cm in r.of("ConfigMap") if "grafana_dashboard" in cm["metadata"]["labels"]], \
        "dashboard ConfigMap rendered by default"
    assert len(r.of("Pod")) == 1, "helm test Pod missing"


@test
def podmonitor_scrapes_metrics_on_http():
    r = production()
    (pm,) = r.of("PodMonitor")
    assert pm["apiVersion"] == "monitoring.coreos.com/v1"
    (ep,) = pm["spec"]["podMetricsEndpoints"]
    assert ep["port"] == "http" and ep["path"] == "/metrics", ep
    assert pm["metadata"]["labels"].get("release") == "kube-prometheus-stack"
    sel = pm["spec"]["selector"]
    values = set(sel["matchExpressions"][0]["values"])
    assert values == set(WORKERS), values
    for dep in worker_deployments(r):
        labels = dep["spec"]["template"]["metadata"]["labels"]
        assert all(labels.get(k) == v for k, v in sel["matchLabels"].items())
        assert labels["app.kubernetes.io/component"] in values


ALERTS = {"OrderflowLagGrowing", "OrderflowDeadLetters", "OrderflowTransactionsAborting",
          "OrderflowWorkerNotReady", "OrderflowSafetyValveTripped"}


@test
def prometheus_rule_alerts_on_the_release_workers():
    r = render(values={
        "workers": {"notifier": {"enabled": False}},
        "prometheusRule": {"enabled": True, "labels": {"release": "kps"}, "alertLabels": {"team": "orders"},
                           "lagThreshold": 5000, "lagGrowingFor": "20m", "deadLetterRatio": 0.05,
                           "abortingFor": "15m", "notReadyFor": "7m"},
    })
    (rule,) = r.of("PrometheusRule")
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    assert rule["metadata"]["labels"]["release"] == "kps"
    (group,) = rule["spec"]["groups"]
    rules = {x["alert"]: x for x in group["rules"]}
    assert set(rules) == ALERTS, sorted(rules)
    enabled = "|".join(sorted(w for w in WORKERS if w != "notifier"))
    for name, x in rules.items():
        # Scoped to this namespace and the enabled workers only.
        assert f'namespace="{NAMESPACE}", worker=~"{enabled}"' in x["expr"], (name, x["expr"])
        assert x["labels"]["team"] == "orders" and x["labels"]["severity"], (name, x["labels"])
        # Prometheus's templates reach it unexpanded by Helm.
        assert "{{ $labels." in x["annotations"]["summary"], (name, x["annotations"])
    assert "> 5000" in rules["OrderflowLagGrowing"]["expr"] and rules["OrderflowLagGrowing"]["for"] == "20m"
    assert "> 0.05" in rules["OrderflowDeadLetters"]["expr"]
    assert rules["OrderflowTransactionsAborting"]["for"] == "15m"
    assert rules["OrderflowWorkerNotReady"]["for"] == "7m"
    assert rules["OrderflowSafetyValveTripped"]["labels"]["severity"] == "critical"
    # No enabled worker, no rules.
    none = {w: {"enabled": False} for w in WORKERS}
    assert not render(values={"workers": none, "prometheusRule": {"enabled": True}}).of("PrometheusRule")
    # With the notifier, its users input's label (the dot escaped) is in every selector.
    (rule,) = render(values={"prometheusRule": {"enabled": True}}).of("PrometheusRule")
    labels = sorted(list(WORKERS) + ["notifier\\\\.users"])
    for x in rule["spec"]["groups"][0]["rules"]:
        assert f'worker=~"{"|".join(labels)}"' in x["expr"], (x["alert"], x["expr"])


def dashboard_file() -> dict:
    return json.loads((CHART / "dashboards" / "orderflow.json").read_text())


@test
def grafana_dashboard_configmap_for_the_sidecar():
    r = render(values={"grafanaDashboard": {"enabled": True, "labels": {"team": "orders"},
                                            "annotations": {"grafana_folder": "Orders"}}})
    (cm,) = [cm for cm in r.of("ConfigMap") if cm["metadata"]["labels"].get("grafana_dashboard") == "1"]
    assert cm["metadata"]["labels"]["team"] == "orders"
    assert cm["metadata"]["annotations"] == {"grafana_folder": "Orders"}
    assert json.loads(cm["data"]["orderflow.json"]) == dashboard_file()


@test
def dashboard_panels_follow_the_namespace_and_worker_variables():
    dash = dashboard_file()
    variables = {v["name"] for v in dash["templating"]["list"]}
    assert variables == {"datasource", "namespace", "worker"}, variables
    targets = [t for p in dash["panels"] for t in p.get("targets", [])]
    assert len(targets) >= 20, len(targets)
    for t in targets:
        assert 'namespace="$namespace"' in t["expr"], t["expr"]
        assert '=~"$worker"' in t["expr"], t["expr"]
        assert t["datasource"]["uid"] == "${datasource}", t
    titles = " ".join(p["title"].lower() for p in dash["panels"])
    for subject in ("lag", "dead letters", "transaction", "end-to-end", "rebalances", "cpu", "memory"):
        assert subject in titles, subject
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids)), "panel ids repeat"


@test
def topics_job_is_a_hook_with_partitions_and_replication():
    r = production()
    (job,) = r.of("Job")
    ann = job["metadata"]["annotations"]
    assert set(ann["helm.sh/hook"].split(",")) == {"pre-install", "pre-upgrade"}, ann
    c = job["spec"]["template"]["spec"]["containers"][0]
    cmd = c["command"]
    assert cmd[:3] == ["orderflow", "topics", "ensure"], cmd
    assert cmd[cmd.index("--partitions") + 1] == "12", cmd
    assert cmd[cmd.index("--replication-factor") + 1] == "3", cmd
    dep_c = container(r.get("Deployment", dep_name("order-validator")))
    assert cmd[cmd.index("--bootstrap-servers") + 1] == env_value(r, dep_c, "ORDERFLOW_BOOTSTRAP_SERVERS")
    assert env_entries(c)["ORDERFLOW_KAFKA_CONFIG"]["value"] == env_value(r, dep_c, "ORDERFLOW_KAFKA_CONFIG")
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    r = render(values={"topics": {"partitions": 24, "replicationFactor": 2, "ensureJob": {"enabled": True}}})
    cmd = r.of("Job")[0]["spec"]["template"]["spec"]["containers"][0]["command"]
    assert cmd[cmd.index("--partitions") + 1] == "24" and cmd[cmd.index("--replication-factor") + 1] == "2", cmd


@test
def helm_test_pod_checks_readyz_of_each_worker():
    r = render(values={"tests": {"image": {"repository": "curlimages/curl", "tag": "8.11.1"}}})
    (pod,) = r.of("Pod")
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    c = pod["spec"]["containers"][0]
    assert c["image"] == "curlimages/curl:8.11.1"
    urls = [a for a in c["command"] if a.startswith("http://")]
    want = {f"http://{dep_name(w)}:9090/readyz" for w in WORKERS}
    assert set(urls) == want, urls
    for w in WORKERS:
        assert r.get("Service", dep_name(w))["spec"]["ports"][0]["port"] == 9090
    assert pod["spec"]["restartPolicy"] == "Never"


@test
def image_reference():
    # The default is the image `make image` builds: orderflow:<appVersion> (none is published).
    app_version = yaml.safe_load((CHART / "Chart.yaml").read_text())["appVersion"]
    dep = render().get("Deployment", dep_name("notifier"))
    assert container(dep)["image"] == f"orderflow:{app_version}", container(dep)["image"]
    digest = "sha256:" + "a" * 64
    dep = render(values={"image": {"repository": "registry.example/orderflow", "digest": digest}}) \
        .get("Deployment", dep_name("notifier"))
    assert container(dep)["image"] == f"registry.example/orderflow@{digest}"


@test
def long_release_names_keep_worker_suffix():
    proc = subprocess.run([helm_binary(), "template", "a" * 53, str(CHART)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    names = [d["metadata"]["name"] for d in yaml.safe_load_all(proc.stdout) if d and d["kind"] == "Deployment"]
    assert len(names) == len(WORKERS) and len(set(names)) == len(WORKERS), names
    for n in names:
        assert len(n) <= 63 and any(n.endswith("-" + w) for w in WORKERS), n


@test
def renders_as_a_subchart_with_global_values():
    """An umbrella chart passes `global` to every subchart: the closed schema accepts it."""
    with tempfile.TemporaryDirectory(prefix="orderflow-umbrella-") as tmp:
        umbrella = Path(tmp) / "shop"
        shutil.copytree(CHART, umbrella / "charts" / "orderflow")
        chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
        (umbrella / "Chart.yaml").write_text(yaml.safe_dump({
            "apiVersion": "v2", "name": "shop", "version": "1.0.0",
            "dependencies": [{"name": "orderflow", "version": chart["version"]}],
        }))
        (umbrella / "values.yaml").write_text(yaml.safe_dump({
            "global": {"imageRegistry": "registry.example", "storageClass": "fast"},
            "orderflow": {"kafka": {"bootstrapServers": "kafka.shop:9092"}},
        }))
        proc = subprocess.run([helm_binary(), "template", "shop", str(umbrella)],
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        deps = [d for d in yaml.safe_load_all(proc.stdout) if d and d["kind"] == "Deployment"]
        assert len(deps) == len(WORKERS), [d["metadata"]["name"] for d in deps]
    # A misspelt key is still refused beside `global`.
    err = render_fails(values={"global": {"x": 1}, "imagee": {"tag": "x"}})
    assert "imagee" in err, err


@test
def every_values_key_is_documented():
    """Each key line of values.yaml is preceded by a comment or carries one."""
    lines = (CHART / "values.yaml").read_text().splitlines()
    undocumented = []
    prev = ""
    for no, line in enumerate(lines, 1):
        stripped = line.strip()
        if not stripped:
            continue
        if re.match(r"^\s*[A-Za-z0-9_.-]+:(\s|$)", line) and not stripped.startswith("#"):
            if not prev.startswith("#") and " # " not in line and "  #" not in line:
                undocumented.append(f"values.yaml:{no}: {stripped}")
        prev = stripped
    assert not undocumented, "undocumented keys:\n" + "\n".join(undocumented)


@test
def schema_is_closed_and_consistent():
    """Every object the chart defines rejects unknown keys; worker entries accept every defaults key."""
    import json

    schema = json.loads((CHART / "values.schema.json").read_text())
    # Free-form objects: Kubernetes pass-through structures and string maps.
    open_ok = {"affinity", "seLinuxOptions", "appArmorProfile", "windowsOptions", "global"}
    problems = []

    def walk(node, path):
        if isinstance(node, dict):
            if node.get("type") == "object" and "properties" in node and node.get("additionalProperties") is not False:
                problems.append(f"{path}: object with properties but additionalProperties is not false")
            if node.get("type") == "object" and "properties" not in node and "additionalProperties" not in node \
                    and path.rsplit("/", 1)[-1] not in open_ok and not path.endswith("/items"):
                problems.append(f"{path}: free-form object")
            for k, v in node.items():
                walk(v, f"{path}/{k}")
        elif isinstance(node, list):
            for n, v in enumerate(node):
                walk(v, f"{path}/{n}")

    walk(schema, "#")
    assert not problems, "\n".join(problems)
    settings = schema["definitions"]["settings"]["properties"]
    worker = schema["definitions"]["worker"]["properties"]
    for key, sub in settings.items():
        assert worker.get(key) == sub, f"definitions.worker.{key} differs from definitions.settings.{key}"
    assert set(worker) - set(settings) == {"inputTopic", "outputTopic", "dlqTopic", "groupId", "routes"}, \
        set(worker) - set(settings)
    assert set(schema["properties"]["workers"]["properties"]) == set(WORKERS)
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert set(values["defaults"]) == set(settings), set(values["defaults"]) ^ set(settings)


@test
def examples_render_and_minimal_is_small():
    r = render(files=[EXAMPLES / "minimal.yaml"])
    assert r.names("Deployment") == {dep_name(w) for w in WORKERS}
    for dep in r.of("Deployment"):
        assert dep["spec"]["replicas"] == 1
    assert not r.of("PodDisruptionBudget"), "single replicas should have no PDB"
    check_no_literal_credentials(r)
    check_no_literal_credentials(production())


# --------------------------------------------------------------------------- runner


def main(tests: list | None = None, doc: str | None = None) -> int:
    """Runs `tests` (default: this file's) and prints one line each; test_schemas.py reuses it."""
    parser = argparse.ArgumentParser(description=(doc or __doc__).split("\n\n")[0])
    parser.add_argument("-k", default="", help="only run tests whose name contains this")
    opts = parser.parse_args()
    print(f"helm: {helm_binary()}  chart: {CHART.name}")
    passed = failed = 0
    for fn in TESTS if tests is None else tests:
        if opts.k not in fn.__name__:
            continue
        try:
            fn()
        except AssertionError as exc:
            failed += 1
            frame = traceback.extract_tb(exc.__traceback__)[-1]
            detail = str(exc) or f"line {frame.lineno}: {frame.line}"
            print(f"FAIL {fn.__name__}: {detail}")
        except Exception:  # a crash in a test is a failure too
            failed += 1
            print(f"FAIL {fn.__name__}: unexpected error\n{traceback.format_exc()}")
        else:
            passed += 1
            print(f"ok   {fn.__name__}")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed or not passed else 0


if __name__ == "__main__":
    sys.exit(main())
