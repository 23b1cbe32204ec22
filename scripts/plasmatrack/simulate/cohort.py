"""Writing a simulated cohort folder: reference, BEDs, hotspots, sheets, config, FASTQs, truth.

The folder is built in a temporary sibling and renamed into place at the end, so a crash never
leaves a half cohort; ``DIR/.complete`` (JSON) records the parameters, which makes a second call
with the same parameters a no-op and one with other parameters an error unless ``force``."""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError
from ..io import atomic_open
from . import reads, truth, umi
from .design import PatientDesign, SampleDesign, design_cohort, design_dilution
from .annotation import add_protein_truth, write_gff3
from .genome import Genome, build_genome, write_fasta
from .identity import IdentityInjection, inject

FORMAT_VERSION = 1
# SimulateSettings fields added after the first format, with their defaults (see marker()).
LATER_DEFAULTS = {"umi": "none", "umi_length": 8, "umi_family_size": 4.0, "swap": "",
                  "contaminate": ""}
DEFAULT_READ_PAIRS = 120_000


@dataclass(frozen=True)
class SimulateSettings:
    """The parameters that define a cohort (recorded in ``.complete``)."""

    seed: int = 1
    patients: int = 8
    draws: int = 3
    read_pairs: int = DEFAULT_READ_PAIRS
    dilution: bool = False
    healthy_donors: int = 0
    no_reads: bool = False
    # a UMI library (simulate/umi.py)
    umi: str = "none"
    umi_length: int = 8
    umi_family_size: float = 4.0
    # sample swaps and contaminations (simulate/identity.py): "A:B,..." and "A:B:F,..."
    swap: str = ""
    contaminate: str = ""

    def umi_settings(self) -> umi.UmiSimSettings | None:
        """The UMI library's settings, None without UMIs."""
        if self.umi == "none":
            return None
        return umi.UmiSimSettings(mode=self.umi, length=self.umi_length,
                                  family_size=self.umi_family_size)

    def marker(self) -> dict:
        """The parameters as recorded in ``.complete``: the options added after the first format
        only when set, so that a cohort made without them is byte-identical to one made before
        they existed."""
        return {key: value for key, value in asdict(self).items()
                if key not in LATER_DEFAULTS or value != LATER_DEFAULTS[key]}


def _check_params(p: SimulateSettings) -> None:
    problems = []
    if p.patients < 1:
        problems.append(f"--patients must be at least 1 (got {p.patients})")
    if p.patients > 99_999:
        problems.append(f"--patients must be at most 99999 (got {p.patients})")
    if p.draws < 1 or p.draws > 50:
        problems.append(f"--draws must be between 1 and 50 (got {p.draws})")
    if p.read_pairs < 100:
        problems.append(f"--read-pairs must be at least 100 (got {p.read_pairs})")
    if p.healthy_donors < 0 or p.healthy_donors > 99:
        problems.append(f"--healthy-donors must be between 0 and 99 (got {p.healthy_donors})")
    if p.healthy_donors and not p.dilution:
        problems.append("--healthy-donors is for the dilution series (--dilution) only")
    if p.seed < 0:
        problems.append(f"--seed must be a non-negative integer (got {p.seed})")
    problems += umi.UmiSimSettings(mode=p.umi, length=p.umi_length,
                                   family_size=p.umi_family_size).check()
    if (p.swap or p.contaminate) and p.no_reads:
        problems.append("--swap and --contaminate act on reads: not with --no-reads")
    try:
        IdentityInjection.parse(p.swap, p.contaminate)
    except InputError as exc:
        problems.extend(exc.problems)
    if problems:
        raise InputError(problems)


