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

log = logging.getLogger(__name__)

FLAT_WARNING = ("flat reference: no normal samples to build a panel of normals; copy ratios "
                "carry capture and GC biases, treat calls with caution")
LOO_FLAT_WARNING = ("flat reference for this normal: no other normal sample to leave it out "
                    "against")


def build_reference(target_cnns: list[str | os.PathLike], antitarget_cnns: list[str | os.PathLike],
                    fasta: str | os.PathLike | None, haploid_x: bool = False,
                    female: bool | None = None, do_gc: bool = True, do_edge: bool = True,
                    do_rmask: bool = True):
    """Pooled CNVkit reference (``cnvlib.reference.do_reference``) from coverage files of the
    pool samples (same order in both lists). ``female`` None: CNVkit infers each sample's sex."""
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
    return reference.do_reference(
        [str(p) for p in target_cnns], anti_arg, str(fasta) if fasta else None,
        is_haploid_x_reference=haploid_x, female_samples=female, do_gc=do_gc, do_edge=do_edge,
        do_rmask=do_rmask,
    )


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


def fix_sample(target_cnn, antitarget_cnn, refarr, do_gc: bool = True, do_edge: bool = True,
               do_rmask: bool = True):
    """CNVkit ``fix``: the sample's bin log2 ratios against the reference, GC/edge/RepeatMasker
    corrected, weighted and centred. Arguments are CopyNumArrays or paths to .cnn files."""
    from cnvlib import fix
    from cnvlib.cmdutil import read_cna
    from cnvlib.cnary import CopyNumArray

    def load(item):
        if isinstance(item, (str, os.PathLike)):
            if not Path(item).stat().st_size:
                return CopyNumArray.from_rows([], meta_dict={"sample_id": Path(item).stem})
            return read_cna(str(item))
        return item

    tgt = load(target_cnn)
    anti = load(antitarget_cnn)
    if not len(anti):
        anti = tgt[:0]
    return fix.do_fix(tgt, anti, refarr, do_gc=do_gc, do_edge=do_edge, do_rmask=do_rmask)
