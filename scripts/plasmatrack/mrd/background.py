"""Background (error) rate of each of a patient's variant sites, from control molecules.

Controls of a patient's site are the other people's samples counted at that site (INVAR's
cross-patient controls): every normal (white-cell DNA holds no tumour DNA; the patient's own
normal too, so that a CHIP clone or germline variant it carries raises the site's background
instead of looking like tumour), healthy-donor plasma, and the draws of the other patients that
do not carry the variant. An observation at or above ``exclude_control_vaf`` is a real variant of
that person (germline SNP, shared hotspot), not error, and is left out.

The rate is estimated in three levels: the pooled rate over every control molecule at every site
(plus 1/2 a molecule, so zero counts give a finite rate); a class rate (trinucleotide context
when the reference is known, else the pyrimidine-collapsed substitution) shrunk towards it with
``CLASS_SHRINK_MOLECULES``; and the site's posterior Beta(a, b): a prior at its class rate whose
shape (a) is how much site rates spread around their class rate, estimated from the control
counts of the patient's sites by the method of moments (empirical Bayes; at most
``max_prior_shape``), updated with the site's own control counts. A fixed number of
pseudo-molecules instead would be overconfident where sites differ a lot (a site whose controls
showed no mutant would get a rate far below its class, and its chance mutants in a draw would
look like tumour) and too vague where they do not.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..variants.background import substitution_class

# Pseudo-molecules with which a class's rate is shrunk towards the pooled rate (as the variants
# stage's CLASS_SHRINK_FRAGMENTS).
CLASS_SHRINK_MOLECULES = 100_000
# The spread of site rates around their class rate is never assumed wider than an exponential
# spread's half (shape 0.5), whatever the moments say.
MIN_PRIOR_SHAPE = 0.5
_COMPLEMENT = str.maketrans("ACGT", "TGCA")


@dataclass(frozen=True)
class BackgroundLevel:
    """Pooled control counts of the sites (mutant and all molecules)."""

    mutant: int
    molecules: int

    @property
    def alpha(self) -> float:
        return self.mutant + 0.5

    @property
    def beta(self) -> float:
        return self.molecules - self.mutant + 0.5

    @property
    def rate(self) -> float:
        return self.alpha / (self.alpha + self.beta)


def site_class(ref: str, alt: str, context: str | None = None) -> str:
    """Background class of an SNV: ``A[C>T]G``-style trinucleotide context collapsed to a
    pyrimidine reference base when ``context`` (the reference bases at pos-1..pos+1) is known,
    else the substitution (``C>T``); ``ins``/``del`` for indels."""
    sub = substitution_class(ref, alt)
    if not context or len(context) != 3 or len(ref) != 1 or len(alt) != 1:
        return sub
    if ref in "AG":
        context = context.translate(_COMPLEMENT)[::-1]
    return f"{context[0]}[{sub}]{context[2]}"


def control_mask(depth: np.ndarray, mutant: np.ndarray, exclude_vaf: float) -> np.ndarray:
    """Control observations that count as background: some depth, VAF below ``exclude_vaf``."""
    depth = np.asarray(depth, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        vaf = np.where(depth > 0, np.asarray(mutant, dtype=float) / depth, 0.0)
    return (depth > 0) & (vaf < exclude_vaf)


def prior_shape(mutant: np.ndarray, depth: np.ndarray, class_rate: np.ndarray,
                max_shape: float) -> float:
    """Shape of the gamma spread of site rates around their class rates, by the method of
    moments: with expected counts mu_s = depth_s x class rate, the squared deviations beyond the
    Poisson part give the variance v of the sites' rate factor; shape = 1 / v, clipped to
    [MIN_PRIOR_SHAPE, max_shape] (``max_shape`` when the counts show no extra spread)."""
    mu = np.asarray(depth, dtype=float) * np.asarray(class_rate, dtype=float)
    excess = float(np.sum((np.asarray(mutant, dtype=float) - mu) ** 2 - mu))
    scale = float(np.sum(mu ** 2))
    if scale <= 0 or excess <= 0:
        return float(max_shape)
    return float(np.clip(scale / excess, MIN_PRIOR_SHAPE, max_shape))


def site_background(sites: pd.DataFrame, controls: pd.DataFrame, max_prior_shape: float
                    ) -> tuple[pd.DataFrame, BackgroundLevel, float]:
    """Background of each site.

    sites: site_id, klass (``site_class``); controls: site_id, mutant, depth (the control
    observations already filtered with ``control_mask``).
    Returns (frame indexed by site_id with control_mutant, control_depth, class_rate,
    background_rate, bg_alpha, bg_beta; the pooled level; the prior shape)."""
    sums = controls.groupby("site_id")[["mutant", "depth"]].sum()
    table = sites.set_index("site_id")[["klass"]].join(sums).fillna(0)
    table = table.rename(columns={"mutant": "control_mutant", "depth": "control_depth"})
    level = BackgroundLevel(int(table["control_mutant"].sum()),
                            int(table["control_depth"].sum()))
    by_class = table.groupby("klass")[["control_mutant", "control_depth"]].sum()
    class_rate = ((by_class["control_mutant"] + level.rate * CLASS_SHRINK_MOLECULES)
                  / (by_class["control_depth"] + CLASS_SHRINK_MOLECULES))
    table["class_rate"] = table["klass"].map(class_rate)
    shape = prior_shape(table["control_mutant"], table["control_depth"], table["class_rate"],
                        max_prior_shape)
    table["bg_alpha"] = shape + table["control_mutant"]
    table["bg_beta"] = (shape * (1 - table["class_rate"]) / table["class_rate"]
                        + table["control_depth"] - table["control_mutant"])
    table["background_rate"] = table["bg_alpha"] / (table["bg_alpha"] + table["bg_beta"])
    return table, level, shape
