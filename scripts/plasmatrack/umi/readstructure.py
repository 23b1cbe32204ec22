"""fgbio read structures (``8M2S+T``: 8 UMI bases, 2 skipped, the rest template) and the
extraction of inline UMIs from a read pair."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import InputError

_SEGMENT = re.compile(r"(\d+|\+)([TMSB])")


@dataclass(frozen=True)
class ReadStructure:
    """Segments as (length or None for ``+``, kind) in read order."""

    text: str
    segments: tuple[tuple[int | None, str], ...]

    @classmethod
    def parse(cls, text: str) -> "ReadStructure":
        segments = tuple((None if n == "+" else int(n), kind)
                         for n, kind in _SEGMENT.findall(text))
        if "".join(f"{'+' if n is None else n}{k}" for n, k in segments) != text or not segments:
            raise InputError(f"umi.read_structures: {text!r} is not a read structure "
                             "(e.g. 8M2S+T: numbers or + followed by T, M, S or B)")
        if any(n is None for n, _ in segments[:-1]):
            raise InputError(f"umi.read_structures: {text!r}: only the last segment may be +")
        return cls(text, segments)

    @property
    def fixed_length(self) -> int:
        return sum(n for n, _ in self.segments if n is not None)

    def split(self, sequence: str) -> tuple[str, list[tuple[int, int]]]:
        """(UMI bases, [(start, end) of template segments]) of a read at least
        ``fixed_length`` long."""
        umi, template, pos = [], [], 0
        for length, kind in self.segments:
            end = len(sequence) if length is None else pos + length
            if kind == "M":
                umi.append(sequence[pos:end])
            elif kind == "T":
                template.append((pos, end))
            pos = end
        return "".join(umi), template
