"""Guardrails for bluegreen-platform stacks, as plain functions over neutral resource records.

The same rules run under CrossGuard (`crossguard.py` adapts PolicyResource), in the offline plan
(`cli/engine/policy_check.py` adapts the recording) and in unit tests (records built directly).
This package imports nothing from the project: the pack runs in its own virtualenv.
"""
