"""Tumour fraction from bin-level copy ratios: an ichorCNA-style hidden Markov model.

The model knows nothing about CNVkit: it takes a table of bins (chromosome, start, end, log2 and
optionally weight and bin_class) so that the pipeline's ``.cnr`` and the WIG path share it.

Model (per sample)
------------------
Hidden states are tumour copy numbers ``c = min_copy .. max_copy`` (1-5 by default: like
ichorCNA's default, no homozygous-deletion state, which would otherwise explain arm-level single-copy
losses at half the TF as whole-arm nullisomy) plus, optionally, one "high-level amplification"
state ``A``. In plasma with tumour fraction ``t`` and tumour ploidy ``phi`` the
expected log2 copy ratio of a bin whose tumour copy number is ``c`` is (ichorCNA, Adalsteinsson et
al. 2017, with ``t = 1 - n``)::

    mu_c(t, phi) = log2( (2 (1 - t) + c t) / (2 (1 - t) + phi t) )

because the copy ratios are centred on the sample's average copy number ``2 (1 - t) + phi t``.
Emissions are Student-t (``df`` degrees of freedom, robust to outlier bins) with one scale per bin
class (capture targets and off-target bins are far from equally noisy), optionally divided by the
square root of each bin's relative weight. The amplification state has a free mean (at least
``mu_max_copy``) so that a focal high-level amplification (ERBB2 at 20 copies) is explained without
dragging ``t`` upwards: ``c = 5`` at ``t = 0.12`` and ``c = 20`` at ``t = 0.02`` give the same ratio,
so such bins carry no information on ``t``.

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

    @classmethod
    def from_config(cls, section: dict | None) -> "HmmSettings":
        """Settings from the config's ``cnv.hmm`` mapping (missing keys keep their defaults)."""
        section = dict(section or {})
        for key in ("tf_starts", "ploidy_starts", "tf_bounds", "ploidy_bounds"):
            if key in section:
                section[key] = tuple(float(v) for v in section[key])
        unknown = set(section) - set(cls.__dataclass_fields__)
        if unknown:
            raise InputError(f"config cnv.hmm: unknown keys {sorted(unknown)}")
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
# Data layout: bins padded into a (chromosomes x longest chromosome) grid so that every chromosome
# is run through the forward-backward recursions at once (a Python loop over the longest
# chromosome instead of over every bin).


@dataclass
class _Grid:
    y: np.ndarray  # (M, L) log2 ratios, 0 where padded
    valid: np.ndarray  # (M, L) bool
    cls: np.ndarray  # (M, L) bin-class index
    rel_scale: np.ndarray  # (M, L) per-bin scale multiplier (1 where unweighted)
    span: np.ndarray  # (M, L) bin length in bp
    order: np.ndarray  # flat positions (into M*L) of the input rows, in input order
    class_names: list[str]


def _prepare(bins: pd.DataFrame, use_weights: bool) -> tuple[pd.DataFrame, _Grid]:
    required = {"chromosome", "start", "end", "log2"}
    missing = required - set(bins.columns)
    if missing:
        raise InputError(f"bin table: missing columns {sorted(missing)}")
    table = bins.copy()
    table["log2"] = pd.to_numeric(table["log2"], errors="coerce")
    keep = np.isfinite(table["log2"].to_numpy(float))
    if "weight" in table:
        weight = pd.to_numeric(table["weight"], errors="coerce").to_numpy(float)
        keep &= np.isfinite(weight) & (weight > 0)
    table = table.loc[keep].reset_index(drop=True)
    if len(table) < 10:
        raise InputError(f"bin table: only {len(table)} usable bins; need at least 10")
    if "bin_class" not in table:
        table["bin_class"] = "bin"
    table["bin_class"] = table["bin_class"].astype(str)
    class_names = sorted(table["bin_class"].unique())
    cls = table["bin_class"].map({c: i for i, c in enumerate(class_names)}).to_numpy()
    rel = np.ones(len(table))
    if use_weights and "weight" in table:
        w = table["weight"].to_numpy(float)
        for i in range(len(class_names)):
            sel = cls == i
            w_rel = w[sel] / np.median(w[sel])
            # Weights only modulate the class scale; the clip stops a few near-zero weights from
            # turning their bins into no-information bins or vice versa.
            rel[sel] = 1.0 / np.sqrt(np.clip(w_rel, 0.2, 5.0))
    chroms = pd.unique(table["chromosome"].astype(str))
    chrom_idx = table["chromosome"].astype(str).map({c: i for i, c in enumerate(chroms)}).to_numpy()
    # Keep genomic order within a chromosome, whatever order the rows came in.
    sort = np.lexsort((table["start"].to_numpy(), chrom_idx))
    table = table.iloc[sort].reset_index(drop=True)
    chrom_idx, cls, rel = chrom_idx[sort], cls[sort], rel[sort]
    counts = np.bincount(chrom_idx, minlength=len(chroms))
    n_chrom, length = len(chroms), int(counts.max())
    pos_in_chrom = np.arange(len(table)) - np.repeat(np.cumsum(counts) - counts, counts)
    flat = chrom_idx * length + pos_in_chrom

    def grid(values, fill):
        out = np.full(n_chrom * length, fill, dtype=np.asarray(values).dtype)
        out[flat] = values
        return out.reshape(n_chrom, length)

    span = (table["end"].to_numpy(float) - table["start"].to_numpy(float)).clip(min=1.0)
    return table, _Grid(
        y=grid(table["log2"].to_numpy(float), 0.0),
        valid=grid(np.ones(len(table), bool), False),
        cls=grid(cls, 0),
        rel_scale=grid(rel, 1.0),
        span=grid(span, 0.0),
        order=flat,
        class_names=class_names,
    )


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


