"""Issue 19.5: hostile stack files are refused fast by every command, in one line, writing nothing.

An alias bomb, a file over the size limit, bytes that are not UTF-8, nesting the parser would take seconds
over, a malformed `secure:` value, and a file with thousands of config problems (the first 20, then a count).
"""

from __future__ import annotations

import time

import pytest
from typer.testing import CliRunner

from cli.__main__ import app as cli_app
from cli.diff.compare import EXIT_ERROR
from cli.stackfile.read import MAX_ALIAS_VALUES, MAX_BYTES, parse
from components.config import MAX_SHOWN_PROBLEMS
from tests.cli.stackfile.test_read import EDITS, VALID, assert_one_error, diff_cli, plan_cli, plan_project, repo  # noqa: F401
from tests.stackfiles import copy_program

# Generous: the refusals take well under 2 s on an idle machine; CI machines are shared. `plan` starts an
# interpreter that imports the Pulumi SDK first, which alone takes seconds on a loaded machine: there the bound
# only proves there is no hang.
SECONDS = 8
PLAN_SECONDS = 30


def alias_bomb() -> bytes:
    lines = ["config:", "  bluegreen-platform:lol:", "    a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for previous, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"    {name}: &{name} [{', '.join([f'*{previous}'] * 9)}]")  # 9**9 values at i
    return (VALID + "\n".join(lines[1:]) + "\n").encode()


HOSTILE = [
    pytest.param(
        alias_bomb(),
        f"Pulumi.stg.yaml: its aliases expand to more than {MAX_ALIAS_VALUES} values (a YAML alias bomb); not read",
        id="alias-bomb",
    ),
    pytest.param(
        VALID.encode() + b"# " + b"x" * MAX_BYTES + b"\n",
        f"Pulumi.stg.yaml: {(len(VALID) + MAX_BYTES + 3) // 1024} KiB, over the 256 KiB limit for a stack file (a real one is a few KiB)",
        id="too-big",
    ),
    pytest.param(
        VALID.replace("activeColor: blue", "activeColor: bl\udcffue").encode("utf-8", "surrogateescape"),
        "Pulumi.stg.yaml:12:22: byte 0xff is not UTF-8; a stack file is UTF-8 text",
        id="not-utf8",
    ),
    pytest.param(
        (VALID + "  bluegreen-platform:deep: " + "[" * 100_000 + "]" * 100_000 + "\n").encode(),
        "Pulumi.stg.yaml:16:92: nested more than 64 levels deep; not a stack file",
        id="deep-flow",
    ),
    pytest.param(
        (VALID + "  bluegreen-platform:deep:\n" + "".join(" " * (4 + 2 * i) + f"k{i}:\n" for i in range(200))).encode(),
        "Pulumi.stg.yaml:143:1: indented 256 or more columns deep; not a stack file",
        id="deep-block",
    ),
    pytest.param(
        VALID.replace("port: 8080", 'port: "80\x0080"').encode(),
        "Pulumi.stg.yaml:11:16: character #x0000 is not allowed in YAML",
        id="nul-character",
    ),
    pytest.param(
        VALID.replace("port: 8080", "port: " + "9" * 5000).encode(),
        "Pulumi.stg.yaml: a value cannot be read (Exceeds the limit (4300 digits) for integer string conversion: value has "
        "5000 digits; use sys.set_int_max_str_digits() to increase the limit)",
        id="huge-integer",
    ),
    pytest.param(
        VALID.replace("port: 8080", "port: {secure: 8080}").encode(),
        "Pulumi.stg.yaml:11:14: config.bluegreen-platform:apps.front.port: malformed secure: value: `pulumi config set --secret` "
        "writes the ciphertext alone, as base64 text; got 8080",
        id="secure-not-text",
    ),
    pytest.param(
        VALID.replace("port: 8080", "port: {secure: 'not base64!'}").encode(),
        "Pulumi.stg.yaml:11:14: config.bluegreen-platform:apps.front.port: malformed secure: value: `pulumi config set --secret` "
        "writes the ciphertext alone, as base64 text; got 'not base64!'",
        id="secure-not-ciphertext",
    ),
    pytest.param(
        VALID.replace("port: 8080", "port: {secure: v1:abc, note: x}").encode(),
        "Pulumi.stg.yaml:11:14: config.bluegreen-platform:apps.front.port: malformed secure: value and other keys (note): "
        "`pulumi config set --secret` writes the ciphertext alone, as base64 text; got 'v1:abc'",
        id="secure-and-more",
    ),
]


@pytest.mark.parametrize("args", EDITS)
@pytest.mark.parametrize("data, message", HOSTILE)
def test_status_edits_and_release_refuse_fast_in_one_line(tmp_path, args, data, message):
    copy_program(tmp_path)
    path = tmp_path / "Pulumi.stg.yaml"
    path.write_bytes(data)
    started = time.monotonic()
    result = CliRunner().invoke(cli_app, [*args, "--stack", "stg", "--root", str(tmp_path)])
    assert time.monotonic() - started < SECONDS
    assert_one_error(result.output, result.exit_code, 1, message)
    assert path.read_bytes() == data
    assert sorted(p.name for p in tmp_path.glob("Pulumi.*")) == ["Pulumi.stg.yaml", "Pulumi.yaml"]


@pytest.mark.parametrize("data, message", HOSTILE)
def test_plan_refuses_in_one_line(plan_project, data, message):  # noqa: F811
    (plan_project / "Pulumi.stg.yaml").write_bytes(data)
    started = time.monotonic()
    result = plan_cli(plan_project, "stg")
    assert time.monotonic() - started < PLAN_SECONDS
    assert "Traceback" not in result.stderr and result.stderr == ""
    assert_one_error(result.stdout, result.returncode, 1, message)


@pytest.mark.parametrize("data, message", HOSTILE)
def test_diff_refuses_a_hostile_working_tree_in_one_line(repo, data, message):  # noqa: F811
    (repo / "Pulumi.stg.yaml").write_bytes(data)
    result = diff_cli(repo)
    assert_one_error(result.output, result.exit_code, EXIT_ERROR, message)


def test_ordinary_anchors_are_fine():
    text = "config:\n  p:a: {blue: &r {replicas: 3}, green: *r, more: [*r, *r]}\n"
    assert parse(text, "x.yaml")["config"]["p:a"]["more"][1] == {"replicas": 3}


def test_thousands_of_problems_print_the_first_20_then_a_count(tmp_path):
    copy_program(tmp_path)
    apps = "".join(f"    a{i}:\n      namespace: app\n      hosts: [front.stg.example.com]\n      port: true\n" for i in range(1500))
    (tmp_path / "Pulumi.stg.yaml").write_text(VALID.split("    front:\n")[0] + apps)
    started = time.monotonic()
    result = CliRunner().invoke(cli_app, ["status", "--stack", "stg", "--root", str(tmp_path)])
    assert time.monotonic() - started < SECONDS
    lines = result.output.strip().splitlines()
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert lines[0] == "error: Pulumi.stg.yaml is invalid, fix it first:"
    assert len(lines) == 1 + MAX_SHOWN_PROBLEMS + 1
    assert all(": must be a whole number, got true" in line for line in lines[1:-1])
    assert lines[-1] == "... and 1480 more problems (1500 in all)"
