"""The ``umi`` config section as a typed settings object."""

from __future__ import annotations

from dataclasses import dataclass

from ..config import settings_kwargs
from ..errors import InputError

MODES = ("none", "single", "duplex")
SOURCES = ("read_name", "inline", "tag")
ONE_STRAND_BASES = ("mask", "keep")


@dataclass(frozen=True)
class UmiSettings:
    """How UMIs are read and how molecules are called (defaults as in the schema).

    mode: ``none`` (no UMI processing), ``single`` (one consensus per strand family) or
        ``duplex`` (the two strands of a molecule paired and combined).
    source: where the UMI is: ``read_name`` (last ``:`` field of the name, BCL Convert style;
        duplex halves joined by ``+`` or ``-``), ``inline`` (in the read bases, cut out by
        ``read_structures``), ``tag`` (the ``RX`` tag of a BAM).
    read_structures: fgbio read structures of R1 and R2 for ``inline`` (e.g. ``8M2S+T``).
    umi_length: expected UMI length in bases without separators (0: the first read's length
        is the expected one).
    max_edits: Hamming distance within which directional adjacency joins UMIs.
    min_reads: reads a strand family needs for a consensus.
    require_both_strands: duplex: drop molecules seen on one strand only.
    duplex_one_strand_bases: duplex: a base that one strand's consensus calls and the other's
        does not (N): ``mask`` (N, the duplex record holds only bases both strands agree on)
        or ``keep`` (that strand's base and single-strand quality, as fgbio's duplex caller).
    error_rate_pre_umi / error_rate_post_umi: Phred-scaled rates of errors before UMI
        attachment (shared by the whole family) and after it (independent per read).
    min_input_base_quality: raw bases below it do not vote (Phred).
    max_base_quality: cap of consensus base qualities (Phred).
    min_consensus_base_quality: consensus bases below it become N (fgbio's
        FilterConsensusReads masking; a tie between two disagreeing reads is such a base).
    min_mapping_quality: reads below it are not grouped (counted in the metrics).
    """

    mode: str = "none"
    source: str = "read_name"
    read_structures: tuple[str, ...] = ()
    umi_length: int = 0
    max_edits: int = 1
    min_reads: int = 1
    require_both_strands: bool = False
    duplex_one_strand_bases: str = "mask"
    error_rate_pre_umi: int = 45
    error_rate_post_umi: int = 40
    min_input_base_quality: int = 10
    max_base_quality: int = 90
    min_consensus_base_quality: int = 10
    min_mapping_quality: int = 0

    def __post_init__(self) -> None:
        problems = []
        if self.mode not in MODES:
            problems.append(f"umi.mode {self.mode!r} is not one of {', '.join(MODES)}")
        if self.duplex_one_strand_bases not in ONE_STRAND_BASES:
            problems.append(f"umi.duplex_one_strand_bases {self.duplex_one_strand_bases!r} is "
                            f"not one of {', '.join(ONE_STRAND_BASES)}")
        if self.source not in SOURCES:
            problems.append(f"umi.source {self.source!r} is not one of {', '.join(SOURCES)}")
        if self.source == "inline" and self.mode != "none" and len(self.read_structures) != 2:
            problems.append("umi.read_structures: source 'inline' needs two read structures "
                            f"(R1, R2), got {list(self.read_structures)}")
        for name in ("max_edits", "umi_length", "min_input_base_quality", "min_mapping_quality"):
            if getattr(self, name) < 0:
                problems.append(f"umi.{name} must be >= 0, got {getattr(self, name)}")
        if self.min_reads < 1:
            problems.append(f"umi.min_reads must be >= 1, got {self.min_reads}")
        if problems:
            raise InputError(problems)

    @property
    def enabled(self) -> bool:
        return self.mode != "none"

    @property
    def duplex(self) -> bool:
        return self.mode == "duplex"

    @classmethod
    def from_config(cls, section: dict | None) -> "UmiSettings":
        kwargs = settings_kwargs(cls, section, "umi")
        if "read_structures" in kwargs:
            kwargs["read_structures"] = tuple(kwargs["read_structures"] or ())
        return cls(**kwargs)
