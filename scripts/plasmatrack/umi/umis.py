"""Reading a read's UMI (read name, RX tag) and the checks every UMI must pass.

A UMI is bases only (``ACGT``); a duplex UMI has two halves, joined by ``+`` or ``-`` (BCL
Convert, fgbio). ConsensusCruncher writes R1's and R2's barcodes after a ``|`` without a
separator (``name|ACGT``); those are read as ``AC+GT``. Problems are counted per kind over the
whole input, so one error message can give every count and an example of each
(``UmiProblems.raise_if_any``)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..errors import InputError

_UMI_FIELD = re.compile(r"[ACGTN]+([+-][ACGTN]+)?")
# BCL Convert appends the UMI as the last ":" field, ConsensusCruncher after a "|", UMI-tools
# extract after a "_" (umi_from_name).

# Bounded caches of UMI checks and parses: the reads of one molecule come close together in
# a position-sorted BAM, so a few thousand recent UMIs catch nearly every repeat, and a few
# thousand entries keep memory flat (65,536 cost ~50 MB at 320k read pairs).
CACHE_SIZE = 4096

NO_UMI = "reads without a UMI"
HAS_N = "UMIs with N"
WRONG_LENGTH = "UMIs of the wrong length"
MATE_MISMATCH = "mates with different UMIs"
NOT_DUPLEX = "duplex mode on UMIs of one part (single-strand UMIs)"


def umi_from_name(name: str) -> str | None:
    """The UMI of a read name (last ``:``, ``|`` or ``_`` field); None when that is no UMI."""
    cut = max(name.rfind(":"), name.rfind("|"), name.rfind("_"))
    # The last field with its separator is the cache key (it says whether it follows "|").
    last = name[cut:] if cut >= 0 else name
    umi = _PARSED.get(last, _MISSING)
    if umi is _MISSING:
        if len(_PARSED) >= CACHE_SIZE:
            _PARSED.clear()
        umi = _PARSED[last] = _umi_field(name[cut + 1:], cut >= 0 and name[cut] == "|")
    return umi


# UMIs repeat across reads: the parse of a name's last field is cached in a plain dict (one
# lookup per read; cleared when full, so memory does not grow with the distinct UMIs).
_PARSED: dict[str, str | None] = {}
_MISSING = object()


def _umi_field(last: str, after_bar: bool) -> str | None:
    if not _UMI_FIELD.fullmatch(last):
        return None
    if after_bar and not has_separator(last) and len(last) % 2 == 0:
        mid = len(last) // 2
        return f"{last[:mid]}+{last[mid:]}"
    return last


def split_halves(umi: str) -> tuple[str, str] | None:
    """The two halves of a duplex UMI; None for a one-part UMI."""
    for sep in "+-":
        if sep in umi:
            first, second = umi.split(sep, 1)
            return first, second
    return None


def has_separator(umi: str) -> bool:
    return "+" in umi or "-" in umi


@dataclass
class UmiProblems:
    """Counts of bad UMIs by kind, with the first read name of each kind."""

    path: str
    expected_length: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    examples: dict[str, str] = field(default_factory=dict)
    # UMIs that passed (the expected length is fixed by the first UMI, so a UMI that passed
    # once always passes); cleared when full, so memory stays bounded.
    passed: set[str] = field(default_factory=set)

    def add(self, kind: str, read_name: str, detail: str = "") -> None:
        self.counts[kind] = self.counts.get(kind, 0) + 1
        self.examples.setdefault(kind, f"{read_name}{detail}")

    def check(self, umi: str | None, read_name: str, duplex: bool) -> bool:
        """Record what is wrong with ``umi`` (the read's UMI, None when it has none); True when
        it is usable."""
        if umi in self.passed:
            return True
        if umi is None:
            self.add(NO_UMI, read_name)
            return False
        bases = umi.replace("+", "").replace("-", "")
        if "N" in bases:
            self.add(HAS_N, read_name, f" ({umi})")
            return False
        if not self.expected_length:
            self.expected_length = len(bases)
        if len(bases) != self.expected_length:
            self.add(WRONG_LENGTH, read_name,
                     f" ({umi}: {len(bases)} bases, expected {self.expected_length})")
            return False
        if duplex and split_halves(umi) is None:
            self.add(NOT_DUPLEX, read_name, f" ({umi})")
            return False
        if len(self.passed) >= CACHE_SIZE:
            self.passed.clear()
        self.passed.add(umi)
        return True

    def raise_if_any(self, total_reads: int) -> None:
        """An InputError listing every kind of problem with its count and first read."""
        if not self.counts:
            return
        lines = [f"{self.path}: {n:,} of {total_reads:,} reads: {kind} "
                 f"(first: {self.examples[kind]})" for kind, n in sorted(self.counts.items())]
        lines.append(f"{self.path}: no output written; fix the UMIs (or umi.source, "
                     "umi.umi_length, umi.mode) and rerun")
        raise InputError(lines)
