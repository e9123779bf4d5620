"""Where the project is: the directory with Pulumi.yaml, two levels above this package."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