def cohort_state(out: Path, params: SimulateSettings) -> str:
    """'absent', 'same' (finished with these parameters) or a reason the folder is unusable."""
    if not out.exists():
        return "absent"
    marker = out / ".complete"
    if not marker.is_file():
        if out.is_dir() and not any(out.iterdir()):
            return "absent"
        return f"{out} exists but holds no finished cohort (no .complete)"
    try:
        recorded = json.loads(marker.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        return f"{marker}: unreadable ({exc})"
    wanted = asdict(params)
    # a parameter added later is absent from older markers; they were made with its default
    recorded = {**asdict(SimulateSettings()), **recorded}
    if {k: recorded.get(k) for k in wanted} == wanted:
        return "same"
    diff = ", ".join(f"{k}={recorded.get(k)!r} (asked {v!r})" for k, v in wanted.items()
                     if recorded.get(k) != v)
    return f"{out} holds a cohort simulated with other parameters: {diff}"


# the genome is shared with worker processes by fork (copy-on-write), never pickled
_GENOME: Genome | None = None


def sample_input(genome: Genome, patient: PatientDesign, sample: SampleDesign,
                 seed: int, umi_settings: umi.UmiSimSettings | None = None) -> reads.SampleInput:
    """The plain-array input of ``reads.simulate_sample`` for one sample of a designed patient
    (global coordinates; allele probabilities from the sample's clone prevalences;
    ``umi_settings``: a UMI library instead of plain duplicates)."""
    seg = patient.segments
    seg_start = genome.global_pos(seg["chrom"], seg["start"].to_numpy())
    seg_end = genome.global_pos(seg["chrom"], seg["end"].to_numpy())
    v = patient.variants
    _ccf, p_t, p_n = truth.variant_probabilities(patient, sample)
    return reads.SampleInput(
        sample_id=sample.sample_id, sample_type=sample.sample_type,
        tumour_fraction=sample.tumour_fraction, read_pairs=sample.read_pairs,
        duplicate_rate=sample.duplicate_rate, on_target_fraction=sample.on_target_fraction,
        gc_centre=sample.gc_centre, gc_width=sample.gc_width, seg_start=seg_start,
        seg_end=seg_end, seg_cn=seg["tumour_copy_number"].to_numpy(dtype=np.int64),
        var_pos=genome.global_pos(v["chrom"], v["pos"].to_numpy() - 1),
        var_ref=list(v["ref"]), var_alt=list(v["alt"]), p_tumour=p_t, p_normal=p_n,
        seed=[seed, 0x4EAD, patient.index, sample.index], umi=umi_settings,
    )


def noisy_arrays(genome: Genome) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The noisy sites as (global 0-based positions, alt bases as ASCII codes, error rates)."""
    n = genome.noisy
    return (genome.global_pos(n["chrom"], n["pos"].to_numpy() - 1),
            np.frombuffer("".join(n["alt"]).encode(), dtype=np.uint8).copy(),
            n["error_rate"].to_numpy(dtype=float))


def _run_sample(job: tuple[reads.SampleInput, str, str, str | None]) -> tuple[str, dict]:
    inp, r1, r2, umi_truth = job
    assert _GENOME is not None
    stats = reads.simulate_sample(_GENOME, inp, noisy_arrays(_GENOME), r1, r2, umi_truth)
    return inp.sample_id, stats


def _target_arrays(genome: Genome) -> tuple[np.ndarray, np.ndarray]:
    t = genome.targets
    return (t["end"] - t["start"]).to_numpy(dtype=float), t["efficiency"].to_numpy(dtype=float)


def expected_library(genome: Genome, patient: PatientDesign, sample: SampleDesign) -> dict:
    """Design-level library figures, for cohorts simulated without reads."""
    normal_pmf = reads.sheared_pmf() if sample.sample_type == "normal" else reads.cfdna_pmf(False)
    tumour_pmf = reads.cfdna_pmf(True)
    t_len, eff = _target_arrays(genome)
    mu_n = float((reads.LENGTHS * normal_pmf).sum())
    mu_t = float((reads.LENGTHS * tumour_pmf).sum())
    tf = sample.tumour_fraction
    mass_t = tf * patient.ploidy / mu_t
    mass_n = 2 * (1 - tf) / mu_n
    w_t = mass_t / (mass_t + mass_n)
    mix = (1 - w_t) * normal_pmf + w_t * tumour_pmf
    n_uniq = sample.read_pairs - int(round(sample.read_pairs * sample.duplicate_rate))
    n_on = n_uniq * sample.on_target_fraction
    mu = float((reads.LENGTHS * mix).sum())
    cover = float((np.minimum(reads.LENGTHS, 2 * reads.READ_LENGTH) * mix).sum())
    # fragments covering a base of target k ~ its share of captured fragments * cover / window,
    # the window being shortened by the minimum overlap capture needs (reads.capture_probability)
    window = t_len + mu - (reads.CAPTURE_MIN_OVERLAP + reads.CAPTURE_FULL_OVERLAP)
    share = eff * window / (eff * window).sum()
    depth = n_on * share * cover / window
    return dict(read_pairs=sample.read_pairs,
                duplicate_rate=int(round(sample.read_pairs * sample.duplicate_rate))
                / sample.read_pairs,
                position_duplicate_rate=float("nan"), tumour_fragment_fraction=w_t,
                fragment_mode=reads.pmf_mode(mix),
                fragment_median=float(reads.LENGTHS[np.searchsorted(np.cumsum(mix), 0.5)]),
                on_target_fraction=sample.on_target_fraction,
                median_on_target_depth=float(np.median(depth)))


def _config_text(healthy: list[str] | None = None, umi_mode: str = "none") -> str:
    """The cohort's config.yaml; ``healthy``: healthy-donor plasma draws (the dilution series),
    which then make its panel of normals on their own; ``umi_mode``: the reads' UMI library."""
    umi_text = "" if umi_mode == "none" else (
        "umi:\n"
        "  # the UMI ends every read name (BCL Convert style; docs/simulator.md, UMI mode)\n"
        f"  mode: {umi_mode}\n"
        "  source: read_name\n")
    cnv = "" if not healthy else (
        "cnv:\n"
        "  # healthy-donor plasma: the panel of normals (plasma against plasma; docs/cnv.md)\n"
        f"  healthy_plasma: [{', '.join(healthy)}]\n"
        "  reference_pool: healthy\n")
    return (
        "# plasmatrack config of a simulated cohort (plasmatrack simulate); paths are relative\n"
        "# to this file. Truth tables for the accuracy checks are in truth/.\n"
        "samples: samples.tsv\n"
        "clinical: clinical.tsv\n"
        "reference:\n"
        "  fasta: reference/genome.fa\n"
        "panel: panel.bed\n"
        "genes: genes.bed\n"
        "hotspots: hotspots.tsv\n"
        "annotation: annotation.gff3\n"
        "her2_gene: ERBB2\n"
        "truth: truth\n"
        + cnv + umi_text
    )


def _column_text(series: pd.Series) -> list[str]:
    values = series.to_numpy(dtype=object)
    if series.dtype.kind == "f":
        return ["" if x != x else f"{x:.6g}" for x in values.tolist()]
    return ["" if x is None or x is pd.NA or (isinstance(x, float) and x != x) else str(x)
            for x in values.tolist()]


def write_table(frame: pd.DataFrame, path: Path) -> None:
    """Write a TSV atomically as ``plasmatrack.io.write_tsv`` does (floats as %.6g, missing
    values empty), about three times faster for the 10^5-10^6-row truth tables of big cohorts."""
    cols = [_column_text(frame[c]) for c in frame.columns]
    with atomic_open(path) as handle:
        handle.write("\t".join(frame.columns) + "\n")
        if len(frame):
            handle.write("\n".join(map("\t".join, zip(*cols))) + "\n")


def _write_bed(frame: pd.DataFrame, path: Path) -> None:
    with atomic_open(path) as handle:
        frame.to_csv(handle, sep="\t", header=False, index=False)


def write_cohort_files(tmp: Path, genome: Genome, patients: list[PatientDesign], seed: int,
                       no_reads: bool, threads: int, log=print,
                       umi_settings: umi.UmiSimSettings | None = None,
                       injection: IdentityInjection | None = None) -> dict[str, dict]:
    """Write everything under ``tmp``; returns the per-sample library figures. ``injection``:
    swaps and contaminations applied to the finished reads (truth/identity.tsv)."""
    (tmp / "reference").mkdir(parents=True, exist_ok=True)
    write_fasta(genome, tmp / "reference" / "genome.fa")
    _write_bed(genome.genes[["chrom", "start", "end", "name"]], tmp / "genes.bed")
    _write_bed(genome.exons, tmp / "exons.bed")
    _write_bed(genome.targets[["chrom", "start", "end", "name"]], tmp / "panel.bed")
    write_table(genome.hotspots, tmp / "hotspots.tsv")
    write_gff3(genome, tmp / "annotation.gff3")

    sheet = []
    for p in patients:
        for s in p.samples:
            sheet.append(dict(sample_id=s.sample_id, patient_id=p.patient_id,
                              sample_type=s.sample_type, timepoint_days=s.timepoint_days,
                              fastq_1=f"fastq/{s.sample_id}_R1.fastq.gz",
                              fastq_2=f"fastq/{s.sample_id}_R2.fastq.gz"))
    sheet_df = pd.DataFrame(sheet)
    sheet_df["timepoint_days"] = sheet_df["timepoint_days"].astype("Int64")
    write_table(sheet_df, tmp / "samples.tsv")
    write_table(truth.clinical_table(patients), tmp / "clinical.tsv")
    with atomic_open(tmp / "config.yaml") as handle:
        handle.write(_config_text([s.sample_id for p in patients if p.her2_status == "healthy"
                                   for s in p.samples],
                                  umi_settings.mode if umi_settings else "none"))

    if injection:
        injection.check(sheet_df)  # before minutes of reads, not after
    library: dict[str, dict] = {}
    if not no_reads:
        (tmp / "fastq").mkdir(exist_ok=True)
        if umi_settings:
            (tmp / "truth" / "umi").mkdir(parents=True)
        global _GENOME
        _GENOME = genome
        jobs = []
        for p in patients:
            for s in p.samples:
                jobs.append((sample_input(genome, p, s, seed, umi_settings),
                             str(tmp / "fastq" / f"{s.sample_id}_R1.fastq.gz"),
                             str(tmp / "fastq" / f"{s.sample_id}_R2.fastq.gz"),
                             str(tmp / "truth" / "umi" / s.sample_id) if umi_settings else None))
        # biggest first keeps both workers busy to the end
        jobs.sort(key=lambda j: -j[0].read_pairs)
        t0 = time.time()
        if threads > 1 and len(jobs) > 1:
            ctx = multiprocessing.get_context("fork")
            with ctx.Pool(min(threads, len(jobs))) as pool:
                for sid, stats in pool.imap_unordered(_run_sample, jobs):
                    library[sid] = stats
        else:
            for job in jobs:
                sid, stats = _run_sample(job)
                library[sid] = stats
        _GENOME = None
        log(f"simulated reads of {len(jobs)} samples in {time.time() - t0:.1f} s")

    expected = {s.sample_id: expected_library(genome, p, s) for p in patients for s in p.samples}
    tdir = tmp / "truth"
    tdir.mkdir(exist_ok=True)
    write_table(truth.samples_table(patients, library if library else None, expected),
                tdir / "samples.tsv")
    write_table(add_protein_truth(genome, truth.variants_table(patients)), tdir / "variants.tsv")
    write_table(truth.clones_table(patients), tdir / "clones.tsv")
    write_table(truth.segments_table(patients), tdir / "segments.tsv")
    write_table(truth.patients_table(patients), tdir / "patients.tsv")
    write_table(truth.noisy_table(genome), tdir / "noisy_sites.tsv")
    if umi_settings and library:
        rows = [library[s.sample_id]["umi"] for p in patients for s in p.samples]
        write_table(pd.DataFrame(rows, columns=umi.SUMMARY_COLUMNS), tdir / "umi_samples.tsv")
    if injection:
        write_table(inject(tmp / "fastq", sheet_df, injection, seed), tdir / "identity.tsv")
    return library


def simulate_cohort(out: str | os.PathLike, params: SimulateSettings, force: bool = False,
                    threads: int = 2, log=print) -> Path:
    """Simulate a cohort into ``out`` (see the module docstring for idempotence rules)."""
    _check_params(params)
    out = Path(out).resolve()
    state = cohort_state(out, params)
    if state == "same" and not force:
        log(f"{out}: a finished cohort with these parameters is already there; nothing to do")
        return out
    if state not in ("absent", "same") and not force:
        raise InputError(f"{state}; refusing to overwrite it (use --force to replace it)")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    try:
        t0 = time.time()
        genome = build_genome(params.seed)
        if params.dilution:
            patients = design_dilution(genome, params.seed, params.read_pairs,
                                       params.healthy_donors)
        else:
            patients = design_cohort(genome, params.seed, params.patients, params.draws,
                                     params.read_pairs)
        injection = IdentityInjection.parse(params.swap, params.contaminate)
        write_cohort_files(tmp, genome, patients, params.seed, params.no_reads, threads, log,
                           params.umi_settings(), injection)
        marker = dict(params.marker(), format_version=FORMAT_VERSION,
                      samples=sum(len(p.samples) for p in patients))
        (tmp / ".complete").write_text(json.dumps(marker, indent=2, sort_keys=True) + "\n")
        if out.exists():
            trash = out.parent / f".{out.name}.old-{os.getpid()}"
            os.replace(out, trash)
            os.replace(tmp, out)
            shutil.rmtree(trash, ignore_errors=True)
        else:
            os.replace(tmp, out)
        log(f"{out}: simulated {len(patients)} patients, "
            f"{sum(len(p.samples) for p in patients)} samples in {time.time() - t0:.1f} s")
        return out
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
