#!/usr/bin/env python3
"""Turns the pods the Helm chart renders into `docker run` arguments, so that the
container smoke test (scripts/smoke.sh) runs each worker and the topics Job the way
Kubernetes would run them: the same command, environment (ConfigMap references and
the downward API resolved, $(VAR) expanded), user, read-only root file system,
capabilities, privilege escalation, seccomp, writable /tmp and resource limits.

    helm template ... | chart-run.py --image orderflow:dev --network NET --out DIR

For every Deployment and Job it writes DIR/<container>.args (the arguments that
follow `docker run`, NUL-separated, the image and command last) and
DIR/<container>.grace (terminationGracePeriodSeconds, or a Job's
activeDeadlineSeconds). A setting it cannot translate stops it with the setting's
name: the smoke test must not pass by ignoring part of the chart.
"""

import argparse
import re
import sys
from pathlib import Path

import yaml


class Untranslatable(Exception):
    pass


def quantity_bytes(value):
    units = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "K": 10**3, "M": 10**6, "G": 10**9}
    match = re.fullmatch(r"(\d+)([KMG]i?)?", str(value))
    if not match:
        raise Untranslatable(f"memory quantity {value!r}")
    return int(match.group(1)) * units.get(match.group(2) or "", 1)


def quantity_cpus(value):
    value = str(value)
    return int(value[:-1]) / 1000 if value.endswith("m") else float(value)


def expand(value, env):
    # Kubernetes expands $(NAME) from variables defined earlier in the list; $$ escapes.
    def one(match):
        name = match.group(1)
        return env.get(name, match.group(0))

    return re.sub(r"(?<!\$)\$\(([A-Za-z_][A-Za-z0-9_]*)\)", one, value).replace("$$", "$")


def environment(container, pod, config_maps):
    env = {}
    for var in container.get("env", []):
        name = var["name"]
        if "value" in var:
            env[name] = expand(str(var["value"]), env)
            continue
        source = var.get("valueFrom", {})
        if "configMapKeyRef" in source:
            ref = source["configMapKeyRef"]
            env[name] = config_maps[ref["name"]][ref["key"]]
        elif "fieldRef" in source:
            field = source["fieldRef"]["fieldPath"]
            fields = {"metadata.name": pod["name"], "metadata.namespace": pod["namespace"]}
            if field not in fields:
                raise Untranslatable(f"env {name}: fieldRef {field}")
            env[name] = fields[field]
        else:
            raise Untranslatable(f"env {name}: {sorted(source)}")
    return env


def security(pod_spec, container):
    merged = dict(pod_spec.get("securityContext", {}))
    merged.pop("fsGroup", None)  # volume ownership; /tmp below is writable by anyone
    merged.update(container.get("securityContext", {}))
    args = []
    user, group = merged.pop("runAsUser", None), merged.pop("runAsGroup", None)
    if merged.pop("runAsNonRoot", False) and not user:
        raise Untranslatable("runAsNonRoot without a non-zero runAsUser")
    if user is not None:
        args += ["--user", f"{user}:{group if group is not None else user}"]
    if merged.pop("readOnlyRootFilesystem", False):
        args.append("--read-only")
    if merged.pop("allowPrivilegeEscalation", True) is False:
        args += ["--security-opt", "no-new-privileges"]
    if merged.pop("privileged", False):
        raise Untranslatable("privileged")
    capabilities = merged.pop("capabilities", {})
    args += [a for cap in capabilities.pop("drop", []) for a in ("--cap-drop", cap)]
    args += [a for cap in capabilities.pop("add", []) for a in ("--cap-add", cap)]
    if capabilities:
        raise Untranslatable(f"capabilities {sorted(capabilities)}")
    seccomp = merged.pop("seccompProfile", {"type": "RuntimeDefault"})
    # Docker's default seccomp profile is the runtime default; nothing to add.
    if seccomp.get("type") == "Unconfined":
        args += ["--security-opt", "seccomp=unconfined"]
    elif seccomp.get("type") != "RuntimeDefault":
        raise Untranslatable(f"seccompProfile {seccomp}")
    if merged:
        raise Untranslatable(f"securityContext {sorted(merged)}")
    return args


def volumes(pod_spec, container):
    by_name = {v["name"]: v for v in pod_spec.get("volumes", [])}
    args = []
    for mount in container.get("volumeMounts", []):
        volume = by_name[mount["name"]]
        if "emptyDir" not in volume:
            raise Untranslatable(f"volume {mount['name']}: {sorted(set(volume) - {'name'})}")
        # An emptyDir is the pod's scratch space: a tmpfs of the same size limit.
        options = "rw,mode=1777"
        if volume["emptyDir"] and volume["emptyDir"].get("sizeLimit"):
            options += f",size={quantity_bytes(volume['emptyDir']['sizeLimit'])}"
        args += ["--tmpfs", f"{mount['mountPath']}:{options}"]
    return args


def resources(container):
    limits = container.get("resources", {}).get("limits", {})
    args = []
    if "memory" in limits:
        args += ["--memory", str(quantity_bytes(limits["memory"]))]
    if "cpu" in limits:
        args += ["--cpus", str(quantity_cpus(limits["cpu"]))]
    return args


def run_args(kind, obj, config_maps, options):
    pod_spec = obj["spec"]["template"]["spec"]
    (container,) = pod_spec["containers"]
    pod = {
        "name": f"{obj['metadata']['name']}-{options.pod_suffix}",
        "namespace": obj["metadata"].get("namespace", "default"),
    }
    args = ["--name", f"{options.name_prefix}{container['name']}", "--hostname", pod["name"]]
    args += ["--network", options.network]
    for label in options.label:
        args += ["--label", label]
    args += security(pod_spec, container)
    args += volumes(pod_spec, container)
    args += resources(container)
    for name, value in environment(container, pod, config_maps).items():
        args += ["--env", f"{name}={value}"]
    for port in container.get("ports", []):
        args += ["--publish", f"127.0.0.1::{port['containerPort']}"]
    command = container.get("command", []) + container.get("args", [])
    if container.get("command"):
        args += ["--entrypoint", command[0]]
        command = command[1:]
    args += [options.image] + [str(part) for part in command]
    if kind == "Deployment":
        grace = pod_spec.get("terminationGracePeriodSeconds", 30)
    else:
        grace = obj["spec"].get("activeDeadlineSeconds", 300)
    return container["name"], args, grace


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--image", required=True)
    parser.add_argument("--network", required=True)
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--pod-suffix", default="smoke")
    parser.add_argument("--name-prefix", default="")
    parser.add_argument("--label", action="append", default=[])
    options = parser.parse_args()

    documents = [d for d in yaml.safe_load_all(sys.stdin) if d]
    config_maps = {d["metadata"]["name"]: d.get("data", {}) for d in documents if d["kind"] == "ConfigMap"}
    options.out.mkdir(parents=True, exist_ok=True)
    written = []
    try:
        for document in documents:
            if document["kind"] not in ("Deployment", "Job"):
                continue
            name, args, grace = run_args(document["kind"], document, config_maps, options)
            (options.out / f"{name}.args").write_bytes(b"\0".join(a.encode() for a in args) + b"\0")
            (options.out / f"{name}.grace").write_text(f"{grace}\n")
            written.append(name)
    except Untranslatable as error:
        sys.exit(f"chart-run: the chart sets something docker run cannot mirror: {error}")
    print(" ".join(written))


if __name__ == "__main__":
    main()
