"""The CustomResourceDefinitions of the custom resources the chart renders.

The chart renders KEDA ScaledObjects and TriggerAuthentications and a
Prometheus Operator PodMonitor and PrometheusRule. Their CRDs are read from the operators' own Go
modules at pinned versions (fetched with `go mod download`, which checks them
against the Go checksum database, and compared with the hashes below), so the
schemas are the published ones and never a hand-edited copy. Used by
test_schemas.py (offline strict validation) and test_install.py (applied to a
real API server).
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path

import yaml

# module, version, go.sum hash of the module zip, CRD files in the module: the
# definitions of the kinds the chart renders, and no others.
MODULES = [
    ("github.com/kedacore/keda/v2", "v2.21.0", "h1:R6z2HZvstK4RLUMxroNACzBj74xGxt3kG59b5Xc+Xps=", [
        "config/crd/bases/keda.sh_scaledobjects.yaml",
        "config/crd/bases/keda.sh_triggerauthentications.yaml",
    ]),
    # The newest release of the whole module the Go module proxy serves; its
    # pkg/apis/monitoring submodule is newer, but carries no CRD files.
    ("github.com/prometheus-operator/prometheus-operator", "v0.85.0", "h1:M5xLCLEoaW2IJfnuCwFzzpL+jSVQu3KGT84Pye+fW8s=", [
        "example/prometheus-operator-crd/monitoring.coreos.com_podmonitors.yaml",
        "example/prometheus-operator-crd/monitoring.coreos.com_prometheusrules.yaml",
    ]),
]


def _module_dir(module: str, version: str, expected_sum: str) -> Path:
    # Outside any module, so no go.mod of the repository takes part.
    with tempfile.TemporaryDirectory(prefix="orderflow-crds-") as cwd:
        proc = subprocess.run(["go", "mod", "download", "-json", f"{module}@{version}"], cwd=cwd,
                              capture_output=True, text=True, timeout=600,
                              env={**os.environ, "GO111MODULE": "on", "GOFLAGS": "-mod=mod"})
    info = json.loads(proc.stdout) if proc.stdout.strip() else {}
    if proc.returncode != 0 or info.get("Error"):
        raise RuntimeError(f"go mod download {module}@{version} failed: {info.get('Error') or proc.stderr.strip()}")
    if info.get("Sum") != expected_sum:
        raise RuntimeError(f"{module}@{version}: hash {info.get('Sum')} is not the pinned {expected_sum}")
    return Path(info["Dir"])


def definitions() -> list[dict]:
    """Every pinned CRD, as parsed YAML."""
    crds = []
    for module, version, expected_sum, files in MODULES:
        root = _module_dir(module, version, expected_sum)
        for f in files:
            crds += [d for d in yaml.safe_load_all((root / f).read_text()) if d]
    return crds


def served_kinds(crds: list[dict]) -> dict[tuple[str, str], dict]:
    """(apiVersion, kind) -> the openAPIV3Schema of that served version."""
    kinds = {}
    for crd in crds:
        spec = crd["spec"]
        for v in spec["versions"]:
            if v.get("served"):
                kinds[(f"{spec['group']}/{v['name']}", spec["names"]["kind"])] = v["schema"]["openAPIV3Schema"]
    return kinds


def strict_json_schema(openapi: dict, api_version: str, kind: str) -> dict:
    """A JSON schema that refuses what the API server's strict field validation refuses.

    A CRD schema is OpenAPI v3 with Kubernetes extensions. The API server
    prunes (or, with fieldValidation=Strict, refuses) any field its structural
    schema does not declare; JSON Schema allows unknown properties unless told
    otherwise, so every object with declared properties gets
    additionalProperties: false unless it preserves unknown fields.
    """
    def convert(node):
        if not isinstance(node, dict):
            return node  # additionalProperties: true/false
        out = dict(node)
        if "properties" in out:
            out["properties"] = {name: convert(sub) for name, sub in out["properties"].items()}
        for key in ("items", "additionalProperties", "not"):
            if key in out:
                out[key] = convert(out[key])
        for key in ("allOf", "anyOf", "oneOf"):
            if key in out:
                out[key] = [convert(sub) for sub in out[key]]
        if out.pop("x-kubernetes-int-or-string", False):
            out.pop("type", None)
            out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
        if out.pop("nullable", False) and isinstance(out.get("type"), str):
            out["type"] = [out["type"], "null"]
        if ("properties" in out and "additionalProperties" not in out
                and not out.get("x-kubernetes-preserve-unknown-fields")):
            out["additionalProperties"] = False
        return out

    schema = convert(openapi)
    schema["properties"]["apiVersion"] = {"const": api_version}
    schema["properties"]["kind"] = {"const": kind}
    schema.setdefault("required", [])
    schema["required"] = sorted(set(schema["required"]) | {"apiVersion", "kind", "metadata"})
    return schema
