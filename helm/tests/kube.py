"""A small client of the Kubernetes API for test_install.py: requests with the
kubeconfig's client certificate, discovery, and a listing of every object in
a namespace (to prove `helm uninstall` leaves nothing behind).

Standard library only; the kubeconfig is the one scripts/k8s-check.sh writes
(server, CA, client certificate and key as files).
"""

from __future__ import annotations

import json
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request

import yaml

class ApiError(Exception):
    def __init__(self, status: int, body: str, what: str):
        self.status = status
        self.body = body
        super().__init__(f"{what}: HTTP {status}: {body[:500]}")


class Kube:
    def __init__(self, kubeconfig: str):
        cfg = yaml.safe_load(open(kubeconfig))
        cluster = cfg["clusters"][0]["cluster"]
        user = cfg["users"][0]["user"]
        self.server = cluster["server"].rstrip("/")
        self.ctx = ssl.create_default_context(cafile=cluster["certificate-authority"])
        self.ctx.load_cert_chain(user["client-certificate"], user["client-key"])
        self._resources = None
        # Warning headers of the last request (unknown fields, Pod Security, deprecations).
        self.warnings: list[str] = []

    def request(self, method: str, path: str, body: dict | None = None, params: dict | None = None,
                content_type: str = "application/json") -> dict:
        url = self.server + path + ("?" + urllib.parse.urlencode(params) if params else "")
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(url, data=data, method=method,
                                     headers={"Content-Type": content_type, "Accept": "application/json"})
        self.warnings = []
        # 429 "storage is (re)initializing" answers requests for a CRD's objects
        # for a moment after it is established: retry, a bounded number of times.
        for attempt in range(20):
            try:
                with urllib.request.urlopen(req, context=self.ctx, timeout=30) as resp:
                    self.warnings = resp.headers.get_all("Warning") or []
                    return json.loads(resp.read() or b"{}")
            except urllib.error.HTTPError as exc:
                error = ApiError(exc.code, exc.read().decode(errors="replace"), f"{method} {path}")
                if exc.code != 429:
                    raise error from None
                time.sleep(min(float(exc.headers.get("Retry-After") or 1), 2) / 4)
        raise error

    def get(self, path: str, **params) -> dict:
        return self.request("GET", path, params=params or None)

    def exists(self, path: str) -> bool:
        try:
            self.get(path)
            return True
        except ApiError as exc:
            if exc.status == 404:
                return False
            raise

    def create(self, doc: dict, namespace: str | None = None, **params) -> dict:
        return self.request("POST", self.collection(doc["apiVersion"], doc["kind"], namespace), doc, params or None)

    def merge_patch(self, path: str, patch: dict) -> dict:
        return self.request("PATCH", path, patch, content_type="application/merge-patch+json")

    # ---------------------------------------------------------------- discovery

    def resources(self) -> list[dict]:
        """Every listable top-level resource: {group_version, name, kind, namespaced}."""
        if self._resources is None:
            versions = ["v1"] + [v["groupVersion"] for g in self.get("/apis")["groups"]
                                 for v in g["versions"]]
            found = []
            for gv in versions:
                base = "/api/v1" if gv == "v1" else f"/apis/{gv}"
                for r in self.get(base)["resources"]:
                    if "/" not in r["name"] and "list" in r.get("verbs", []):
                        found.append({"group_version": gv, "name": r["name"], "kind": r["kind"],
                                      "namespaced": r["namespaced"]})
            self._resources = found
        return self._resources

    def forget_discovery(self) -> None:
        """Call after adding CRDs."""
        self._resources = None

    def collection(self, api_version: str, kind: str, namespace: str | None) -> str:
        for r in self.resources():
            if r["group_version"] == api_version and r["kind"] == kind:
                base = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
                ns = f"/namespaces/{namespace}" if r["namespaced"] and namespace else ""
                return f"{base}{ns}/{r['name']}"
        raise KeyError(f"the API server serves no {kind} in {api_version}")

    def path(self, doc: dict, namespace: str | None = None) -> str:
        ns = namespace or doc["metadata"].get("namespace")
        return f"{self.collection(doc['apiVersion'], doc['kind'], ns)}/{doc['metadata']['name']}"

    def namespace_objects(self, namespace: str) -> set[str]:
        """Kind/name of every object in the namespace, of every namespaced resource the server serves."""
        objects = set()
        for r in self.resources():
            # Events are records the server and controllers write, not objects anyone installs.
            if not r["namespaced"] or r["kind"] == "Event":
                continue
            base = "/api/v1" if r["group_version"] == "v1" else f"/apis/{r['group_version']}"
            try:
                items = self.get(f"{base}/namespaces/{namespace}/{r['name']}")["items"]
            except ApiError as exc:
                if exc.status in (404, 405):
                    continue
                raise
            # Each version of a group lists the same objects: name by group, not version.
            group = r["group_version"].rsplit("/", 1)[0] if "/" in r["group_version"] else "core"
            objects |= {f"{r['kind']}.{group}/{i['metadata']['name']}" for i in items}
        return objects

    # ---------------------------------------------------------------- waiting

    def wait_for(self, what: str, check, timeout: float, interval: float = 0.2):
        """Polls check() until it returns something truthy; raises after timeout seconds."""
        deadline = time.monotonic() + timeout
        while True:
            result = check()
            if result:
                return result
            if time.monotonic() > deadline:
                raise TimeoutError(f"waited {timeout:.0f} s for {what}")
            time.sleep(interval)
