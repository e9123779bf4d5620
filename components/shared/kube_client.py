"""A Kubernetes API client for code that reads the live cluster during `pulumi up` or preview (the switch
gate, the existing-cluster check), built with the official client so exec credential plugins
(gke-gcloud-auth-plugin) run as kubectl would run them."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import yaml


def api_client(cluster: Mapping[str, Any]) -> Any:
    """A kubernetes ApiClient for `cluster`: {"kubeconfig": text} (GKE mode), or {"path", "context"} (either
    may be absent: $KUBECONFIG, then ~/.kube/config, and its current context)."""
    from kubernetes import config

    context = cluster.get("context")
    if cluster.get("kubeconfig"):
        return config.new_client_from_config_dict(yaml.safe_load(cluster["kubeconfig"]), context=context, persist_config=False)
    path = cluster.get("path")
    file = os.path.expanduser(path) if path else os.environ.get("KUBECONFIG", "~/.kube/config")
    return config.new_client_from_config(config_file=file, context=context, persist_config=False)
