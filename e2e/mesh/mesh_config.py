"""Prints the mesh config that istiod runs with in the e2e tier: the one our IstioOperator renders.

Reads `istioctl manifest generate` output (stdin) of the IstioOperator that the offline plan writes, takes
the `istio` ConfigMap's mesh (what `istioctl install -f` would write to the cluster) and changes only what
upstream Envoy cannot run (docs/real-traffic.md):
- no default metrics provider: its `istio.stats` filter is an Istio-only Envoy extension;
- the proxies' discovery address is istiod's local secure gRPC port (no Service in front of istiod here).
Usage: istioctl manifest generate -f <operator.yaml> | python3 e2e/mesh/mesh_config.py <istiod host:port>
"""

from __future__ import annotations

import sys

import yaml


def mesh_config(manifests: str, discovery_address: str) -> dict:
    documents = [d for d in yaml.safe_load_all(manifests) if d]
    config_map = next(d for d in documents if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "istio" and "mesh" in d.get("data", {}))
    mesh = yaml.safe_load(config_map["data"]["mesh"]) or {}
    mesh.setdefault("defaultProviders", {})["metrics"] = []
    mesh.setdefault("defaultConfig", {})["discoveryAddress"] = discovery_address
    return mesh


if __name__ == "__main__":
    print(yaml.safe_dump(mesh_config(sys.stdin.read(), sys.argv[1]), sort_keys=True), end="")
