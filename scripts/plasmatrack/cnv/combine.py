"""One tumour fraction per draw from all the evidence the pipeline has (rule ``cnv_combine``).

Three independent measurements of the same quantity (the fraction of cfDNA genome equivalents
from the tumour) are available per draw:

- ``cn``: the copy-number HMM on read depth (``tumour_fraction_cn.tsv``, genome copies); its
  estimate enters only where the altered states cover at least ``min_altered_fraction`` of the
  genome (``tf_cn_informative``): a focal amplicon alone can be fitted at any TF;
- ``snv``: twice the pooled VAF of the patient's clonal somatic SNVs
  (``snv_tumour_fraction.tsv``);
- ``baf``: allelic imbalance at heterozygous germline SNPs (``cnv/baf.py``).

Estimate. Each method's 95% interval is read as a split-normal log-likelihood around its
estimate (left and right standard errors from the two half-widths). Where the methods disagree by
more than their errors allow, a between-method variance ``tau^2`` (DerSimonian-Laird) is added to
every method's variance, so that one confident but wrong method cannot dominate: each method is a
different generative assumption (depth, somatic alleles, germline alleles) and a disagreement
means one of the assumptions fails in this draw, not that the more precise one is right. The
combined estimate maximises the sum of the (widened) curves; its interval is where the summed
deviance stays below the chi-square(1) 95% point. A ``warning`` names the methods whose own
intervals exclude each other.

Detection. Each method gives a p-value against TF 0, calibrated on its own null:

- ``cn``: an exponential tail ``p = exp(-llr / m)`` whose mean ``m`` is that of the tumour-free
  samples' LLRs in the same fit group (normals and healthy plasma, fitted leave-one-out), never
  lighter than the configured floor (``min_llr`` maps to ``alpha``); 1 when the altered fraction
  of the genome is below ``min_altered_fraction`` (a focal amplicon alone carries no TF);
- ``snv``: the pooled mutant fragments against the background model's expected count (binomial
  upper tail on overdispersion-scaled counts; ``variants.stats.pooled_background_p_value``),
  written by the variants stage (``tf_snv_p_value``);
- ``baf``: ``0.5 P(chi2_1 > 2 llr_baf)`` (the boundary mixture; the counts' overdispersion is
  fitted on the matched normal).

``tf_p_value`` is the Sidak-adjusted smallest of the available p-values (valid whatever the
dependence between methods), and ``tf_detected`` is ``tf_p_value <= alpha``. Not detected: the
reported ``tumour_fraction`` and ``tf_lower`` are 0 and ``tf_upper`` stays as an upper limit, as
before. ``tf_method`` names the evidence that entered the estimate (e.g. ``cn+snv+baf``)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import special

Z95 = 1.959963984540054
CHI2_95 = 3.841458820694124
GRID = np.linspace(0.0, 1.0, 4001)
METHODS = ("cn", "snv", "baf")
# BAF is reported but not combined by default (its segments follow the copy-number path).
DEFAULT_METHODS = ("cn", "snv")
# Columns each method contributes: estimate, lower, upper, p-value.
METHOD_COLUMNS = {m: (f"tumour_fraction_{m}", f"tf_{m}_lower", f"tf_{m}_upper",
                      f"tf_{m}_p_value") for m in METHODS}
COMBINED_COLUMNS = ["tumour_fraction", "tf_lower", "tf_upper", "tf_detected", "tf_p_value",
                    "tf_method", "tf_heterogeneity"]


@dataclass(frozen=True)
class Evidence:
    """One method's estimate for one draw (genome copies) and its p-value against TF 0."""

    method: str
    value: float
    lower: float
    upper: float
    p_value: float
    informative: bool = True  # False: the method's estimate says nothing about TF here

    @property
    def usable(self) -> bool:
        return self.informative and all(
            math.isfinite(v) for v in (self.value, self.lower, self.upper)) and (
            self.upper > self.lower)

    def sides(self, floor: float = 1e-4) -> tuple[float, float]:
        """Left and right standard errors from the interval's half-widths."""
        left = max((self.value - self.lower) / Z95, floor)
        right = max((self.upper - self.value) / Z95, floor)
        return left, right


@dataclass(frozen=True)
class Combined:
    value: float
    lower: float
    upper: float
    p_value: float
    methods: tuple[str, ...]
    tau: float
    warning: str


def split_normal_loglik(e: Evidence, grid: np.ndarray, extra_var: float = 0.0) -> np.ndarray:
    """Split-normal log-likelihood of ``e`` on ``grid`` with ``extra_var`` added to both sides."""
    left, right = e.sides()
    sd = np.where(grid < e.value, math.sqrt(left ** 2 + extra_var),
                  math.sqrt(right ** 2 + extra_var))
    return -0.5 * ((grid - e.value) / sd) ** 2


def between_method_variance(evidence: list[Evidence]) -> float:
    """DerSimonian-Laird ``tau^2`` of the methods' estimates (0 with one method)."""
    if len(evidence) < 2:
        return 0.0
    x = np.array([e.value for e in evidence])
    var = np.array([np.mean(e.sides()) ** 2 for e in evidence])
    w = 1.0 / var
    mean = float((w * x).sum() / w.sum())
    q = float((w * (x - mean) ** 2).sum())
    denom = float(w.sum() - (w ** 2).sum() / w.sum())
    return max(0.0, (q - (len(x) - 1)) / denom) if denom > 0 else 0.0


