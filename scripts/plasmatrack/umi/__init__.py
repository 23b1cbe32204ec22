"""The ``umi`` stage: UMI extraction, grouping of reads into molecules, and single-strand and
duplex consensus (docs/umi.md).

Entry functions for the rules and the CLI are in ``pipeline.py`` (``run_extract``,
``run_consensus``); the computing modules below it never open a file:
``readstructure`` (fgbio read structures, inline UMI extraction), ``umis`` (UMI parsing and
validation), ``grouping`` (fragments, directional adjacency, duplex strand pairing),
``consensus`` (the likelihood consensus of a family and the duplex combination), ``metrics``
(per-sample metrics and the cohort ``summarise``), ``stream`` (position-sorted streaming with
only the open families in memory)."""

from .settings import UmiSettings

__all__ = ["UmiSettings"]
