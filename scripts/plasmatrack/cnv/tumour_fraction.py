"""Tumour fraction from bin-level copy ratios: an ichorCNA-style hidden Markov model.

The model knows nothing about CNVkit: it takes a table of bins (chromosome, start, end, log2 and
optionally weight and bin_class) so that the pipeline's ``.cnr`` and the WIG path share it.

Model (per sample)
------------------
Hidden states are tumour copy numbers ``c = min_copy .. max_copy`` (1-5 by default: like
ichorCNA's default, no homozygous-deletion state, which would otherwise explain arm-level
single-copy losses at half the TF as whole-arm nullisomy) plus, optionally, one "high-level amplification"
state ``A``. In plasma with tumour fraction ``t`` and tumour ploidy ``phi`` the
expected log2 copy ratio of a bin whose tumour copy number is ``c`` is (ichorCNA, Adalsteinsson et
al. 2017, with ``t = 1 - n``)::

    mu_c(t, phi) = log2( (2 (1 - t) + c t) / (2 (1 - t) + phi t) )

because the copy ratios are centred on the sample's average copy number ``2 (1 - t) + phi t``.
Emissions are Student-t (``df`` degrees of freedom, robust to outlier bins) with one scale per bin
class (capture targets and off-target bins are far from equally noisy), optionally divided by the
square root of each bin's relative weight. The amplification state has a free tumour copy number
``C_A > max_copy`` (one per tumour, shared by all its samples) fitted separately from ``t``, so
that a focal high-level amplification (ERBB2 at 20 copies) is explained without dragging ``t``
upwards: ``c = 5`` at ``t = 0.12`` and ``c = 20`` at ``t = 0.02`` give the same ratio, so such bins
carry no information on ``t``. (A free mean per sample instead of a shared ``C_A`` fails in joint
fits: a low-TF draw's flat amplicon and a high-TF draw's peak cannot share a state.)

Transitions are fixed: each bin keeps its state with probability ``1 - switch_prob`` and otherwise
jumps to state ``j`` with probability ``rho_j``, where ``rho_c`` is proportional to
``prior_decay ** |c - 2|`` (and ``amp_prior`` for the amplification state); chromosomes are
independent chains whose first bin is drawn from ``rho``. At low TF ``(t, c = 3)`` and
``(t / 2, c = 4)`` predict nearly the same ratios; the decay makes the explanation with the smaller
copy-number changes win such near-ties. The parameters ``t, phi`` and the scales are fitted by
expectation-conditional-maximisation (Student-t weights, then weighted least squares for ``t, phi``)
from every start of a grid of ``tf_starts x ploidy_starts``; the start with the highest
log-likelihood wins. Nothing is random, so the same input always gives the same answer.

Interval and detection
----------------------
The 95% interval is a profile-likelihood interval for ``t``: along a grid of ``t`` the ploidy is set
so that the most common state keeps its fitted level (the level the majority of bins pins down),
the scales stay at their estimates, and ``{t: 2 (l_max - l(t)) / d <= 3.84}`` is reported.
``d >= 1`` is a variance inflation for residuals that are correlated along the genome
(``(1 + r1) / (1 - r1)`` from the lag-1 autocorrelation ``r1`` of the residuals), so that waves the
model does not know about widen the interval instead of making it falsely narrow. The same
profile gives the detection statistic ``llr = (l_max - l(0)) / d`` (log-likelihood ratio against a
tumour-free sample). ``tf_detected`` needs ``llr`` and the altered fraction of the genome above
thresholds that the pipeline calibrates on the cohort's normal samples (see ``calibrate``).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace

import numpy as np
import pandas as pd
from scipy import optimize, special

from ..config import settings_kwargs
from ..errors import InputError

NEUTRAL_COPY = 2
LOG2 = math.log(2.0)


@dataclass(frozen=True)
class HmmSettings:
    """Model settings (defaults are the pipeline's; see docs/cnv.md for the choices)."""

    max_copy: int = 5
    min_copy: int = 1
    amp_state: bool = True
    switch_prob: float = 0.001
    prior_decay: float = 0.1
    amp_prior: float = 0.01
    df: float = 4.0
    tf_starts: tuple[float, ...] = (0.02, 0.05, 0.1, 0.2, 0.35, 0.5, 0.7)
    ploidy_starts: tuple[float, ...] = (2.0, 3.0)
    tf_bounds: tuple[float, float] = (0.0, 0.95)
    ploidy_bounds: tuple[float, float] = (1.5, 5.0)
    max_iter: int = 50
    tol: float = 1e-5
    use_weights: bool = True
    profile_step: float = 0.005
    ci_level: float = 0.95
    inflate_for_autocorrelation: bool = True
    # Which bins of a capture panel the TF is fitted on: "off_target" (the genome-wide
    # antitarget bins, default) or "all" (targets too). Designs without off-target bins (whole
    # genome, WIG) always use every bin. See docs/cnv.md, "Reference correction".
    bin_classes: str = "off_target"
    # How bins of one class differ in noise: "weights" (default) uses CNVkit's bin weights
    # (clipped); "counts" models each bin's variance as a / n + b, n its read count (depth x
    # length), a and b fitted per sample and class from the bins' first differences. CNVkit's
    # off-target weights barely vary with bin size (0.94 against 0.97 for bins of 6-40 kb and
    # 80-150 kb in an independent simulation) while the small bins scatter twice as much; counts
    # helped there but moved the demo fixture's P03_D1 from 0.131 to 0.159 (truth 0.098), so it
    # is an option, not the default (docs/cnv.md, "Per-bin noise").
    noise_model: str = "weights"

    @classmethod
    def from_config(cls, section: dict | None) -> "HmmSettings":
        """Settings from the config's ``cnv.hmm`` mapping (missing keys keep their defaults)."""
        section = dict(section or {})
        for key in ("tf_starts", "ploidy_starts", "tf_bounds", "ploidy_bounds"):
            if key in section:
                section[key] = tuple(float(v) for v in section[key])
        settings_kwargs(cls, section, "cnv.hmm")  # unknown keys: an error naming the nearest
        if section.get("bin_classes", "off_target") not in ("off_target", "all"):
            raise InputError(f"config cnv.hmm.bin_classes: {section['bin_classes']!r} is not "
                             "off_target or all")
        if section.get("noise_model", "weights") not in ("counts", "weights"):
            raise InputError(f"config cnv.hmm.noise_model: {section['noise_model']!r} is not "
                             "counts or weights")
        return cls(**section)


@dataclass
class TumourFractionFit:
    """Result of :func:`fit_tumour_fraction` for one sample.

    ``tumour_fraction`` is the maximum-likelihood estimate (fraction of cfDNA fragments from the
    tumour, 0-1) whatever the detection; callers report 0 when ``detected`` is False.
    ``states`` has one row per bin used (chromosome, start, end: 0-based half-open; log2; state:
    the Viterbi copy number, or ``max_copy + 1`` for the amplification state; amp: True for it;
    expected_log2; posterior: the state's posterior probability)."""

    tumour_fraction: float
    tf_lower: float
    tf_upper: float
    ploidy: float
    ploidy_fit: float
    loglik: float
    llr: float
    altered_fraction: float
    inflation: float
    scales: dict[str, float]
    amp_log2: float | None
    amp_copy: float | None
    n_bins: int
    iterations: int
    states: pd.DataFrame
    profile: pd.DataFrame
    starts: pd.DataFrame
    settings: HmmSettings = field(default_factory=HmmSettings)

    def summary(self) -> dict:
        """Scalar fields as a flat dict (for one row of a table)."""
        return {
            "tumour_fraction_fit": self.tumour_fraction,
            "tf_lower": self.tf_lower,
            "tf_upper": self.tf_upper,
            "ploidy": self.ploidy,
            "ploidy_fit": self.ploidy_fit,
            "loglik": self.loglik,
            "llr": self.llr,
            "altered_fraction": self.altered_fraction,
            "inflation": self.inflation,
            "n_bins": self.n_bins,
            **{f"scale_{k}": v for k, v in self.scales.items()},
        }


# ----------------------------------------------------------------------------------------------
# Data layout: the bins shared by every sample, padded into a (chromosomes x longest chromosome)
# grid so that all chromosomes go through the forward-backward recursions at once (a Python loop
# over the longest chromosome instead of over every bin).


@dataclass
class _Grid:
    y: np.ndarray  # (S, M, L) log2 ratios per sample, 0 where padded
    valid: np.ndarray  # (M, L) bool
    cls: np.ndarray  # (M, L) bin-class index
    rel_scale: np.ndarray  # (S, M, L) per-bin scale multiplier (1 where unweighted)
    order: np.ndarray  # flat positions (into M*L) of the rows of ``table``
    table: pd.DataFrame  # the shared bins, in genomic order: chromosome, start, end, bin_class
    class_names: list[str]


def _usable(bins: pd.DataFrame, name: str) -> pd.DataFrame:
    required = {"chromosome", "start", "end", "log2"}
    missing = required - set(bins.columns)
    if missing:
        raise InputError(f"{name}: missing columns {sorted(missing)}")
    table = bins.copy()
    table["chromosome"] = table["chromosome"].astype(str)
    table["log2"] = pd.to_numeric(table["log2"], errors="coerce")
    keep = np.isfinite(table["log2"].to_numpy(float))
    if "weight" in table:
        weight = pd.to_numeric(table["weight"], errors="coerce").to_numpy(float)
        keep &= np.isfinite(weight) & (weight > 0)
    else:
        table["weight"] = 1.0
    if "bin_class" not in table:
        table["bin_class"] = "bin"
    table["bin_class"] = table["bin_class"].astype(str)
    return table.loc[keep].drop_duplicates(["chromosome", "start", "end"])


def count_noise(y: np.ndarray, counts: np.ndarray, chrom: np.ndarray,
                iterations: int = 5) -> np.ndarray:
    """Relative noise SD per bin (median 1) under the model ``var = a / n + b``.

    ``a`` (counting noise) and ``b`` (count-independent noise: the reference's and the
    sample's residual biases) are fitted by least squares of squared first differences of
    neighbouring bins on a chromosome, ``E[(y_i - y_j)^2] = a (1/n_i + 1/n_j) + 2 b``, which do
    not see copy-number steps except at the few breakpoints; differences above the fitted
    variance's 99th percentile (breakpoints, outlier bins) are left out of the next round. Both
    terms are kept non-negative; without a usable fit every bin gets 1."""
    y, n = np.asarray(y, float), np.asarray(counts, float)
    same = chrom[1:] == chrom[:-1]
    ok = same & np.isfinite(y[1:]) & np.isfinite(y[:-1]) & (n[1:] > 0) & (n[:-1] > 0)
    if ok.sum() < 20:
        return np.ones(len(y))
    d2 = (y[1:] - y[:-1])[ok] ** 2
    inv = (1.0 / n[1:] + 1.0 / n[:-1])[ok]
    keep = np.ones(len(d2), bool)
    a, b = 0.0, float(np.median(d2)) / 2
    for _ in range(iterations):
        design = np.c_[inv[keep], np.full(keep.sum(), 2.0)]
        coef, *_ = np.linalg.lstsq(design, d2[keep], rcond=None)
        a, b = max(float(coef[0]), 0.0), max(float(coef[1]), 0.0)
        if a == 0.0 or b == 0.0:  # refit the remaining term alone
            if a == 0.0:
                b = float(d2[keep].mean()) / 2
            else:
                a = float((d2[keep] * inv[keep]).sum() / (inv[keep] ** 2).sum())
        fitted = a * inv + 2 * b
        # A squared difference of two normal variables exceeds 6.63 x its variance 1% of the time.
        keep = d2 <= 6.63 * fitted
    var = a / np.where(n > 0, n, np.nan) + b
    if not np.isfinite(var).any() or np.nanmedian(var) <= 0:
        return np.ones(len(y))
    rel = np.sqrt(var / np.nanmedian(var))
    return np.where(np.isfinite(rel), rel, np.nanmax(rel))


def _prepare(samples: list[pd.DataFrame], use_weights: bool, noise_model: str = "weights"
             ) -> _Grid:
    tables = [_usable(b, f"bin table {i + 1}") for i, b in enumerate(samples)]
    key = ["chromosome", "start", "end"]
    shared = tables[0][key + ["bin_class"]]
    for t in tables[1:]:
        shared = shared.merge(t[key], on=key)
    if len(shared) < 10:
        raise InputError(f"bin tables: only {len(shared)} usable bins shared; need at least 10")
    chroms = pd.unique(tables[0]["chromosome"])
    chrom_idx = shared["chromosome"].map({c: i for i, c in enumerate(chroms)}).to_numpy()
    # Genomic order within a chromosome, whatever order the rows came in.
    sort = np.lexsort((shared["start"].to_numpy(), chrom_idx))
    shared = shared.iloc[sort].reset_index(drop=True)
    chrom_idx = chrom_idx[sort]
    class_names = sorted(shared["bin_class"].unique())
    cls = shared["bin_class"].map({c: i for i, c in enumerate(class_names)}).to_numpy()
    counts = np.bincount(chrom_idx, minlength=len(chroms))
    n_chrom, length = len(chroms), int(counts.max())
    starts = np.cumsum(counts) - counts
    flat = chrom_idx * length + (np.arange(len(shared)) - starts[chrom_idx])

    def grid(values, fill):
        out = np.full(n_chrom * length, fill, dtype=np.asarray(values).dtype)
        out[flat] = values
        return out.reshape(n_chrom, length)

    ys, rels = [], []
    for t in tables:
        t = shared[key].merge(t, on=key, how="left")
        rel = np.ones(len(t))
        if use_weights and noise_model == "counts" and "depth" in t:
            counts = (t["depth"].to_numpy(float)
                      * (t["end"] - t["start"]).to_numpy(float).clip(min=1.0))
            y = t["log2"].to_numpy(float)
            chrom = t["chromosome"].to_numpy()
            for i in range(len(class_names)):
                sel = cls == i
                rel[sel] = count_noise(y[sel], counts[sel], chrom[sel])
        elif use_weights:
            w = t["weight"].to_numpy(float)
            for i in range(len(class_names)):
                sel = cls == i
                # Weights only modulate the class scale; the clip stops a few near-zero weights
                # from turning their bins into no-information bins or vice versa.
                rel[sel] = 1.0 / np.sqrt(np.clip(w[sel] / np.median(w[sel]), 0.2, 5.0))
        ys.append(grid(t["log2"].to_numpy(float), 0.0))
        rels.append(grid(rel, 1.0))
    return _Grid(y=np.stack(ys), valid=grid(np.ones(len(shared), bool), False),
                 cls=grid(cls, 0), rel_scale=np.stack(rels), order=flat, table=shared,
                 class_names=class_names)


# ----------------------------------------------------------------------------------------------
# Model pieces


def expected_log2(tf: np.ndarray | float, ploidy: np.ndarray | float, copies: np.ndarray
                  ) -> np.ndarray:
    """``mu_c`` for each copy number in ``copies`` (last axis) given ``tf`` and ``ploidy``
    (broadcast on the leading axes)."""
    tf = np.asarray(tf, float)[..., None]
    ploidy = np.asarray(ploidy, float)[..., None]
    num = 2.0 * (1.0 - tf) + copies * tf
    den = 2.0 * (1.0 - tf) + ploidy * tf
    # c = 0 at t -> 1 has no reads at all; a floor keeps the log finite (such bins are outliers).
    return np.log2(np.maximum(num, 1e-3) / den)


def _amp_log2(tf, ploidy, amp_copy) -> np.ndarray:
    tf = np.asarray(tf, float)
    ploidy = np.asarray(ploidy, float)
    num = 2.0 * (1.0 - tf) + np.asarray(amp_copy, float) * tf
    return np.log2(num / (2.0 * (1.0 - tf) + ploidy * tf))


def _t_logpdf(resid: np.ndarray, scale: np.ndarray, df: float) -> np.ndarray:
    const = special.gammaln((df + 1) / 2) - special.gammaln(df / 2) - 0.5 * math.log(df * math.pi)
    z2 = (resid / scale) ** 2
    return const - np.log(scale) - 0.5 * (df + 1) * np.log1p(z2 / df)


class _Model:
    """Fixed parts of the model for one data grid and settings. Parameter arrays carry a leading
    axis G (parameter sets, e.g. EM starts) and a sample axis S."""

    def __init__(self, grid: _Grid, settings: HmmSettings):
        self.grid = grid
        self.s = settings
        self.copies = np.arange(settings.min_copy, settings.max_copy + 1, dtype=float)
        if NEUTRAL_COPY not in self.copies:
            raise InputError("cnv.hmm: the copy-number states must include 2")
        self.k_cn = len(self.copies)
        self.k = self.k_cn + (1 if settings.amp_state else 0)
        # Target distribution of a switch (and of a chromosome's first bin): copy numbers further
        # from 2 are less likely a priori. At low TF, (t, c = 3) and (t / 2, c = 4) predict the
        # same ratios; this prior makes the parsimonious explanation win such near-ties.
        rho = settings.prior_decay ** np.abs(self.copies - NEUTRAL_COPY)
        rho = rho / rho.sum() * (1.0 - (settings.amp_prior if settings.amp_state else 0.0))
        if settings.amp_state:
            rho = np.append(rho, settings.amp_prior)
        self.rho = rho
        self.log_pi = np.log(rho)
        self.stay = 1.0 - settings.switch_prob
        self.state_copy = (np.append(self.copies, settings.max_copy + 1) if settings.amp_state
                           else self.copies).astype(int)

    def means(self, tf: np.ndarray, ploidy: np.ndarray, amp_copy: np.ndarray | float,
              amp_level: np.ndarray | None = None) -> np.ndarray:
        """State means (..., K) for parameters of shape (...). The amplification state's mean is
        that of ``amp_copy`` tumour copies (shared by every sample of a tumour), or, when
        ``amp_level`` is given, that log2 level whatever ``tf``."""
        mu = expected_log2(tf, ploidy, self.copies)
        if self.s.amp_state:
            if amp_level is None:
                amp_mu = np.broadcast_to(_amp_log2(tf, ploidy, amp_copy), mu.shape[:-1])
            else:
                amp_mu = np.broadcast_to(np.asarray(amp_level, float), mu.shape[:-1])
            mu = np.concatenate([mu, amp_mu[..., None]], axis=-1)
        return mu

    def log_emission_sample(self, s: int, mu: np.ndarray, scales: np.ndarray) -> np.ndarray:
        """(G, M, L, K) log densities of sample ``s`` for G parameter sets (mu: (G, K),
        scales: (G, C)); 0 at padded positions."""
        g = self.grid
        bin_scale = scales[:, g.cls] * g.rel_scale[s][None]  # (G, M, L)
        resid = g.y[s][None, :, :, None] - mu[:, None, None, :]
        out = _t_logpdf(resid, bin_scale[..., None], self.s.df)
        out[:, ~g.valid, :] = 0.0
        return out

    def log_emissions(self, mu: np.ndarray, scales: np.ndarray) -> np.ndarray:
        """(G, M, L, K) joint log densities of all samples (mu: (G, S, K), scales: (G, S, C))."""
        out = self.log_emission_sample(0, mu[:, 0], scales[:, 0])
        for s in range(1, self.grid.y.shape[0]):
            out += self.log_emission_sample(s, mu[:, s], scales[:, s])
        return out

    def forward_backward(self, log_e: np.ndarray, posteriors: bool = True):
        """Scaled forward-backward over all chromosomes and parameter sets at once.

        Returns (loglik (G,), gamma (G, M, L, K) or None). Padded positions have emission 1, so
        they neither change the likelihood nor the posteriors of real bins."""
        shift = log_e.max(axis=-1, keepdims=True)
        emis = np.exp(log_e - shift)
        g, m, length, k = emis.shape
        alpha = np.empty_like(emis)
        scale = np.empty((g, m, length))
        a = emis[:, :, 0, :] * self.rho
        c = a.sum(-1)
        alpha[:, :, 0, :] = a / c[..., None]
        scale[:, :, 0] = c
        stay, jump = self.stay, (1.0 - self.stay) * self.rho
        for i in range(1, length):
            # A = stay I + (1 - stay) 1 rho^T and rows of alpha sum to one, so
            # alpha @ A = stay alpha + (1 - stay) rho.
            a = (stay * alpha[:, :, i - 1, :] + jump) * emis[:, :, i, :]
            c = a.sum(-1)
            alpha[:, :, i, :] = a / c[..., None]
            scale[:, :, i] = c
        loglik = np.log(scale).sum(axis=(1, 2)) + shift[..., 0].sum(axis=(1, 2))
        if not posteriors:
            return loglik, None
        beta = np.ones_like(emis)
        for i in range(length - 2, -1, -1):
            b = emis[:, :, i + 1, :] * beta[:, :, i + 1, :]
            beta[:, :, i, :] = (stay * b + (b * jump).sum(-1, keepdims=True)) / scale[
                :, :, i + 1, None]
        gamma = alpha * beta
        gamma /= gamma.sum(-1, keepdims=True)
        return loglik, gamma

    def viterbi(self, log_e: np.ndarray) -> np.ndarray:
        """(M, L) most likely state path for one parameter set (log_e: (M, L, K)).

        Padded steps after a chromosome's last bin have emission 1: staying costs the same for
        every state, so they keep the best final state and do not change the real path."""
        m, length, k = log_e.shape
        log_a = np.log(self.stay * np.eye(k) + ((1.0 - self.stay) * self.rho)[None, :])
        delta = self.log_pi + log_e[:, 0, :]
        back = np.zeros((m, length, k), dtype=np.int16)
        for i in range(1, length):
            cand = delta[:, :, None] + log_a[None]  # (M, from, to)
            back[:, i, :] = cand.argmax(axis=1)
            delta = cand.max(axis=1) + log_e[:, i, :]
        path = np.zeros((m, length), dtype=int)
        state = delta.argmax(axis=1)
        rows = np.arange(m)
        for i in range(length - 1, -1, -1):
            path[:, i] = state
            state = back[rows, i, state]
        return path


# ----------------------------------------------------------------------------------------------
# Fitting


def _initial_scales(grid: _Grid, s: int) -> np.ndarray:
    """Starting noise scale per bin class of sample ``s``, from within-chromosome first
    differences (insensitive to copy-number steps), MAD-based."""
    scales = []
    for i in range(len(grid.class_names)):
        diffs = []
        for row in range(grid.y.shape[1]):
            sel = grid.valid[row] & (grid.cls[row] == i)
            diffs.append(np.diff(grid.y[s, row, sel] / grid.rel_scale[s, row, sel]))
        d = np.concatenate(diffs) if diffs else np.array([])
        if len(d) < 3:
            scales.append(0.1)
            continue
        mad = np.median(np.abs(d - np.median(d))) * 1.4826 / math.sqrt(2.0)
        scales.append(float(max(mad, 1e-3)))
    return np.array(scales)


def _m_step(model: _Model, gamma: np.ndarray, s: int, tf: float, ploidy: float,
            amp_copy: float, scales: np.ndarray) -> tuple[float, float, np.ndarray]:
    """One ECM update of sample ``s``'s TF, ploidy and scales given the state posteriors
    (M, L, K). The amplification state's bins do not inform TF (its copy number is free)."""
    grid, st = model.grid, model.s
    valid = grid.valid
    y = grid.y[s][valid]  # (N,)
    gam = gamma[valid]  # (N, K)
    cls = grid.cls[valid]
    rel = grid.rel_scale[s][valid]
    mu = model.means(np.array(tf), np.array(ploidy), amp_copy)
    bin_scale = scales[cls] * rel
    resid = y[:, None] - mu[None, :]
    u = (st.df + 1.0) / (st.df + (resid / bin_scale[:, None]) ** 2)  # Student-t weights
    w = gam * u
    new_scales = scales.copy()
    for i in range(len(scales)):
        sel = cls == i
        if sel.any():
            num = (w[sel] * (resid[sel] / rel[sel, None]) ** 2).sum()
            new_scales[i] = max(math.sqrt(num / sel.sum()), 1e-4)
    bin_scale = new_scales[cls] * rel
    wk = w / bin_scale[:, None] ** 2
    # The weighted sum of squares in (t, phi) only needs three sums per state.
    wk_cn = wk[:, : model.k_cn]
    s0, s1, s2 = wk_cn.sum(0), (wk_cn * y[:, None]).sum(0), (wk_cn * y[:, None] ** 2).sum(0)
    lo_t, hi_t = max(st.tf_bounds[0], 1e-4), st.tf_bounds[1]
    lo_p, hi_p = st.ploidy_bounds

    def objective(params):
        t = min(max(params[0], lo_t), hi_t)
        p = min(max(params[1], lo_p), hi_p)
        mu_cn = expected_log2(t, p, model.copies)
        return float((s0 * mu_cn ** 2 - 2.0 * s1 * mu_cn + s2).sum())

    result = optimize.minimize(
        objective, x0=[min(max(tf, lo_t), hi_t), ploidy], method="Nelder-Mead",
        bounds=[(lo_t, hi_t), (lo_p, hi_p)],
        options={"xatol": 1e-4, "fatol": 1e-9, "maxiter": 300},
    )
    new_tf = float(min(max(result.x[0], lo_t), hi_t))
    new_ploidy = float(min(max(result.x[1], lo_p), hi_p))
    return new_tf, new_ploidy, new_scales


def _amp_step(model: _Model, gamma: np.ndarray, tf: np.ndarray, ploidy: np.ndarray,
              scales: np.ndarray, amp_copy: float, samples: range) -> float:
    """Update the amplification state's tumour copy number (shared by the samples) by weighted
    least squares over the bins it holds, TF and ploidy fixed."""
    grid, st = model.grid, model.s
    if not st.amp_state:
        return amp_copy
    g_amp = gamma[grid.valid][:, -1]
    sel = g_amp > 1e-6
    if not sel.any():
        return amp_copy
    cls = grid.cls[grid.valid][sel]
    terms = []
    for s in samples:
        y = grid.y[s][grid.valid][sel]
        sc = scales[s][cls] * grid.rel_scale[s][grid.valid][sel]
        terms.append((s, y, sc))

    def objective(c):
        total = 0.0
        for s, y, sc in terms:
            r = (y - _amp_log2(tf[s], ploidy[s], c)) / sc
            total += float((g_amp[sel] * np.log1p(r * r / st.df)).sum())
        return total

    lo = float(st.max_copy + 1)
    res = optimize.minimize_scalar(objective, bounds=(lo, 200.0), method="bounded",
                                   options={"xatol": 1e-3})
    return float(res.x)


def _em(model: _Model, tf0: np.ndarray, ploidy0: np.ndarray, scales0: np.ndarray,
        amp0: np.ndarray):
    """ECM from every start at once (E-steps batched over starts). ``tf0``, ``ploidy0``: (G, S)
    starting TF and ploidy of every sample; ``scales0``: (S, C); ``amp0``: (G,) starting copy
    number of the amplification state. Returns per-start parameters (G, S[, C]; amplification
    copy number (G,)), log-likelihoods (G,) and iteration counts."""
    st = model.s
    g, n_s = np.shape(tf0)
    tf = np.asarray(tf0, float).copy()
    ploidy = np.asarray(ploidy0, float).copy()
    amp = np.asarray(amp0, float).copy()
    scales = np.tile(scales0, (g, 1, 1))
    loglik = np.full(g, -np.inf)
    active = np.ones(g, bool)
    iterations = np.zeros(g, int)
    for _ in range(st.max_iter):
        idx = np.flatnonzero(active)
        if not len(idx):
            break
        mu = model.means(tf[idx], ploidy[idx], amp[idx, None])
        ll, gamma = model.forward_backward(model.log_emissions(mu, scales[idx]))
        for j, gi in enumerate(idx):
            iterations[gi] += 1
            if np.isfinite(loglik[gi]) and abs(ll[j] - loglik[gi]) <= st.tol * abs(ll[j]):
                active[gi] = False
                loglik[gi] = ll[j]
                continue
            loglik[gi] = ll[j]
            for s in range(n_s):
                tf[gi, s], ploidy[gi, s], scales[gi, s] = _m_step(
                    model, gamma[j], s, tf[gi, s], ploidy[gi, s], amp[gi], scales[gi, s])
            amp[gi] = _amp_step(model, gamma[j], tf[gi], ploidy[gi], scales[gi], amp[gi],
                                range(n_s))
    mu = model.means(tf, ploidy, amp[:, None])
    loglik, _ = model.forward_backward(model.log_emissions(mu, scales), posteriors=False)
    return tf, ploidy, amp, scales, loglik, iterations


def _lag1_autocorrelation(resid: np.ndarray, valid: np.ndarray) -> float:
    num, den = 0.0, 0.0
    for row in range(resid.shape[0]):
        r = resid[row, valid[row]]
        if len(r) < 3:
            continue
        r = r - r.mean()
        num += float((r[1:] * r[:-1]).sum())
        den += float((r * r).sum())
    return num / den if den > 0 else 0.0


def fit_tumour_fraction(bins: pd.DataFrame, settings: HmmSettings | None = None
                        ) -> TumourFractionFit:
    """Fit the HMM to one sample's bins and return TF, interval, ploidy and the state path.

    ``bins``: columns chromosome, start, end (0-based half-open, bp), log2 (copy ratio centred on
    the sample's average); optional weight (> 0; larger = less noisy) and bin_class (bins of one
    class share a noise scale, e.g. "target"/"antitarget"). Non-finite log2 and zero weights are
    left out."""
    return fit_joint([bins], settings)[0]


def fit_joint(samples: list[pd.DataFrame], settings: HmmSettings | None = None,
              conditional: list[pd.DataFrame] = ()) -> list[TumourFractionFit]:
    """Fit several samples of one tumour (e.g. a patient's serial draws) with one shared
    copy-number state path and a tumour fraction, ploidy and noise scale per sample.

    Serial draws of a patient share the tumour's clonal copy-number profile while their TF
    differs, so a high-TF draw tells the model where the altered regions are, and a low-TF draw's
    TF then only has to be read off those regions (a tumour-informed estimate). The EM and the
    state path use the ``samples``; each of the ``conditional`` samples (e.g. the patient's
    normal, kept out of the path) is fitted on the path the ``samples`` define. Every sample's
    interval and LLR come from its own profile likelihood with the other samples' parameters held
    at their estimates. Only bins present (finite, weight > 0) in every sample are used.
    Returns one fit per sample, ``samples`` first then ``conditional``."""
    st = settings or HmmSettings()
    if not samples:
        raise InputError("fit_joint: no samples")
    all_bins = list(samples) + list(conditional)
    grid = _prepare(all_bins, st.use_weights, st.noise_model)
    n_joint, n_all = len(samples), len(all_bins)
    joint_grid = _Grid(y=grid.y[:n_joint], valid=grid.valid, cls=grid.cls,
                       rel_scale=grid.rel_scale[:n_joint], order=grid.order, table=grid.table,
                       class_names=grid.class_names)
    model = _Model(joint_grid, st)
    scales0 = np.stack([_initial_scales(grid, s) for s in range(n_all)])
    starts = np.array([(t, p) for t in st.tf_starts for p in st.ploidy_starts], float)
    # Each start gives the draw with the strongest signal its TF and the other draws theirs in
    # proportion to their signal (see _relative_signal); with one draw this is the grid itself.
    rel = _relative_signal(joint_grid, scales0[:n_joint])
    amp0 = _amp_starts(grid, scales0, starts, n_joint, st)
    typical = np.full(len(starts), 3.0 * st.max_copy)
    if not np.allclose(amp0, typical):
        # Both the data-derived and the typical amplicon copy number start the EM: the
        # likelihood has a mode near each.
        starts = np.concatenate([starts, starts])
        amp0 = np.concatenate([amp0, typical])
    tf0 = np.clip(starts[:, :1] * rel[None, :], max(st.tf_bounds[0], 1e-3), st.tf_bounds[1])
    ploidy0 = np.repeat(starts[:, 1:2], n_joint, axis=1)
    tf, ploidy, amp, scales, loglik, iterations = _em(model, tf0, ploidy0, scales0[:n_joint],
                                                      amp0)
    best = int(np.argmax(loglik))
    starts_table = pd.DataFrame({
        "tf_start": starts[:, 0], "ploidy_start": starts[:, 1], "amp_copy_start": amp0,
        **{f"tf_start_{s + 1}": tf0[:, s] for s in range(n_joint)},
        "amp_copy": amp, "loglik": loglik,
        "iterations": iterations,
        **{f"tumour_fraction_{s + 1}": tf[:, s] for s in range(n_joint)},
        **{f"ploidy_{s + 1}": ploidy[:, s] for s in range(n_joint)},
    })
    t_hat, phi_hat = tf[best].copy(), ploidy[best].copy()
    amp_hat, sc_hat = float(amp[best]), scales[best].copy()
    mu_hat = model.means(t_hat[None], phi_hat[None], amp_hat)  # (1, S, K)
    log_e_joint = model.log_emissions(mu_hat, sc_hat[None])  # (1, M, L, K)
    ll_joint, gamma = model.forward_backward(log_e_joint)
    path = model.viterbi(log_e_joint[0])

    # Conditional samples: parameters fitted on the joint posteriors (a few ECM rounds).
    full = _Model(grid, st)
    params = [(t_hat[s], phi_hat[s], amp_hat, sc_hat[s]) for s in range(n_joint)]
    for s in range(n_joint, n_all):
        t_c, p_c, sc_c = 0.05, 2.0, scales0[s]
        for _ in range(10):
            t_c, p_c, sc_c = _m_step(full, gamma[0], s, t_c, p_c, amp_hat, sc_c)
        params.append((t_c, p_c, amp_hat, sc_c))

    fits = []
    for s in range(n_all):
        fits.append(_sample_result(full, grid, s, params, log_e_joint[0], ll_joint[0], path,
                                   gamma[0], starts_table, int(iterations[best]), s < n_joint))
    return fits


def _relative_signal(grid: _Grid, scales0: np.ndarray, window: int = 5) -> np.ndarray:
    """Each draw's copy-number signal relative to the strongest draw's (1 for that draw), as
    starting TF ratios for the joint fit.

    Serial draws of a tumour share its copy-number profile, and at moderate TF a draw's log2
    deviations scale with its TF, so the ratio of a draw's smoothed deviations to the strongest
    draw's, over the bins where the strongest deviates by more than 2 noise SDs, estimates the
    TF ratio (median over those bins: focal amplicons, whose log2 grows less than linearly, do
    not dominate). Starting every draw at the same TF instead leaves the EM in a mode where the
    shared state path mislabels gains by one copy (measured: a 0.05-0.4 dilution series fitted
    at 0.7x its TF). Draws without a shared signal (fewer than 10 such bins) start at ratio 1."""
    n_s = grid.y.shape[0]
    if n_s == 1:
        return np.ones(1)
    smooth = np.zeros_like(grid.y)
    for s in range(n_s):
        for row in range(grid.y.shape[1]):
            sel = grid.valid[row]
            y = grid.y[s, row, sel]
            if len(y):
                # Running median within the chromosome (edges use the bins available).
                pad = np.pad(y, window // 2, mode="edge")
                view = np.lib.stride_tricks.sliding_window_view(pad, window)
                smooth[s, row, sel] = np.median(view, axis=-1)
    dev = smooth[:, grid.valid] - np.median(smooth[:, grid.valid], axis=1, keepdims=True)
    noise = scales0.min(axis=1) / math.sqrt(window)  # SD of a smoothed bin, roughly
    # The strongest draw: the largest 90th percentile of absolute deviation, in noise SDs.
    strength = np.sort(np.abs(dev), axis=1)[:, int(0.9 * dev.shape[1])] / noise
    ref = int(np.argmax(strength))
    informative = np.abs(dev[ref]) > 2.0 * noise[ref]
    if informative.sum() < 10:
        return np.ones(n_s)
    ratios = np.median(dev[:, informative] / dev[ref, informative], axis=1)
    return np.clip(ratios, 0.02, 1.0)


def _amp_starts(grid: _Grid, scales0: np.ndarray, starts: np.ndarray, n_joint: int,
                st: HmmSettings) -> np.ndarray:
    """Starting copy number of the amplification state for each start: the copy number that puts
    the most raised run of >= 3 consecutive bins more than 3 noise SDs above the median (a focal
    amplicon) at its level given the start's TF; a typical focal amplification (3 x max_copy)
    when no sample has such a run. Without this, a low-TF start begins with an amplification
    state far below the amplicon, the amplicon goes to c = 3 and TF runs off to explain it."""
    best = None
    for s in range(n_joint):
        y = np.where(grid.valid, grid.y[s], -np.inf)
        cut = np.median(grid.y[s][grid.valid]) + 3.0 * float(scales0[s].min())
        high = y > cut
        for row in range(high.shape[0]):
            run = 0
            for i in range(high.shape[1] + 1):
                if i < high.shape[1] and high[row, i]:
                    run += 1
                    continue
                if run >= 3:
                    level = float(np.median(y[row, i - run:i]))
                    if best is None or level > best:
                        best = level
                run = 0
    out = np.full(len(starts), 3.0 * st.max_copy)
    if best is None:
        return out
    for i, (t0, p0) in enumerate(starts):
        # 2(1-t) + C t = 2**level * (2(1-t) + p t)
        c = (2.0 ** best * (2.0 * (1.0 - t0) + p0 * t0) - 2.0 * (1.0 - t0)) / t0
        out[i] = float(np.clip(c, st.max_copy + 1, 200.0))
    return out


def _sample_result(model: _Model, grid: _Grid, s: int, params: list, log_e_joint: np.ndarray,
                   ll_joint: float, path: np.ndarray, gamma: np.ndarray,
                   starts_table: pd.DataFrame, iterations: int, in_joint: bool
                   ) -> TumourFractionFit:
    """Interval, LLR, states and summary of sample ``s`` given every sample's parameters."""
    st = model.s
    t_s, phi_s, amp_s, sc_s = params[s]
    mu_s = model.means(np.array(t_s), np.array(phi_s), amp_s)  # (K,)
    # In the profile the amplification state keeps this sample's fitted level: a focal
    # amplification says nothing about the genome-wide TF (see the module docstring).
    amp_level = float(mu_s[-1]) if st.amp_state else None
    own = model.log_emission_sample(s, mu_s[None], np.asarray(sc_s)[None])[0]
    # Everything but this sample: the joint emissions of the path samples, minus its own share.
    other = log_e_joint - own if in_joint else log_e_joint
    ll_hat = ll_joint if in_joint else float(
        model.forward_backward((other + own)[None], posteriors=False)[0][0])
    inflation = _inflation(grid, s, sc_s, mu_s[path], st)
    profile = _tf_profile(model, grid, s, params[s], mu_s, path, other, amp_level)
    t_grid, prof_ll = profile["tumour_fraction"].to_numpy(), profile["loglik"].to_numpy()
    ll_max = max(float(ll_hat), float(prof_ll.max()))
    if not in_joint:
        # A conditional sample's estimate is the profile maximum (it took no part in the EM).
        t_s = float(t_grid[int(np.argmax(prof_ll))])
    tf_lower, tf_upper = _profile_interval(t_grid, prof_ll, ll_max, inflation, t_s, st.ci_level)
    ll_zero = float(prof_ll[np.argmin(np.abs(t_grid))])
    llr = max(0.0, (ll_max - ll_zero) / inflation)
    states = _state_table(model, grid, s, path, gamma, mu_s)
    altered_fraction, ploidy_path = _path_copy_numbers(states)
    return TumourFractionFit(
        tumour_fraction=float(t_s),
        tf_lower=tf_lower,
        tf_upper=tf_upper,
        ploidy=ploidy_path,
        ploidy_fit=float(phi_s),
        loglik=ll_max,
        llr=float(llr),
        altered_fraction=altered_fraction,
        inflation=float(inflation),
        scales=dict(zip(grid.class_names, (float(v) for v in sc_s))),
        amp_log2=amp_level,
        amp_copy=float(amp_s) if st.amp_state else None,
        n_bins=int(grid.valid.sum()),
        iterations=iterations,
        states=states,
        profile=profile,
        starts=starts_table,
        settings=st,
    )


def _inflation(grid: _Grid, s: int, scales: np.ndarray, fitted: np.ndarray,
               st: HmmSettings) -> float:
    """Variance inflation ``(1 + r1) / (1 - r1)`` from the lag-1 autocorrelation of sample
    ``s``'s standardised residuals around its fitted path (1 when switched off)."""
    bin_scale = (np.asarray(scales)[grid.cls] * grid.rel_scale[s])
    resid = np.where(grid.valid, (grid.y[s] - fitted) / bin_scale, 0.0)
    rho = _lag1_autocorrelation(resid, grid.valid)
    inflation = 1.0
    if st.inflate_for_autocorrelation:
        rho = min(max(rho, 0.0), 0.9)
        inflation = (1.0 + rho) / (1.0 - rho)
    return inflation


def _tf_profile(model: _Model, grid: _Grid, s: int, params: tuple, mu_s: np.ndarray,
                path: np.ndarray, other: np.ndarray, amp_level: float | None) -> pd.DataFrame:
    """Profile log-likelihood of sample ``s`` along a grid of TF (columns tumour_fraction,
    ploidy, loglik): the most common copy-number state keeps its fitted level, the scales and
    the other samples' emissions (``other``) stay at their estimates."""
    st = model.s
    t_s, phi_s, amp_s, sc_s = params
    cn_path = path[grid.valid]
    cn_only = cn_path[cn_path < model.k_cn]
    neutral_idx = int(np.flatnonzero(model.copies == NEUTRAL_COPY)[0])
    modal_idx = (int(np.bincount(cn_only, minlength=model.k_cn).argmax()) if len(cn_only)
                 else neutral_idx)
    modal = int(model.copies[modal_idx])
    level = float(mu_s[modal_idx])
    lo_t, hi_t = st.tf_bounds
    t_grid = np.unique(np.concatenate([np.arange(0.0, hi_t + 1e-9, st.profile_step), [t_s]]))
    t_grid = t_grid[(t_grid >= lo_t) & (t_grid <= hi_t)]
    phi_grid = _ploidy_keeping_level(t_grid, modal, level, phi_s, st.ploidy_bounds)
    prof_ll = np.empty(len(t_grid))
    chunk = max(1, int(4e6 // max(1, grid.valid.size * model.k)))
    for i in range(0, len(t_grid), chunk):
        sl = slice(i, i + chunk)
        n = len(t_grid[sl])
        mu = model.means(t_grid[sl], phi_grid[sl], amp_s,
                         None if amp_level is None else np.full(n, amp_level))
        e = model.log_emission_sample(s, mu, np.tile(sc_s, (n, 1))) + other[None]
        prof_ll[sl], _ = model.forward_backward(e, posteriors=False)
    return pd.DataFrame({"tumour_fraction": t_grid, "ploidy": phi_grid, "loglik": prof_ll})


def _profile_interval(t_grid: np.ndarray, prof_ll: np.ndarray, ll_max: float, inflation: float,
                      t_hat: float, ci_level: float) -> tuple[float, float]:
    """The TF values whose inflated deviance stays within the chi-square(1) quantile, widened
    to include the estimate ``t_hat``."""
    dev = 2.0 * (ll_max - prof_ll) / inflation
    crit = float(special.chdtri(1, 1.0 - ci_level))  # chi-square(1) quantile; 3.84 for 95%
    inside = t_grid[dev <= crit]
    tf_lower = float(inside.min()) if len(inside) else t_hat
    tf_upper = float(inside.max()) if len(inside) else t_hat
    return min(tf_lower, t_hat), max(tf_upper, t_hat)


def _state_table(model: _Model, grid: _Grid, s: int, path: np.ndarray, gamma: np.ndarray,
                 mu_s: np.ndarray) -> pd.DataFrame:
    """Sample ``s``'s bins in input order with the path's state, its expected log2 and the
    state's posterior probability (:class:`TumourFractionFit` ``states``)."""
    flat_path = path.reshape(-1)[grid.order]
    post = np.take_along_axis(gamma, path[..., None], axis=-1)[..., 0]
    states = grid.table[["chromosome", "start", "end", "bin_class"]].copy()
    states["log2"] = grid.y[s].reshape(-1)[grid.order]
    states["state"] = model.state_copy[flat_path]
    states["amp"] = flat_path >= model.k_cn
    states["expected_log2"] = mu_s[flat_path]
    states["posterior"] = post.reshape(-1)[grid.order]
    return states[["chromosome", "start", "end", "log2", "bin_class", "state", "amp",
                   "expected_log2", "posterior"]]


def _path_copy_numbers(states: pd.DataFrame) -> tuple[float, float]:
    """Altered fraction and length-weighted mean copy number (ploidy) of the path's
    copy-number bins (the amplification state left out)."""
    span = (states["end"] - states["start"]).to_numpy(float).clip(min=1.0)
    cn_bins = ~states["amp"].to_numpy()
    altered = cn_bins & (states["state"].to_numpy() != NEUTRAL_COPY)
    altered_fraction = float(span[altered].sum() / span[cn_bins].sum()) if cn_bins.any() else 0.0
    ploidy_path = float((states["state"].to_numpy()[cn_bins] * span[cn_bins]).sum()
                        / span[cn_bins].sum()) if cn_bins.any() else float(NEUTRAL_COPY)
    return altered_fraction, ploidy_path


def _ploidy_keeping_level(t_grid: np.ndarray, modal: int, level: float, phi_hat: float,
                          bounds: tuple[float, float]) -> np.ndarray:
    """Ploidy for each ``t`` such that state ``modal`` keeps the log2 level ``level``:
    2(1-t) + phi t = (2(1-t) + modal t) / 2**level."""
    t = np.asarray(t_grid, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        phi = ((2.0 * (1.0 - t) + modal * t) / 2.0 ** level - 2.0 * (1.0 - t)) / t
    phi = np.where(t > 0, phi, phi_hat)
    return np.clip(phi, *bounds)


# ----------------------------------------------------------------------------------------------
# Detection


@dataclass(frozen=True)
class DetectionSettings:
    """A sample's TF is reported (``tf_detected``) when ``llr >= min_llr`` and the altered fraction
    of the genome is ``>= min_altered_fraction``. ``source`` says where the values came from."""

    min_llr: float = 14.0
    min_altered_fraction: float = 0.02
    source: str = "default"

    @classmethod
    def from_config(cls, section: dict, joint: bool = False) -> "DetectionSettings":
        """The floor from the config's ``cnv.detection`` mapping: ``min_llr``, or with ``joint``
        ``min_llr_joint`` (fits on a state path other draws defined), and
        ``min_altered_fraction``."""
        return cls(min_llr=section["min_llr_joint" if joint else "min_llr"],
                   min_altered_fraction=section["min_altered_fraction"],
                   source="config cnv.detection (joint)" if joint else "config cnv.detection")

    def detected(self, llr: float, altered_fraction: float) -> bool:
        return bool(llr >= self.min_llr and altered_fraction >= self.min_altered_fraction)

    def as_dict(self) -> dict:
        return asdict(self)


def calibrate(normal_llr: list[float] | np.ndarray, floor: DetectionSettings,
              margin: float = 1.5) -> DetectionSettings:
    """Detection threshold on the LLR from tumour-free samples (normals, healthy plasma), each
    fitted against a reference that leaves it out.

    ``min_llr`` becomes the larger of the configured floor and ``margin`` times the largest LLR
    seen in a tumour-free sample, so every one of them reads as not detected and a new sample has
    to look clearly worse than the worst of them to be called. The altered-fraction floor is not
    calibrated: healthy samples can have a sizeable "altered" fraction of tiny amplitude that
    the likelihood does not support (27 healthy donors of ichorCNA's panel: up to 14%, with LLR
    below 10), so it only guards against calls resting on a sliver of the genome."""
    llr = np.asarray(normal_llr, float)
    llr = llr[np.isfinite(llr)]
    if not len(llr):
        return replace(floor, source=f"{floor.source} (no tumour-free samples to calibrate on)")
    return DetectionSettings(
        min_llr=float(max(floor.min_llr, margin * llr.max())),
        min_altered_fraction=floor.min_altered_fraction,
        source=f"calibrated on {len(llr)} tumour-free samples (margin {margin:g})",
    )
