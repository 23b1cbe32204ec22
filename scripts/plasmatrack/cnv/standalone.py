"""``plasmatrack cnv`` outside the pipeline: the same steps as the rules, run in one process for
one sample (and its normals) from a BAM, or the analysis part alone from a CNVkit ``.cnr``."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from pathlib import Path

import pandas as pd

from ..errors import InputError
from ..io import write_tsv
from .call import CallSettings, PoolMember, ReferenceInputs, SampleOutputs
from .pipeline import (analyse_sample, fit_samples, fix_and_analyse, make_reference, read_cnr,
                       samples_frame, split_patient, summarise)
from .summary import SummaryOutputs, SummarySettings
from .tumour_fraction import HmmSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StandaloneInputs:
    """The sample's data: a BAM (with the FASTA, the capture panel unless whole-genome, and
    normal BAMs or a reference ``.cnn``) or a CNVkit ``.cnr``; the genes BED to call."""

    bam: str | None = None
    cnr: str | None = None
    fasta: str | None = None
    panel: str | None = None
    genes: str | None = None
    normal_bams: tuple[str, ...] = ()
    reference_cnn: str | None = None
    # identity_samples.tsv of a pipeline run (a normal's ID is its file name before the first
    # dot): normals that failed identity or are contaminated are left out, as in the pipeline
    identity: str | None = None


@dataclass(frozen=True)
class StandaloneSettings:
    """Command-line choices of ``plasmatrack cnv`` (no config section: the pipeline takes these
    from ``cnv``): bin size (bp), mapping quality, fragment size selection (min, max bp),
    segmentation, the HMM and whether to plot."""

    bin_size: int = 100_000
    min_mapq: int = 20
    size_selection: tuple[int, int] | None = None
    segment_method: str = "haar"
    plot: bool = False
    hmm: HmmSettings | None = None


@dataclass
class _Run:
    """What one run gathers for the fit and the summary: the sample, then its normals
    (tumour-free: they calibrate detection), each with its bins and info row."""

    out: Path
    sample_id: str
    patient_id: str
    method: str = ""
    normal_ids: list[str] = field(default_factory=list)
    cnrs: dict[str, pd.DataFrame] = field(default_factory=dict)
    infos: dict[str, dict] = field(default_factory=dict)
    lengths: dict[str, pd.DataFrame] = field(default_factory=dict)

    @property
    def ids(self) -> list[str]:
        return [self.sample_id, *self.normal_ids]

    def prefix(self, sid: str) -> Path:
        """Where a sample's files go: the sample's in the output folder, normals' in normals/."""
        return self.out / sid if sid == self.sample_id else self.out / "normals" / sid

    def samples(self) -> pd.DataFrame:
        rows = [{"sample_id": s, "patient_id": self.patient_id,
                 "sample_type": "plasma" if s == self.sample_id else "normal",
                 "timepoint_days": None} for s in self.ids]
        return samples_frame(rows)


def checked_id(value: str, what: str) -> str:
    """``value`` if it is a safe identifier (it becomes part of file names), else InputError."""
    from ..ids import id_problem

    problem = id_problem(value)
    if problem:
        raise InputError(f"{what}: {problem} (give --sample-id / --patient-id)")
    return value


def run_standalone(out_dir: Path, sample_id: str, inputs: StandaloneInputs,
                   patient_id: str | None = None,
                   settings: StandaloneSettings = StandaloneSettings(),
                   summary: SummarySettings = SummarySettings()) -> pd.DataFrame:
    """Run and write everything for ``sample_id``; return the tumour-fraction table."""
    sid = checked_id(sample_id, "sample ID")
    run = _Run(Path(out_dir), sid, checked_id(patient_id or sid, "patient ID"))
    run.out.mkdir(parents=True, exist_ok=True)
    inputs = _with_identity(inputs, sid)
    if inputs.cnr:
        _analyse_cnr(run, inputs, settings)
    else:
        _call_bams(run, inputs, settings)
    _fit_alone(run, settings.hmm)
    ids = run.ids
    table, _ = summarise(run.samples(), {s: f"{run.prefix(s)}.tf.tsv" for s in ids},
                         {s: f"{run.prefix(s)}.gene_stats.tsv" for s in ids}, run.normal_ids,
                         summary, SummaryOutputs.in_folder(run.out))
    if settings.plot:
        from .plot import plot_sample

        plot_sample(table, sid, f"{run.prefix(sid)}.hmm_states.tsv", run.out / f"{sid}.cnv.png")
    return table


def _normal_id(path: str) -> str:
    """A normal BAM's sample ID: its file name before the first dot."""
    return checked_id(Path(path).name.split(".")[0], "normal ID")


