"""Run the policy pack's rules over an offline plan, as `pulumi preview --policy-pack policies` would."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from cli.engine.recording import Recording, Registration
from cli.shared.paths import ROOT
from policies.guardrails.evaluate import (
    Finding,
    PackConfigError,
    evaluate,
    has_mandatory,
    load_config,
    report,
    resolve,
)
from policies.guardrails.model import Resource

POLICY_CONFIG = Path("policies") / "config"  # in a project: what CI passes as --policy-pack-config
POLICY_CONFIG_DIR = ROOT / POLICY_CONFIG


def _resources(registrations: Iterable[Registration]) -> list[Resource]:
    return [Resource(r.type, r.name, r.urn, r.inputs, r.parent, tuple(r.dependencies)) for r in registrations]


def records(recording: Recording) -> list[Resource]:
    return _resources(recording.resources)


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


def check_project(stack: str, registrations: Iterable[Registration], root: Path) -> list[Finding]:
    """The pack's findings on a plan of the project at `root`, with that project's pack config for `stack`
    (defaults without one); a bad pack config raises PackConfigError."""
    return evaluate(_resources(registrations), load_config(stack_policy_config(stack, root / POLICY_CONFIG)))


def project_level(stack: str, root: Path, policy: str) -> str:
    """`policy`'s level for `stack` in the project at `root` (its pack config, else the policy's own level); a bad
    pack config raises PackConfigError."""
    return resolve(load_config(stack_policy_config(stack, root / POLICY_CONFIG)))[policy].level


def finding_resource(finding: Finding) -> str:
    """The resource a violation is about, as `Deployment front-blue` (empty for a stack-wide one)."""
    return f"{finding.resource.type.rsplit(':', 1)[-1]} {finding.resource.name}" if finding.resource else ""


def finding_line(finding: Finding) -> str:
    """One violation on one line: level, policy, resource and the policy's own message."""
    where = f" ({finding_resource(finding)})" if finding.resource else ""
    return f"[{finding.level}] {finding.policy}{where}: {finding.message}"