def _t_logpdf(resid: np.ndarray, scale: np.ndarray, df: float) -> np.ndarray:
    const = special.gammaln((df + 1) / 2) - special.gammaln(df / 2) - 0.5 * math.log(df * math.pi)
    z2 = (resid / scale) ** 2
    return const - np.log(scale) - 0.5 * (df + 1) * np.log1p(z2 / df)


class _Model:
    """Fixed parts of the model for one data grid and settings."""

    def __init__(self, grid: _Grid, settings: HmmSettings):
        self.grid = grid
        self.s = settings
        self.copies = np.arange(settings.min_copy, settings.max_copy + 1, dtype=float)
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
        self.pi = rho
        self.log_pi = np.log(rho)
        self.stay = 1.0 - settings.switch_prob
        # The amplification state sits at least this far above c = max_copy (set from the noise
        # scale in fit_tumour_fraction) so that it never competes for ordinary noisy bins.
        self.amp_gap = 0.0

    def means(self, tf: np.ndarray, ploidy: np.ndarray, amp: np.ndarray) -> np.ndarray:
        """(G, K) state means for G parameter sets."""
        mu = expected_log2(tf, ploidy, self.copies)
        if self.s.amp_state:
            floor = mu[:, -1] + self.amp_gap
            mu = np.concatenate([mu, np.maximum(amp, floor)[:, None]], axis=1)
        return mu

    def bin_scales(self, scales: np.ndarray) -> np.ndarray:
        """(G, M, L) per-bin scales from (G, n_classes) class scales."""
        return scales[:, self.grid.cls] * self.grid.rel_scale[None]

    def log_emissions(self, mu: np.ndarray, scales: np.ndarray) -> np.ndarray:
        """(G, M, L, K) log emission densities; 0 at padded positions."""
        resid = self.grid.y[None, :, :, None] - mu[:, None, None, :]
        out = _t_logpdf(resid, self.bin_scales(scales)[..., None], self.s.df)
        out[:, ~self.grid.valid, :] = 0.0
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
        a = emis[:, :, 0, :] * self.pi
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


def _initial_scales(grid: _Grid) -> np.ndarray:
    """Starting noise scale per bin class, from within-chromosome first differences."""
    scales = []
    for i in range(len(grid.class_names)):
        diffs = []
        for row in range(grid.y.shape[0]):
            sel = grid.valid[row] & (grid.cls[row] == i)
            diffs.append(np.diff(grid.y[row, sel] / grid.rel_scale[row, sel]))
        d = np.concatenate(diffs) if diffs else np.array([])
        if len(d) < 3:
            scales.append(0.1)
            continue
        mad = np.median(np.abs(d - np.median(d))) * 1.4826 / math.sqrt(2.0)
        scales.append(float(max(mad, 1e-3)))
    return np.array(scales)


