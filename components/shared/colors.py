"""The two colors of a blue/green app: every layer names them the same way."""

from __future__ import annotations

from typing import Literal, TypeGuard

Color = Literal["blue", "green"]
COLORS: tuple[Color, Color] = ("blue", "green")


def is_color(value: str) -> TypeGuard[Color]:
    return value in COLORS


def other_color(color: Color) -> Color:
    return "green" if color == "blue" else "blue"