def _with_identity(inputs: StandaloneInputs, sample_id: str) -> StandaloneInputs:
    """``inputs`` without the normal BAMs that sample identity (``inputs.identity``) keeps out
    of the pipeline's reference and calibration (failed or contaminated: the rules
    ``cnv_reference`` and ``cnv_summary``); each one dropped, and the sample itself when it
    failed identity, is logged as a warning."""
    if not inputs.identity:
        return inputs
    from ..qc.identity_exclusion import read_left_out, read_reference_left_out

    failed = read_left_out(inputs.identity)
    if sample_id in failed:
        log.warning("%s: %s; its copy number is another person's", sample_id, failed[sample_id])
    unfit = read_reference_left_out(inputs.identity)
    kept = []
    for path in inputs.normal_bams:
        if _normal_id(path) in unfit:
            log.warning("%s: %s; it does not calibrate detection either", _normal_id(path),
                        unfit[_normal_id(path)])
        else:
            kept.append(path)
    return replace(inputs, normal_bams=tuple(kept))


def _analyse_cnr(run: _Run, inputs: StandaloneInputs, settings: StandaloneSettings) -> None:
    """The sample's given ``.cnr``, copied, segmented and analysed."""
    sid = run.sample_id
    out = SampleOutputs.beside(run.prefix(sid))
    table = read_cnr(inputs.cnr)
    write_tsv(table, out.cnr)
    run.cnrs[sid] = table
    run.infos[sid] = analyse_sample(table, sid, out, inputs.genes,
                                    CallSettings(segment_method=settings.segment_method),
                                    reference_label="given .cnr")
    run.method = "hmm:cnr"


def _call_bams(run: _Run, inputs: StandaloneInputs, settings: StandaloneSettings) -> None:
    """Bins, coverage, panel of normals and the fix of the sample and each normal."""
    from .coverage import make_bins

    if inputs.reference_cnn and inputs.normal_bams:
        raise InputError("give either --reference or --normal-bam, not both")
    out = run.out
    bins = {k: str(out / "bins" / f"{k}.bed") for k in ("targets", "antitargets", "access")}
    (out / "bins").mkdir(exist_ok=True)
    make_bins(inputs.fasta, bins["targets"], bins["antitargets"], bins["access"],
              panel_bed=inputs.panel, genes_bed=inputs.genes, bin_size=settings.bin_size,
              antitarget_avg_size=settings.bin_size)
    cov = _coverage(run, inputs, bins, settings)
    pool = tuple(PoolMember(n, *cov[n]) for n in run.normal_ids)
    ref_path = inputs.reference_cnn or str(out / "reference.cnn")
    if not inputs.reference_cnn:
        make_reference([m.target_cnn for m in pool], [m.antitarget_cnn for m in pool],
                       inputs.fasta, bins["targets"], bins["antitargets"], ref_path)
    run.method = f"hmm:{'panel' if inputs.panel else 'wgs'}"
    reference = ReferenceInputs(inputs.fasta, bins["targets"], bins["antitargets"], ref_path,
                                pool)
    (out / "normals").mkdir(exist_ok=True)
    for nid in run.ids:
        called = fix_and_analyse(nid, *cov[nid], reference,
                                 SampleOutputs.beside(run.prefix(nid)), inputs.genes,
                                 CallSettings(segment_method=settings.segment_method))
        run.infos[nid] = called.analysis.info
        run.cnrs[nid] = called.cnr


def _coverage(run: _Run, inputs: StandaloneInputs, bins: dict[str, str],
              settings: StandaloneSettings) -> dict[str, tuple[str, str]]:
    """Target and antitarget coverage (and, without size selection, fragment lengths) of the
    sample's BAM and each normal BAM; adds the normals to ``run``."""
    from .coverage import sample_coverage
    from .fragments import sample_fragment_lengths

    folder = run.out / "coverage"
    folder.mkdir(exist_ok=True)
    cov = {}
    for path in [inputs.bam, *inputs.normal_bams]:
        nid = run.sample_id if path == inputs.bam else _normal_id(path)
        if path != inputs.bam:
            run.normal_ids.append(nid)
        cov[nid] = (str(folder / f"{nid}.targetcoverage.cnn"),
                    str(folder / f"{nid}.antitargetcoverage.cnn"))
        sample_coverage(path, bins["targets"], bins["antitargets"], *cov[nid], sample_id=nid,
                        min_mapq=settings.min_mapq, size_range=settings.size_selection)
        if not settings.size_selection:
            run.lengths[nid] = sample_fragment_lengths(
                path, bins["targets"], bins["antitargets"],
                folder / f"{nid}.fragment_lengths.tsv", settings.min_mapq)
    return cov


def _fit_alone(run: _Run, hmm: HmmSettings | None) -> None:
    """The HMM fits and state paths of the sample and its normals, each in its own files."""
    # Sample and normals are each fitted alone (free state path), so the normals' LLRs calibrate
    # detection in the same terms as the sample's.
    all_fits = str(run.out / "fits.tsv")
    all_states = str(run.out / "hmm_states_long.tsv")
    fit_samples(run.cnrs, run.infos, [], run.ids, hmm, run.method, all_fits, all_states,
                run.lengths or None)
    for nid in run.ids:
        prefix = run.prefix(nid)
        split_patient(all_fits, all_states, nid, f"{prefix}.tf.tsv", f"{prefix}.hmm_states.tsv")