def _m_step(model: _Model, gamma: np.ndarray, tf: float, ploidy: float, amp: float,
            scales: np.ndarray) -> tuple[float, float, float, np.ndarray]:
    """One ECM update for a single parameter set (gamma: (M, L, K))."""
    grid, s = model.grid, model.s
    valid = grid.valid
    y = grid.y[valid]  # (N,)
    gam = gamma[valid]  # (N, K)
    cls = grid.cls[valid]
    rel = grid.rel_scale[valid]
    mu = model.means(np.array([tf]), np.array([ploidy]), np.array([amp]))[0]
    bin_scale = scales[cls] * rel
    resid = y[:, None] - mu[None, :]
    z2 = (resid / bin_scale[:, None]) ** 2
    u = (s.df + 1.0) / (s.df + z2)  # Student-t latent precision weights
    w = gam * u
    # Scales: weighted residual variance per class, relative to each bin's multiplier.
    new_scales = scales.copy()
    for i in range(len(scales)):
        sel = cls == i
        if sel.any():
            num = (w[sel] * (resid[sel] / rel[sel, None]) ** 2).sum()
            new_scales[i] = max(math.sqrt(num / sel.sum()), 1e-4)
    bin_scale = new_scales[cls] * rel
    wk = w / bin_scale[:, None] ** 2
    # The amplification state's mean: weighted mean of its bins (floored at mu_max in means()).
    new_amp = amp
    if s.amp_state and wk[:, -1].sum() > 1e-9:
        new_amp = float((wk[:, -1] * y).sum() / wk[:, -1].sum())
    # The weighted sum of squares in (t, phi) only needs three sums per state.
    wk_cn = wk[:, : model.k_cn]
    s0, s1, s2 = wk_cn.sum(0), (wk_cn * y[:, None]).sum(0), (wk_cn * y[:, None] ** 2).sum(0)
    lo_t, hi_t = max(s.tf_bounds[0], 1e-4), s.tf_bounds[1]
    lo_p, hi_p = s.ploidy_bounds

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
    return new_tf, new_ploidy, new_amp, new_scales


