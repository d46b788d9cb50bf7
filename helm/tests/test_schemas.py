#!/usr/bin/env python3
"""Strict schema validation of the orderflow chart's rendered manifests.

Every profile (the default values and each file under
helm/orderflow/examples/) is rendered with `helm template` and each object is
validated strictly, unknown fields refused, against the Kubernetes OpenAPI
schemas (kubernetes-validate) of the oldest version the chart supports (its
kubeVersion in Chart.yaml) and of the newest that kubernetes-validate ships;
custom resources against the pinned CRDs of KEDA and the Prometheus Operator
(crds.py). Needs the Python packages of scripts/requirements.txt, Go (to
fetch the CRDs) and helm ($HELM):

    HELM=helm .cache/venv/bin/python helm/tests/test_schemas.py [-k SUBSTRING]

Prints one line per test and a final "N passed, N failed" line.
"""

from __future__ import annotations

import copy
import functools
import re
import sys
from pathlib import Path

import jsonschema
import kubernetes_validate
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
import crds  # noqa: E402
from test_chart import CHART, EXAMPLES, main, render, render_fails  # noqa: E402

# Profile name -> values files, as an operator would install them.
PROFILES = {"default": [], **{p.stem: [p] for p in sorted(EXAMPLES.glob("*.yaml"))}}


def oldest_supported() -> str:
    """major.minor of the lower bound of Chart.yaml's kubeVersion (">=1.25.0-0")."""
    kube_version = yaml.safe_load((CHART / "Chart.yaml").read_text()).get("kubeVersion", "")
    m = re.fullmatch(r">=\s*(\d+)\.(\d+)\.\d+(-0)?", kube_version.strip())
    assert m, f"Chart.yaml kubeVersion {kube_version!r} is not of the form >=1.N.0-0"
    return f"{m.group(1)}.{m.group(2)}"


def versions() -> list[str]:
    """major.minor of the oldest supported Kubernetes and of the newest with schemas."""
    return [oldest_supported(), kubernetes_validate.utils.major_minor(kubernetes_validate.latest_version())]


@functools.cache
def custom_schemas() -> dict[tuple[str, str], dict]:
    return {key: crds.strict_json_schema(schema, *key)
            for key, schema in crds.served_kinds(crds.definitions()).items()}


def where(error: jsonschema.ValidationError) -> str:
    return ".".join(str(p) for p in error.absolute_path) or "(top level)"


def problems(doc: dict, version: str) -> list[str]:
    """Why the API server of `version` would refuse `doc` under strict field validation; [] if it would not."""
    what = f"{doc.get('kind')}/{doc.get('metadata', {}).get('name')}"
    schema = custom_schemas().get((doc.get("apiVersion"), doc.get("kind")))
    if schema is not None:
        errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(doc), key=where)
        return [f"{what}: {where(e)}: {e.message}" for e in errors]
    try:
        kubernetes_validate.validate(doc, version, strict=True)
    except kubernetes_validate.SchemaNotFoundError as exc:
        return [f"{what}: {exc.message}"]
    except kubernetes_validate.ValidationError as exc:
        return [f"{what}: {where(exc)}: {exc.message}"]
    return []


def rendered(profile: str, version: str) -> list[dict]:
    """The profile as helm renders it for that Kubernetes version (.Capabilities)."""
    return render(files=PROFILES[profile], args=["--kube-version", f"{version}.0"]).docs


def deployment() -> dict:
    return copy.deepcopy(render().of("Deployment")[0])


# --------------------------------------------------------------------------- tests

TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


@test
def profiles_exist():
    assert set(PROFILES) >= {"default", "minimal", "production"}, sorted(PROFILES)


@test
def every_profile_valid_at_oldest_and_newest_kubernetes():
    found = []
    for profile in PROFILES:
        for version in versions():
            docs = rendered(profile, version)
            assert docs, f"{profile}: nothing rendered"
            found += [f"{profile} @ {version}: {p}" for d in docs for p in problems(d, version)]
    assert not found, "\n".join(found)


@test
def custom_resources_valid_against_pinned_crds():
    kinds = set()
    for profile in PROFILES:
        for d in rendered(profile, versions()[-1]):
            if (d["apiVersion"], d["kind"]) in custom_schemas():
                kinds.add(d["kind"])
                assert not problems(d, versions()[-1]), problems(d, versions()[-1])
    # production renders every custom resource the chart has; a kind missing
    # here would be validated by nothing.
    assert kinds == {"ScaledObject", "TriggerAuthentication", "PodMonitor", "PrometheusRule"}, kinds


@test
def unknown_field_refused_at_every_version():
    dep = deployment()
    # A classic typo that Kubernetes drops silently without strict validation.
    dep["spec"]["template"]["spec"]["containers"][0]["securityContext"]["readOnlyRootFileSystem"] = True
    for version in versions():
        found = problems(dep, version)
        assert found and "readOnlyRootFileSystem" in found[0], f"{version}: {found}"


@test
def wrong_type_refused():
    dep = deployment()
    dep["spec"]["replicas"] = "2"
    for version in versions():
        assert problems(dep, version), f"{version}: replicas as a string accepted"


@test
def unknown_kind_refused():
    cm = next(d for d in render().docs if d["kind"] == "ConfigMap")
    bogus = {**copy.deepcopy(cm), "apiVersion": "example.com/v1", "kind": "NoSuchThing"}
    assert problems(bogus, versions()[-1]), "an object without a schema passed"


@test
def unknown_fields_in_custom_resources_refused():
    prod = render(files=PROFILES["production"])
    scaled = copy.deepcopy(prod.of("ScaledObject")[0])
    scaled["spec"]["minReplicas"] = 1  # the HPA's name for KEDA's minReplicaCount
    assert any("minReplicas" in p for p in problems(scaled, versions()[-1])), problems(scaled, versions()[-1])
    scaled = copy.deepcopy(prod.of("ScaledObject")[0])
    scaled["spec"]["triggers"][0]["metadata"]["lagThreshold"] = 1000  # trigger metadata are strings
    assert problems(scaled, versions()[-1]), "an integer trigger metadata value passed"
    monitor = copy.deepcopy(prod.of("PodMonitor")[0])
    monitor["spec"]["endpoints"] = monitor["spec"].pop("podMetricsEndpoints")  # ServiceMonitor's field name
    assert any("endpoints" in p for p in problems(monitor, versions()[-1])), problems(monitor, versions()[-1])


@test
def kube_version_declared_and_enforced():
    oldest = oldest_supported()
    assert oldest in [kubernetes_validate.utils.major_minor(v) for v in kubernetes_validate.utils.all_versions()], \
        f"kubeVersion's lower bound {oldest} has no kubernetes-validate schemas: pick a version it ships"
    major, minor = (int(x) for x in oldest.split("."))
    render(args=["--kube-version", f"{major}.{minor}.0"])
    err = render_fails(args=["--kube-version", f"{major}.{minor - 1}.9"])
    assert "kubeVersion" in err or "incompatible" in err, err


if __name__ == "__main__":
    print(f"kubernetes schemas: {', '.join(versions())} (strict)")
    sys.exit(main(TESTS, __doc__))
