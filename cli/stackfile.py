"""Read `Pulumi.<stack>.yaml` the way the Pulumi CLI hands config to a program."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

SECRET_PLACEHOLDER = "[secret: not decrypted by the offline plan]"


def _strip_secrets(value: Any) -> tuple[Any, bool]:
    """Replace every `secure:` value by a visible placeholder; say whether there was one."""
    if isinstance(value, dict):
        if set(value) == {"secure"}:
            return SECRET_PLACEHOLDER, True
        pairs = {k: _strip_secrets(v) for k, v in value.items()}
        return {k: v for k, (v, _) in pairs.items()}, any(s for _, s in pairs.values())
    if isinstance(value, list):
        items = [_strip_secrets(v) for v in value]
        return [v for v, _ in items], any(s for _, s in items)
    return value, False


def _engine_text(value: Any) -> str:
    # Structured values travel as JSON text; scalars as their string form.
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value) if isinstance(value, (dict, list)) else str(value)


def read_stack_config(path: Path, project: str) -> tuple[dict[str, str], list[str]]:
    """Return (config in engine form `namespace:key` -> text, keys holding secrets)."""
    document = yaml.safe_load(path.read_text()) or {}
    config, secret_keys = {}, []
    for key, value in (document.get("config") or {}).items():
        full_key = key if ":" in key else f"{project}:{key}"
        value, secret = _strip_secrets(value)
        config[full_key] = _engine_text(value)
        if secret:
            secret_keys.append(full_key)
    return config, secret_keys


def project_name(root: Path) -> str:
    return yaml.safe_load((root / "Pulumi.yaml").read_text())["name"]
