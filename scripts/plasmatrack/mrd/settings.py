"""Settings of the residual-disease stage: the ``mrd`` section of the config."""

from __future__ import annotations

from dataclasses import dataclass

from ..config import settings_kwargs
from ..variants.pileup import ReadFilterSettings


@dataclass(frozen=True)
class MrdSettings:
    """Read filters, background model and test of the pooled residual-disease call.

    min_mapping_quality, min_base_quality: read and base filters of the counting (Phred),
        as the variants stage's (same pileup engine).
    max_p_value: a draw is ``detected`` when the pooled test's p-value is below it.
    min_informative_molecules: below this many informative molecules (summed over the
        variants) a draw is ``not_evaluable``.
    max_prior_shape: the largest shape of a site's background prior (Beta around its class
        rate; the shape is estimated from the spread of the control counts across the sites).
    exclude_control_vaf: a control observation at or above this VAF is a real variant of that
        person (germline, a shared hotspot), not background, and is left out.
    outlier_max_p: a variant whose mutant count is this improbable under the TF fitted without
        it is excluded as an outlier (CHIP, germline, tissue artefact), with a note.
    outlier_max_fraction: at most this fraction of a draw's variants (at least one) is excluded.
    n_simulations: Monte Carlo simulations of the null for the p-value (at most).
    max_control_samples: samples counted at every patient's sites for the background (all
        normals first, then plasma draws, in sheet order); the others are counted at their own
        patient's sites only, so a large cohort's counts grow with its size, not its square.
    seed: seed of the Monte Carlo (each draw's stream is derived from it and the sample ID).
    tumour_variants: optional TSV of the tumour's variants (tumour-informed); without it the
        patient's plasma-detected somatic variants are used, leaving out each draw's own.
    fragment_length_weighting: weight molecules by the likelihood ratio of their length bin
        (tumour vs healthy fragment lengths; docs/mrd.md).
    short_fragment_length: fragments shorter than this (bp) are short for the weighting.
    """

    min_mapping_quality: int = 40
    min_base_quality: int = 30
    max_p_value: float = 0.005
    min_informative_molecules: int = 1000
    max_prior_shape: float = 50.0
    exclude_control_vaf: float = 0.05
    outlier_max_p: float = 1e-6
    outlier_max_fraction: float = 0.1
    n_simulations: int = 10000
    max_control_samples: int = 200
    seed: int = 1
    tumour_variants: str | None = None
    fragment_length_weighting: bool = False
    short_fragment_length: int = 150

    @classmethod
    def from_config(cls, section: dict | None) -> "MrdSettings":
        return cls(**settings_kwargs(cls, section, "mrd"))

    @property
    def read_filters(self) -> ReadFilterSettings:
        """The pileup filters (flags and proper pairs as the variants stage's defaults)."""
        return ReadFilterSettings(min_mapping_quality=self.min_mapping_quality,
                                  min_base_quality=self.min_base_quality)
