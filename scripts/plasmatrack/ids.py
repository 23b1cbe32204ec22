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


# -- wildcard constraints that name a set of IDs (issue 25) ----------------------------------
# A constraint such as "the samples with FASTQ input" used to be a plain alternation of every ID
# ("S1|S2|..."): Python's regex engine tries the branches one after another, so with 7,000
# samples every path Snakemake matches against such a rule costs ~35 us, and planning a
# 1,000-patient cohort matches hundreds of thousands of paths. The same set written as a prefix
# tree ("S(?:1|2)...") fails or succeeds after one branch per character: ~0.5 us.
NO_ID = "(?!x)x"  # matches nothing: the constraint of an empty set


def ids_regex(ids) -> str:
    """A regular expression matching exactly the strings in ``ids`` (when anchored at both ends,
    as Snakemake's wildcard constraints are), built as a prefix tree so that matching costs
    about one step per character, whatever the number of IDs. An empty set matches nothing."""
    trie: dict = {}
    for value in set(ids):
        node = trie
        for char in value:
            node = node.setdefault(char, {})
        node[""] = {}  # end of an ID
    return _trie_regex(trie) if trie else NO_ID


def _trie_regex(node: dict) -> str:
    """The regex of a prefix-tree node: its branches in sorted order; "" ends an ID there."""
    ends = "" in node
    branches = [re.escape(char) + _trie_regex(child)
                for char, child in sorted(node.items()) if char != ""]
    if not branches:
        return ""
    # Single-child chains stay as plain text so the pattern is about as long as the IDs.
    body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
    if ends:
        return f"(?:{body})?"
    return body
