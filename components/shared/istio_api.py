"""The Istio API versions our manifests are written against (Istio 1.30 serves v1)."""

NETWORKING = "networking.istio.io/v1"
SECURITY = "security.istio.io/v1"
