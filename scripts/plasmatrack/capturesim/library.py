"""Library preparation: fragment-length distributions, per-sample GC bias and capture efficiency.

Two preps: cfDNA (plasma; nucleosomal fragments, no shearing) and sheared genomic DNA (the
matched buffy-coat normal). Capture efficiency per target is a property of the probe, shared by
every sample of one prep, with a prep-specific part and a small per-sample jitter."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MAX_LEN = {"plasma": 600, "sheared": 800}
GC_GRID = np.linspace(0.0, 1.0, 201)  # GC bias curves are tabulated on this grid


@dataclass
class LengthModel:
    """A fragment-length pmf over lengths 0..len(pmf)-1 and its mean."""

    pmf: np.ndarray

    @property
    def mean(self) -> float:
        return float(np.dot(np.arange(len(self.pmf)), self.pmf))

    @property
    def mode(self) -> int:
        return int(self.pmf.argmax())

    def draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.choice(len(self.pmf), size=n, p=self.pmf).astype(np.int64)


def _skewed_peak(x: np.ndarray, mode: float, left_sd: float, right_sd: float) -> np.ndarray:
    sd = np.where(x < mode, left_sd, right_sd)
    return np.exp(-0.5 * ((x - mode) / sd) ** 2)


def nucleosomal(rng: np.random.Generator, tumour: bool) -> LengthModel:
    """cfDNA lengths: a mono-nucleosome peak (mode ~167 bp, tumour-derived ~145 bp) with a
    10.4-bp periodicity below it (DNase cutting on the nucleosome's helical face), a
    di-nucleosome peak (~5% of fragments, ~3% for tumour) and a thin floor."""
    x = np.arange(MAX_LEN["plasma"] + 1, dtype=float)
    mode = rng.normal(145, 2) if tumour else rng.normal(167, 1.5)
    mono = _skewed_peak(x, mode, 28 if tumour else 20, 13)
    # Troughs between the 10.4-bp peaks (the peaks stay on the envelope, so the mode stays).
    depth = 0.5 if tumour else 0.35
    wave = 1 - depth * (1 - np.cos(2 * np.pi * (x - mode) / 10.4)) / 2
    mono *= np.where(x < mode - 5, wave, 1.0)
    di = _skewed_peak(x, 2 * mode + 10, 30, 35)
    pmf = mono / mono.sum() + (0.03 if tumour else 0.05) * di / di.sum()
    pmf += 0.002 * (x >= 40) / (x >= 40).sum()
    pmf[x < 35] = 0
    return LengthModel(pmf / pmf.sum())


def sheared(rng: np.random.Generator) -> LengthModel:
    """Sonicated genomic DNA: broad lognormal lengths, median 250-320 bp (sdlog 0.28-0.38)."""
    x = np.arange(MAX_LEN["sheared"] + 1, dtype=float)
    median, sdlog = rng.uniform(250, 320), rng.uniform(0.28, 0.38)
    with np.errstate(divide="ignore"):
        dens = np.exp(-0.5 * ((np.log(x) - np.log(median)) / sdlog) ** 2) / np.maximum(x, 1)
    dens[x < 50] = 0
    return LengthModel(dens / dens.sum())


@dataclass
class GCBias:
    """Relative sequencing yield of a fragment by its GC fraction, tabulated on GC_GRID and scaled
    to a maximum of 1 (used directly as an acceptance probability). ``strength`` is the ratio of
    highest to lowest yield over 35-60% GC; ``shape`` names the curve family."""

    weight: np.ndarray
    strength: float
    shape: str

    def __call__(self, gc: np.ndarray) -> np.ndarray:
        return self.weight[np.rint(gc * (len(GC_GRID) - 1)).astype(np.int64)]


def gc_bias(rng: np.random.Generator, strength: float | None = None) -> GCBias:
    """A random smooth GC curve: a random polynomial (linear to cubic) in GC, or a logistic drop
    at high GC (PCR's loss of GC-rich fragments), or an AT-dropout rise at low GC; its log is
    scaled so that max/min over 35-60% GC equals ``strength`` (default: drawn from 1.5-4)."""
    if strength is None:
        strength = float(rng.uniform(1.5, 4.0))
    x = GC_GRID - 0.475
    shape = str(rng.choice(["polynomial", "high_gc_drop", "low_gc_drop"], p=[0.5, 0.3, 0.2]))
    if shape == "polynomial":
        coef = rng.normal(0, 1, 3) * np.array([1.0, 8.0, 40.0])
        log_w = coef[0] * x + coef[1] * x ** 2 + coef[2] * x ** 3
    elif shape == "high_gc_drop":
        mid, width = rng.uniform(0.48, 0.60), rng.uniform(0.02, 0.06)
        log_w = -np.logaddexp(0, (GC_GRID - mid) / width)
    else:
        mid, width = rng.uniform(0.36, 0.46), rng.uniform(0.02, 0.06)
        log_w = -np.logaddexp(0, (mid - GC_GRID) / width)
    inside = (GC_GRID >= 0.35) & (GC_GRID <= 0.60)
    span = log_w[inside].max() - log_w[inside].min()
    log_w = log_w * (np.log(strength) / max(span, 1e-9))
    # Outside 35-60% keep the curve's trend but bounded, so that rare extreme fragments neither
    # dominate nor vanish completely.
    top = log_w[inside].max()
    log_w = np.clip(log_w, top - np.log(strength) - np.log(3.0), top)
    weight = np.exp(log_w - log_w.max())
    return GCBias(weight, strength, shape)


def probe_efficiency(rng: np.random.Generator, n_targets: int, sdlog: float = 0.65) -> np.ndarray:
    """Per-target capture efficiency of the probes (lognormal, median 1): shared by every prep."""
    return np.exp(rng.normal(0, sdlog, n_targets))


def prep_efficiency(rng: np.random.Generator, probe: np.ndarray,
                    prep_sdlog: float = 0.3) -> np.ndarray:
    """A library prep's per-target efficiency: the probe's times a prep-specific lognormal factor
    (hybridisation conditions, fragment length and input differ between preps)."""
    return probe * np.exp(rng.normal(0, prep_sdlog, len(probe)))


def sample_efficiency(rng: np.random.Generator, prep: np.ndarray,
                      jitter_sdlog: float = 0.1) -> np.ndarray:
    """One sample's per-target efficiency: the prep's with a small lognormal jitter."""
    return prep * np.exp(rng.normal(0, jitter_sdlog, len(prep)))
