"""Run the policy pack's rules over an offline plan, as `pulumi preview --policy-pack policies` would."""
from __future__ import annotations

from pathlib import Path

from policies.guardrails.evaluate import (
    Finding,
    PackConfigError,
    evaluate,
    has_mandatory,
    load_config,
    report,
)
from policies.guardrails.model import Resource

from .engine import ROOT, Recording

POLICY_CONFIG_DIR = ROOT / "policies" / "config"


def records(recording: Recording) -> list[Resource]:
    return [Resource(r.type, r.name, r.urn, r.inputs, r.parent, tuple(r.dependencies)) for r in recording.resources]


def stack_policy_config(stack: str, config_dir: Path = POLICY_CONFIG_DIR) -> Path | None:
    """policies/config/<stack>.json when it exists: what CI passes as --policy-pack-config for that stack."""
    path = config_dir / f"{stack}.json"
    return path if path.exists() else None


def check(stack: str, recording: Recording, config_path: Path | None = None) -> list[Finding]:
    return evaluate(records(recording), load_config(config_path or stack_policy_config(stack)))


def run(stack: str, recording: Recording, config_path: Path | None = None) -> tuple[str, bool]:
    """The report to print and whether the plan passes (no mandatory violation, valid pack config)."""
    if config_path and not config_path.exists():
        return f"policy pack config {config_path} not found", False
    path = config_path or stack_policy_config(stack)
    shown = path.relative_to(ROOT) if path and path.is_relative_to(ROOT) else path
    try:
        findings = check(stack, recording, path)
    except PackConfigError as err:
        return f"invalid policy pack config {shown}: {err}", False
    header = f"policy pack config: {shown or 'defaults'}"
    return f"{header}\n{report(findings)}", not has_mandatory(findings)