def _em(model: _Model, starts: np.ndarray, scales0: np.ndarray, amp0: float):
    """Run ECM from every start at once (E-steps batched). Returns per-start parameters,
    log-likelihoods and iteration counts."""
    s = model.s
    g = len(starts)
    tf = starts[:, 0].copy()
    ploidy = starts[:, 1].copy()
    amp = np.full(g, amp0)
    scales = np.tile(scales0, (g, 1))
    loglik = np.full(g, -np.inf)
    active = np.ones(g, bool)
    iterations = np.zeros(g, int)
    for _ in range(s.max_iter):
        idx = np.flatnonzero(active)
        if not len(idx):
            break
        mu = model.means(tf[idx], ploidy[idx], amp[idx])
        ll, gamma = model.forward_backward(model.log_emissions(mu, scales[idx]))
        for j, gi in enumerate(idx):
            iterations[gi] += 1
            if np.isfinite(loglik[gi]) and abs(ll[j] - loglik[gi]) <= s.tol * abs(ll[j]):
                active[gi] = False
                loglik[gi] = ll[j]
                continue
            loglik[gi] = ll[j]
            tf[gi], ploidy[gi], amp[gi], scales[gi] = _m_step(
                model, gamma[j], tf[gi], ploidy[gi], amp[gi], scales[gi])
    # Final likelihood at the final parameters (the loop may end right after an M-step).
    mu = model.means(tf, ploidy, amp)
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
    s = settings or HmmSettings()
    table, grid = _prepare(bins, s.use_weights)
    model = _Model(grid, s)
    scales0 = _initial_scales(grid)
    starts = np.array([(t, p) for t in s.tf_starts for p in s.ploidy_starts], float)
    model.amp_gap = 4.0 * float(scales0.min())
    # Start the amplification state at the bins that stand far out (a focal amplification), or
    # out of reach when there are none.
    y_valid = grid.y[grid.valid]
    far = y_valid[y_valid > np.median(y_valid) + 6.0 * float(scales0.max())]
    amp0 = float(np.median(far)) if len(far) else float(y_valid.max() + model.amp_gap)
    tf, ploidy, amp, scales, loglik, iterations = _em(model, starts, scales0, amp0)
    best = int(np.argmax(loglik))
    starts_table = pd.DataFrame({
        "tf_start": starts[:, 0], "ploidy_start": starts[:, 1], "tumour_fraction": tf,
        "ploidy": ploidy, "loglik": loglik, "iterations": iterations,
    })
    t_hat, phi_hat, amp_hat, sc_hat = tf[best], ploidy[best], amp[best], scales[best]

    mu_hat = model.means(np.array([t_hat]), np.array([phi_hat]), np.array([amp_hat]))
    log_e = model.log_emissions(mu_hat, sc_hat[None])
    ll_hat, gamma = model.forward_backward(log_e)
    path = model.viterbi(log_e[0])
    post = np.take_along_axis(gamma[0], path[..., None], axis=-1)[..., 0]

    # Residual autocorrelation -> variance inflation for the interval and the LLR.
    fitted = mu_hat[0][path]
    resid = np.where(grid.valid, (grid.y - fitted) / model.bin_scales(sc_hat[None])[0], 0.0)
    rho = _lag1_autocorrelation(resid, grid.valid)
    inflation = 1.0
    if s.inflate_for_autocorrelation:
        rho = min(max(rho, 0.0), 0.9)
        inflation = (1.0 + rho) / (1.0 - rho)

    # Profile likelihood in t: the most common copy-number state keeps its fitted level.
    cn_path = path[grid.valid]
    cn_only = cn_path[cn_path < model.k_cn]
    neutral_idx = int(np.flatnonzero(model.copies == NEUTRAL_COPY)[0])
    modal_idx = (int(np.bincount(cn_only, minlength=model.k_cn).argmax()) if len(cn_only)
                 else neutral_idx)
    modal = int(model.copies[modal_idx])
    level = float(mu_hat[0][modal_idx])
    lo_t, hi_t = s.tf_bounds
    t_grid = np.unique(np.concatenate([
        np.arange(0.0, hi_t + 1e-9, s.profile_step), [t_hat]]))
    t_grid = t_grid[(t_grid >= lo_t) & (t_grid <= hi_t)]
    phi_grid = _ploidy_keeping_level(t_grid, modal, level, phi_hat, s.ploidy_bounds)
    prof_ll = np.empty(len(t_grid))
    chunk = max(1, int(4e6 // max(1, grid.y.size * model.k)))
    for i in range(0, len(t_grid), chunk):
        sl = slice(i, i + chunk)
        n = len(t_grid[sl])
        mu = model.means(t_grid[sl], phi_grid[sl], np.full(n, amp_hat))
        prof_ll[sl], _ = model.forward_backward(
            model.log_emissions(mu, np.tile(sc_hat, (n, 1))), posteriors=False)
    ll_max = max(float(ll_hat[0]), float(prof_ll.max()))
    dev = 2.0 * (ll_max - prof_ll) / inflation
    crit = float(special.chdtri(1, 1.0 - s.ci_level))  # chi-square(1) quantile; 3.84 for 95%
    inside = t_grid[dev <= crit]
    tf_lower = float(inside.min()) if len(inside) else t_hat
    tf_upper = float(inside.max()) if len(inside) else t_hat
    tf_lower, tf_upper = min(tf_lower, t_hat), max(tf_upper, t_hat)
    ll_zero = float(prof_ll[np.argmin(np.abs(t_grid))])
    llr = max(0.0, (ll_max - ll_zero) / inflation)

    # Outputs per bin, in genomic order.
    flat_path = path.reshape(-1)[grid.order]
    flat_post = post.reshape(-1)[grid.order]
    amp_code = s.max_copy + 1
    states = table[["chromosome", "start", "end", "log2"]].copy()
    states["bin_class"] = table["bin_class"].to_numpy()
    state_copy = np.append(model.copies, amp_code).astype(int) if s.amp_state else \
        model.copies.astype(int)
    states["state"] = state_copy[flat_path]
    states["amp"] = flat_path >= model.k_cn
    states["expected_log2"] = mu_hat[0][flat_path]
    states["posterior"] = flat_post
    span = (states["end"] - states["start"]).to_numpy(float).clip(min=1.0)
    cn_bins = ~states["amp"].to_numpy()
    altered = cn_bins & (states["state"].to_numpy() != NEUTRAL_COPY)
    altered_fraction = float(span[altered].sum() / span[cn_bins].sum()) if cn_bins.any() else 0.0
    ploidy_path = float((states["state"].to_numpy()[cn_bins] * span[cn_bins]).sum()
                        / span[cn_bins].sum()) if cn_bins.any() else float(NEUTRAL_COPY)
    return TumourFractionFit(
        tumour_fraction=float(t_hat),
        tf_lower=tf_lower,
        tf_upper=tf_upper,
        ploidy=ploidy_path,
        ploidy_fit=float(phi_hat),
        loglik=ll_max,
        llr=float(llr),
        altered_fraction=altered_fraction,
        inflation=float(inflation),
        scales=dict(zip(grid.class_names, (float(v) for v in sc_hat))),
        amp_log2=float(mu_hat[0][-1]) if s.amp_state else None,
        n_bins=int(grid.valid.sum()),
        iterations=int(iterations[best]),
        states=states,
        profile=pd.DataFrame({"tumour_fraction": t_grid, "ploidy": phi_grid, "loglik": prof_ll}),
        starts=starts_table,
        settings=s,
    )


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
class DetectionThresholds:
    """A sample's TF is reported (``tf_detected``) when ``llr >= min_llr`` and the altered fraction
    of the genome is ``>= min_altered_fraction``. ``source`` says where the values came from."""

    min_llr: float = 14.0
    min_altered_fraction: float = 0.02
    source: str = "default"

    def detected(self, llr: float, altered_fraction: float) -> bool:
        return bool(llr >= self.min_llr and altered_fraction >= self.min_altered_fraction)

    def as_dict(self) -> dict:
        return asdict(self)


def calibrate(normal_llr: list[float] | np.ndarray, floor: DetectionThresholds,
              margin: float = 1.5) -> DetectionThresholds:
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
    return DetectionThresholds(
        min_llr=float(max(floor.min_llr, margin * llr.max())),
        min_altered_fraction=floor.min_altered_fraction,
        source=f"calibrated on {len(llr)} tumour-free samples (margin {margin:g})",
    )
