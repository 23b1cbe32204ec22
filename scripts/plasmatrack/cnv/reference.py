"""The panel of normals: a pooled CNVkit reference, and the "fix" step that normalises a sample
against it.

Which samples make the pool (docs/cnv.md has the reasoning and the measurement): by default the
cohort's normal samples (buffy coat) plus any healthy-donor plasma named in the config. CNVkit's
``fix`` corrects each sample's own GC (and RepeatMasker) bias against the reference's per-bin GC,
so the remaining difference between sheared genomic DNA and cfDNA is the per-bin capture/coverage
pattern, which the pooled normals share with plasma far better than a flat reference does. Normal
samples themselves are normalised against a reference that leaves them out (leave-one-out), so
that their profiles are honest noise for calibrating tumour-fraction detection and gene z-scores.

With no pool at all the reference is flat (every bin expected equal), with a warning that the
tables carry (``warning`` column) and the reports show.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from ..errors import InputError
from ..io import atomic_path
from .coverage import OFF_TARGET_NAMES, SEX_CHROMOSOMES

log = logging.getLogger(__name__)

FLAT_WARNING = ("flat reference: no normal samples to build a panel of normals; copy ratios "
                "carry capture and GC biases, treat calls with caution")
LOO_FLAT_WARNING = ("flat reference for this normal: no other normal sample to leave it out "
                    "against")


def build_reference(target_cnns: list[str | os.PathLike], antitarget_cnns: list[str | os.PathLike],
                    fasta: str | os.PathLike | None, haploid_x: bool = False,
                    female: bool | None = None, do_gc: bool = True, do_edge: bool = True,
                    do_rmask: bool = True, pool_corrections: bool = True,
                    shrink: bool = False,
                    noise_members: tuple[list, list] | None = None):
    """Pooled CNVkit reference (``cnvlib.reference.do_reference``) from coverage files of the
    pool samples (same order in both lists). ``female`` None: CNVkit infers each sample's sex.

    ``pool_corrections`` (config ``cnv.reference_correction``): True (``cnvkit``; CNVkit's own
    behaviour, this function's default) corrects each pool member's coverage for GC, target
    edges and repeats before pooling. False (``none``, the pipeline's default) pools the coverage
    as it is and still stores GC and RepeatMasker content: the reference then matches samples
    fixed with ``bias="robust"``, which corrects the ratio after subtraction. With corrected pool members under a robust-fixed
    sample, the members' per-target correction factors (rolling medians over ~10-target windows,
    edge factors of dense targets) stay in every sample's target ratios as a shared pattern:
    on the dilution series r = 0.87 between two tumour-free draws and log2 SD 0.25 per target,
    against r = 0.53 and 0.13 with ``none``, and ERBB2 at TF 0.02 was missed (docs/cnv.md,
    "Reference correction").

    ``shrink`` (config ``cnv.reference_shrinkage``; only with ``pool_corrections`` False): the
    pooled bins' deviations from the reference's GC / length curves are shrunk towards those
    curves by how much of them the members' sampling noise explains
    (:func:`shrink_reference`). ``noise_members``: (target, antitarget) coverage files whose
    spread gives that noise (default: the pool itself; a leave-one-out panel passes the whole
    panel so that a one-member pool can be shrunk too)."""
    from cnvlib import reference

    if len(target_cnns) != len(antitarget_cnns):
        raise InputError("reference: target and antitarget coverage lists differ in length")
    if not target_cnns:
        raise InputError("reference: no coverage files given")
    antis = [str(p) for p in antitarget_cnns if Path(p).stat().st_size]
    # CNVkit wants all antitarget files or none (whole-genome designs have none).
    anti_arg = [str(p) for p in antitarget_cnns] if len(antis) == len(antitarget_cnns) else None
    if anti_arg is not None and not _has_rows(anti_arg[0]):
        anti_arg = None
    corrected = bool(pool_corrections)
    refarr = reference.do_reference(
        [str(p) for p in target_cnns], anti_arg, str(fasta) if fasta else None,
        is_haploid_x_reference=haploid_x, female_samples=female, do_gc=do_gc and corrected,
        do_edge=do_edge and corrected, do_rmask=do_rmask and corrected,
    )
    if not corrected and fasta and len(refarr):
        gc, rmask = reference.get_fasta_stats(refarr, str(fasta))
        refarr["gc"] = gc
        refarr["rmask"] = rmask
    if shrink and not corrected and len(refarr):
        members = noise_members or ([str(p) for p in target_cnns],
                                    [str(p) for p in antitarget_cnns])
        shrink_reference(refarr, members[0], members[1], n_pooled=len(target_cnns),
                         do_gc=do_gc, do_size=do_edge)
    return refarr


def read_cnn(item):
    """A CopyNumArray as given, or read from a .cnn path (an empty file, e.g. a whole-genome
    design's antitarget coverage, gives an empty array)."""
    from cnvlib.cmdutil import read_cna
    from cnvlib.cnary import CopyNumArray

    if isinstance(item, (str, os.PathLike)):
        if not Path(item).stat().st_size:
            return CopyNumArray.from_rows([], meta_dict={"sample_id": Path(item).stem})
        return read_cna(str(item))
    return item


def _member_log2(refarr, target_cnn, antitarget_cnn):
    """A pool member's raw coverage log2 on the reference's rows (NaN where it has none)."""
    import numpy as np
    import pandas as pd

    keys = ["chromosome", "start", "end"]
    parts = [read_cnn(p).data for p in (target_cnn, antitarget_cnn)]
    cov = pd.concat(parts)[keys + ["log2"]].drop_duplicates(keys)
    x = refarr.data[keys].merge(cov, on=keys, how="left")["log2"].to_numpy(float)
    # CNVkit writes log2 of an empty bin as -20
    x[~np.isfinite(x) | (x < -15)] = np.nan
    return x


def shrink_reference(refarr, member_targets: list, member_antitargets: list,
                     n_pooled: int | None = None, do_gc: bool = True, do_size: bool = True
                     ) -> list[dict]:
    """Empirical-Bayes shrinkage of a raw-pooled reference, in place; returns one row per bin
    class (n_members, n_pooled, member noise variance, between-bin variance, shrinkage factor).

    A pooled bin's deviation ``d`` from the reference's smooth GC (and, for targets, length)
    curves is the bin's true bias (capture efficiency, mappability: shared by every sample)
    plus the members' sampling noise, which every sample normalised against the reference
    inherits as a shared error. Per bin class, the noise variance of one member, ``v``, comes
    from the spread between the members (each with its own bias curves removed; median of the
    per-bin variances over the chi-square median, so germline variants of one member do not
    inflate it), the pool's noise is ``v / n_pooled``, the true bias variance is
    ``tau2 = max(0, Var(d) - v / n_pooled)`` (robust variance), and ``d`` is multiplied by
    ``tau2 / (tau2 + v / n_pooled)``: kept whole when the pool is large or the bins' biases
    large, removed when the deviations are noise (a small panel and off-target bins that read
    uniformly). With fewer than two members the noise is unknown and nothing changes. Sex
    chromosomes are left as pooled: their level depends on the members' sexes, which CNVkit's
    pooling accounts for and a between-member spread would not."""
    import numpy as np
    from scipy import stats

    data = refarr.data
    n_members = len(member_targets)
    n_pooled = n_members if n_pooled is None else int(n_pooled)
    if n_members < 2 or n_pooled < 1:
        log.info("reference shrinkage: %d member(s) to measure noise on; not applied", n_members)
        return []
    gc = data["gc"].to_numpy(float) if do_gc and "gc" in data else None
    off = data["gene"].astype(str).isin(OFF_TARGET_NAMES).to_numpy()
    autosome = ~data["chromosome"].astype(str).isin(SEX_CHROMOSOMES).to_numpy()
    classes = [("antitarget", off & autosome), ("target", ~off & autosome)]

    def residual(x):
        x = np.asarray(x, float).copy()
        for _, mask in classes:
            sel = mask & np.isfinite(x)
            if sel.any():
                x[sel] -= np.median(x[sel])
        ok = np.isfinite(x) & autosome
        out = np.full(len(x), np.nan)
        out[ok] = remove_bias_curves(data[ok], x[ok], None if gc is None else gc[ok],
                                     do_size=do_size, quiet=True)
        return out

    members = np.column_stack([residual(_member_log2(refarr, t, a))
                               for t, a in zip(member_targets, member_antitargets)])
    log2 = data["log2"].to_numpy(float).copy()
    dev = residual(log2)
    chi2_median = stats.chi2.median(n_members - 1) / (n_members - 1)
    rows = []
    for name, mask in classes:
        ok = mask & np.isfinite(dev) & np.isfinite(members).all(axis=1)
        if ok.sum() < 20:
            continue
        v_member = float(np.median(np.var(members[ok], axis=1, ddof=1)) / chi2_median)
        v_pool = v_member / n_pooled
        d = dev[ok]
        total = float((1.4826 * np.median(np.abs(d - np.median(d)))) ** 2)
        tau2 = max(0.0, total - v_pool)
        factor = tau2 / (tau2 + v_pool) if tau2 + v_pool > 0 else 1.0
        apply = mask & np.isfinite(dev)
        log2[apply] -= (1.0 - factor) * dev[apply]
        rows.append({"bin_class": name, "bins": int(ok.sum()), "n_members": n_members,
                     "n_pooled": n_pooled, "member_noise_var": v_member,
                     "deviation_var": total, "bias_var": tau2, "factor": factor})
        log.info("reference shrinkage, %s bins (%d): member noise SD %.3f, pooled %d -> "
                 "noise SD %.3f, deviation SD %.3f, bias SD %.3f; deviations x %.2f", name,
                 ok.sum(), v_member ** 0.5, n_pooled, v_pool ** 0.5, total ** 0.5,
                 tau2 ** 0.5, factor)
    data["log2"] = log2
    return rows


def _has_rows(path: str) -> bool:
    with open(path) as handle:
        return sum(1 for _ in zip(range(2), handle)) > 1


def flat_reference(targets_bed: str | os.PathLike, antitargets_bed: str | os.PathLike,
                   fasta: str | os.PathLike | None, haploid_x: bool = False):
    """CNVkit's flat reference: every bin expected at log2 0, GC and RepeatMasker content from the
    FASTA (so ``fix`` can still correct the sample's own GC bias)."""
    from cnvlib import reference

    anti = str(antitargets_bed) if Path(antitargets_bed).stat().st_size else None
    return reference.do_reference_flat(str(targets_bed), anti, str(fasta) if fasta else None,
                                       is_haploid_x_reference=haploid_x)


def write_reference(refarr, path: str | os.PathLike, warning: str = "") -> None:
    """Write a reference .cnn; a warning (flat reference) goes into a ``.warning`` file beside it
    so every later step can carry it into its tables."""
    from skgenome import tabio

    with atomic_path(path) as tmp:
        tabio.write(refarr, str(tmp))
    warn_path = Path(str(path) + ".warning")
    with atomic_path(warn_path) as tmp:
        Path(tmp).write_text(warning + ("\n" if warning else ""))


def read_reference(path: str | os.PathLike):
    """A reference .cnn and its warning text ('' when none)."""
    from cnvlib.cmdutil import read_cna

    if not Path(path).is_file():
        raise InputError(f"{path}: reference .cnn not found")
    warn_path = Path(str(path) + ".warning")
    warning = warn_path.read_text().strip() if warn_path.is_file() else ""
    return read_cna(str(path)), warning


def fix_sample(target_cnn, antitarget_cnn, refarr, bias: str = "robust", do_gc: bool = True,
               do_edge: bool = True, do_rmask: bool = True):
    """CNVkit ``fix``: the sample's bin log2 ratios against the reference, bias-corrected, weighted
    and centred. Arguments are CopyNumArrays or paths to .cnn files.

    ``bias="cnvkit"``: CNVkit's own corrections (rolling medians of the sample's raw coverage
    along GC, target density and RepeatMasker content; what CNVkit's regression case expects).
    ``bias="robust"`` (the pipeline's default): reference subtraction first, then the ratio's
    remaining dependence on GC (and, for targets, on target length, which carries the insert-size
    difference between a buffy-coat reference and cfDNA) removed with robust (bisquare) cubic
    fits. On a small panel CNVkit's rolling windows are ~10 bins
    wide, so an amplicon's dozen targets of similar GC move the window medians and the correction
    subtracts most of the amplification (ERBB2 at 15 copies, TF 0.4: targets read log2 0.2-0.9
    instead of 1.85); the robust fit gives such outliers zero weight."""
    from cnvlib import fix

    tgt = read_cnn(target_cnn)
    anti = read_cnn(antitarget_cnn)
    if not len(anti):
        anti = tgt[:0]
    if bias == "cnvkit":
        return fix.do_fix(tgt, anti, refarr, do_gc=do_gc, do_edge=do_edge, do_rmask=do_rmask)
    if bias != "robust":
        raise InputError(f"bias correction {bias!r}: choose robust or cnvkit")
    fixed = fix.do_fix(tgt, anti, refarr, do_gc=False, do_edge=False, do_rmask=False)
    robust_bias_correction(fixed, refarr, do_gc=do_gc, do_size=do_edge)
    return fixed


def robust_bias_correction(cnarr, refarr, do_gc: bool = True, do_size: bool = True,
                           degree: int = 3) -> None:
    """Remove smooth dependences of the log2 ratio on the reference's GC content and (targets
    only) on bin length, per bin class, in place; then re-centre as CNVkit does.

    Each dependence is a cubic polynomial fitted by iteratively reweighted least squares with
    Tukey's bisquare weights (c = 4.685 robust SDs), so bins of a real copy-number change, an
    amplicon above all, get weight 0 and do not bend the curve. GC bias of cfDNA against a
    buffy-coat reference is unimodal and steep on capture targets (the simulated cohort: -0.55 at
    GC 0.33, +0.3 at 0.5, -0.25 at 0.6), which a cubic follows and a wide local-linear smoother
    does not. Targets named after a gene are weighted 1 / (the gene's number of targets)."""
    data = cnarr.data
    ref = refarr.data[["chromosome", "start", "end"] + (["gc"] if "gc" in refarr else [])]
    merged = data[["chromosome", "start", "end"]].merge(ref, on=["chromosome", "start", "end"],
                                                       how="left")
    gc = merged["gc"].to_numpy(float) if do_gc and "gc" in merged else None
    cnarr.data["log2"] = remove_bias_curves(data, data["log2"].to_numpy(float), gc,
                                            do_size=do_size, degree=degree)
    cnarr.center_all(skip_low=True)


def remove_bias_curves(bins, log2, gc=None, do_size: bool = True, degree: int = 3,
                       quiet: bool = False):
    """``log2`` minus its robust cubic dependences on ``gc`` (both bin classes) and, for
    targets, on log bin length, fitted per bin class in that order (the steps of
    :func:`robust_bias_correction`, which also re-centres). ``bins``: chromosome, start, end,
    gene of the same rows."""
    import numpy as np

    log2 = np.asarray(log2, float).copy()
    genes = bins["gene"].astype(str)
    off_target = genes.isin(OFF_TARGET_NAMES).to_numpy()
    # Each gene counts as one observation in the fits: a gene's targets share a copy number (and,
    # in real and simulated genomes alike, often a GC block), so an amplicon's dozen targets
    # would otherwise pull the curve towards themselves.
    named = (~off_target) & (genes != "-").to_numpy()
    per_gene = genes.map(genes[named].value_counts()).fillna(1.0).to_numpy(float)
    prior = np.where(named, 1.0 / per_gene, 1.0)
    covariates = []
    if gc is not None:
        covariates.append(("gc", np.asarray(gc, float), (True, True)))
    if do_size:
        length = np.log((bins["end"] - bins["start"]).to_numpy(float).clip(min=1.0))
        covariates.append(("length", length, (True, False)))
    for name, x, (on_targets, on_antitargets) in covariates:
        for cls_mask, use in ((~off_target, on_targets), (off_target, on_antitargets)):
            sel = cls_mask & np.isfinite(x) & np.isfinite(log2)
            if not use or sel.sum() < 20 or np.ptp(x[sel]) <= 0:
                continue
            fit = robust_polynomial(x[sel], log2[sel], degree, prior=prior[sel])
            log2[sel] -= fit
            if not quiet:
                log.info("robust %s correction on %d bins: range %.3f", name, sel.sum(),
                         float(np.ptp(fit)))
    return log2


def robust_polynomial(x, y, degree: int = 3, iterations: int = 20, c: float = 4.685,
                      prior=None):
    """Fitted values of a polynomial of y on x by bisquare-weighted least squares (``prior``:
    fixed weights multiplied into the bisquare weights)."""
    import numpy as np

    centre, scale = np.median(x), np.ptp(x) or 1.0
    design = np.vander((x - centre) / scale, degree + 1)
    prior = np.ones(len(y)) if prior is None else np.asarray(prior, float)
    w = prior.copy()
    fit = np.zeros(len(y))
    for _ in range(iterations):
        sw = np.sqrt(w)
        coef, *_ = np.linalg.lstsq(design * sw[:, None], y * sw, rcond=None)
        new_fit = design @ coef
        resid = y - new_fit
        mad = np.median(np.abs(resid - np.median(resid))) * 1.4826 or 1e-6
        u = resid / (c * mad)
        w = prior * np.where(np.abs(u) < 1, (1 - u ** 2) ** 2, 0.0)
        if np.allclose(new_fit, fit, atol=1e-6):
            fit = new_fit
            break
        fit = new_fit
    return fit
