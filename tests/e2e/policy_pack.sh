#!/bin/sh
# Starts policies/ as an analyzer plugin: `pulumi preview --policy-pack tests/e2e/policy_pack.sh`.
# Given a pack directory, the CLI runs it through the pulumi-language-python host, which is not
# published as a Go module and so is not in the e2e toolchain; given a file, it runs the file.
pack="$(cd "$(dirname "$0")/../../policies" && pwd)"
cd "$pack" && exec "$pack/venv/bin/python" -u -m pulumi.policy "$1" .
