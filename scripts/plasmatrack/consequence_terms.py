"""The consequence vocabulary of the published variant tables (column ``consequence``).

Written by the variants stage (``variants/consequence.py``, from bcftools csq) and read by the
clonal stage (clone labels), the cohort stage (HER2 mutation burden) and the reports, so it
lives here, beside the table registry, rather than in any one stage."""

from __future__ import annotations

# Every value the ``consequence`` column takes ('' when no transcript model is configured).
CONSEQUENCES = ("splice_site", "frameshift", "nonsense", "stop_lost", "start_lost",
                "inframe_indel", "missense", "coding_sequence", "splice_region", "synonymous",
                "utr_5", "utr_3", "non_coding", "intronic", "intergenic")
# Consequences that change the protein (or its splicing): what "a somatic ERBB2 mutation" counts
# in the HER2 burden (docs/cohort.md); splice_region, synonymous, UTR, intronic, intergenic and
# non-coding variants do not.
PROTEIN_ALTERING = frozenset({"splice_site", "frameshift", "nonsense", "stop_lost", "start_lost",
                              "inframe_indel", "missense", "coding_sequence"})


def is_protein_altering(consequence: object) -> bool:
    """Whether a ``consequence`` value changes the protein; an empty one (no transcript model)
    counts as altering, so runs without a GFF3 keep their earlier HER2 definition."""
    text = "" if consequence is None or consequence != consequence else str(consequence)
    return not text or text in PROTEIN_ALTERING


_SHOWN = {"utr_5": "5' UTR", "utr_3": "3' UTR", "non_coding": "non-coding",
          "splice_region": "splice region"}


def silent_note(consequence: object) -> str:
    """' (synonymous)', " (3' UTR)", ' (intronic)' ... for a variant that leaves the protein
    as it is, '' otherwise: what reports append to such a variant's name."""
    if is_protein_altering(consequence):
        return ""
    return f" ({_SHOWN.get(str(consequence), str(consequence))})"
