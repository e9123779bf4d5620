"""The real-engine tier: every test here is marked e2e, which `make test` deselects and `make e2e` selects."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.e2e.harness import LocalStack, e2e_environment


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def env() -> dict[str, str]:
    return e2e_environment()


@pytest.fixture(scope="module")
def local_stack(env, tmp_path_factory) -> LocalStack:
    """Pulumi.local.yaml as committed, in a scratch work dir so config edits never touch the repo."""
    return LocalStack(tmp_path_factory.mktemp("project"), "local", env, ROOT / "Pulumi.local.yaml")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call):
    """A real-engine test that cannot run fails loudly (a missing prometheus binary, say): it never skips."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and item.get_closest_marker("e2e"):
        reason = report.longrepr[-1] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome, report.longrepr = "failed", f"the e2e tier never skips: {reason}"