def disagreements(evidence: list[Evidence]) -> list[str]:
    """Pairs of methods whose 95% intervals do not overlap, in words."""
    out = []
    for i, a in enumerate(evidence):
        for b in evidence[i + 1:]:
            if a.upper < b.lower or b.upper < a.lower:
                out.append(f"{_label(a)} and {_label(b)} disagree beyond their intervals")
    return out


def _label(e: Evidence) -> str:
    return f"TF from {e.method} {e.value:.3f} ({e.lower:.3f}-{e.upper:.3f})"


def sidak(p_values: list[float]) -> float:
    """Sidak-adjusted smallest p-value of ``p_values`` (finite ones; 1 when there are none)."""
    p = [min(max(v, 0.0), 1.0) for v in p_values if math.isfinite(v)]
    if not p:
        return 1.0
    return float(-np.expm1(len(p) * np.log1p(-min(min(p), 1 - 1e-16))))


def combine(evidence: list[Evidence], grid: np.ndarray = GRID) -> Combined:
    """The combined estimate, interval and p-value of one draw's evidence."""
    usable = [e for e in evidence if e.usable]
    p_value = sidak([e.p_value for e in evidence])
    if not usable:
        return Combined(math.nan, math.nan, math.nan, p_value, (), 0.0,
                        "no method gave a tumour fraction")
    tau2 = between_method_variance(usable)
    total = sum(split_normal_loglik(e, grid, tau2) for e in usable)
    best = int(np.argmax(total))
    inside = grid[2.0 * (total[best] - total) <= CHI2_95]
    return Combined(value=float(grid[best]), lower=float(inside.min()),
                    upper=float(inside.max()), p_value=p_value,
                    methods=tuple(e.method for e in usable), tau=math.sqrt(tau2),
                    warning="; ".join(disagreements(usable)))


# ----------------------------------------------------------------------------------------------
# Per-method p-values


def cn_null_mean(llr: np.ndarray, floor_llr: float, alpha: float) -> float:
    """Mean of the exponential tail of the copy-number LLR under TF 0: that of the tumour-free
    samples' LLRs, at least ``floor_llr / ln(1 / alpha)`` (the configured threshold maps to
    ``alpha``)."""
    llr = np.asarray(llr, float)
    llr = llr[np.isfinite(llr)]
    floor = floor_llr / math.log(1.0 / alpha)
    return max(floor, float(llr.mean()) if len(llr) else 0.0)


def cn_p_value(llr: float, null_mean: float, altered_fraction: float,
               min_altered_fraction: float) -> float:
    if not math.isfinite(llr):
        return math.nan
    if altered_fraction < min_altered_fraction:
        return 1.0
    return float(math.exp(-max(llr, 0.0) / null_mean))


def baf_p_value(llr_baf: float) -> float:
    if not math.isfinite(llr_baf):
        return math.nan
    return float(0.5 * special.chdtrc(1, 2.0 * max(llr_baf, 0.0))) if llr_baf > 0 else 1.0


# ----------------------------------------------------------------------------------------------
# Tables


def _evidence(row: dict, method: str) -> Evidence:
    value, lower, upper, p = (row.get(c, math.nan) for c in METHOD_COLUMNS[method])
    informative = row.get(f"tf_{method}_informative", True)
    informative = not (isinstance(informative, str) and informative.lower() == "false") and (
        informative is not False)
    return Evidence(method, *(_float(v) for v in (value, lower, upper, p)), informative)


def _float(value) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return math.nan
    return out


def combine_draws(cn: pd.DataFrame, snv: pd.DataFrame | None, baf: pd.DataFrame | None,
                  alpha: float = 0.01, methods: tuple[str, ...] = DEFAULT_METHODS
                  ) -> pd.DataFrame:
    """The combined tumour-fraction table: ``cn`` (the copy-number table, one row per sample,
    with the ``tumour_fraction_cn``/``tf_cn_*`` columns) with the SNV and BAF columns joined on
    ``sample_id`` and the combined columns (``COMBINED_COLUMNS``) in place of the copy-number
    ones. ``methods``: which evidence may enter (config ``cnv.combine.methods``)."""
    out = cn.copy()
    for table, method in ((snv, "snv"), (baf, "baf")):
        cols = [c for c in METHOD_COLUMNS[method] if table is not None and c in table]
        extra = [c for c in ("n_variants", "n_het", "n_imbalanced", "note") if
                 table is not None and c in table and c not in out]
        if table is not None and cols:
            renamed = table[["sample_id", *cols, *extra]].rename(
                columns={"note": f"{method}_note", "n_variants": "n_snv"})
            out = out.merge(renamed.drop_duplicates("sample_id"), on="sample_id", how="left")
        for c in METHOD_COLUMNS[method]:
            if c not in out:
                out[c] = np.nan
    rows = []
    for row in out.to_dict("records"):
        evidence = [_evidence(row, m) for m in methods]
        result = combine([e for e in evidence if math.isfinite(e.value) or
                          math.isfinite(e.p_value)])
        detected = result.p_value <= alpha and math.isfinite(result.value)
        warnings = [w for w in (str(row.get("warning") or "").strip(), result.warning) if w
                    and w != "nan"]
        rows.append({
            "tumour_fraction": result.value if detected else 0.0,
            "tf_lower": result.lower if detected else 0.0,
            "tf_upper": result.upper,
            "tf_detected": bool(detected), "tf_p_value": result.p_value,
            "tf_method": "+".join(result.methods), "tf_heterogeneity": result.tau,
            "warning": "; ".join(warnings)})
    combined = pd.DataFrame(rows, index=out.index)
    for c in combined:
        out[c] = combined[c]
    return out
