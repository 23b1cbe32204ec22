"""Identifier rules. Sample and patient IDs reach file paths, shell commands and HTML, so they are
restricted to a safe alphabet at validation time; nothing downstream has to trust them again."""

from __future__ import annotations

import re

ID_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}"
_ID_RE = re.compile(rf"^{ID_PATTERN}$")


def is_valid_id(value: str) -> bool:
    """True when ``value`` is a safe identifier: letters, digits, '.', '_', '-', starting with a
    letter or digit, at most 64 characters, and not a path component such as '..'."""
    return bool(_ID_RE.match(value)) and ".." not in value


def id_problem(value: str) -> str | None:
    """Why ``value`` is not a safe identifier, or None when it is."""
    if value == "":
        return "is empty"
    if is_valid_id(value):
        return None
    return (
        f"{value!r} is not a valid identifier: use only letters, digits, '.', '_' and '-' "
        "(start with a letter or digit, at most 64 characters, no '..')"
    )
