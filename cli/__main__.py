"""`python -m cli ...`: the commands (cli/commands)."""

from __future__ import annotations

from cli.commands import app

if __name__ == "__main__":
    app()
