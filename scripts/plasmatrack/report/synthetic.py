"""Realistic stage tables built in code, in the published layout, for any number of patients.

Used by the report tests (unit and browser) and by the report benchmark's 200-patient cohort, so
the pages can be exercised at scale without running the pipeline. The numbers follow the models of
SCIENCE.md (PCN = 2(1-TF) + CN*TF, VAF = TF*CCF*m / (TF*CN + 2(1-TF)), binomial counts), but
they are stand-ins for the stages' outputs, not a simulation of reads.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..io import write_tsv

CONTIGS = [("chr1", 3_000_000), ("chr3", 2_500_000), ("chr6", 2_000_000), ("chr8", 2_500_000),
           ("chr11", 2_000_000), ("chr17", 3_000_000), ("chr20", 1_500_000)]
GENES = [("chr1", 400_000, 460_000, "MTOR"), ("chr3", 900_000, 980_000, "PIK3CA"),
         ("chr6", 1_000_000, 1_100_000, "ESR1"), ("chr8", 1_200_000, 1_240_000, "MYC"),
         ("chr11", 600_000, 640_000, "CCND1"), ("chr17", 1_000_000, 1_040_000, "ERBB2"),
         ("chr17", 2_200_000, 2_220_000, "TP53"), ("chr20", 300_000, 340_000, "ASXL1")]
HOTSPOTS = [("PIK3CA", "H1047R"), ("PIK3CA", "E545K"), ("ESR1", "D538G"), ("TP53", "R175H"),
            ("TP53", "R273H"), ("ERBB2", "L755S"), ("MTOR", "S2215Y")]
BIN = 50_000


@dataclass
class SyntheticRun:
    root: Path
    results: Path
    samples: Path
    clinical: Path
    genes_bed: Path

    def stage_data(self, **kwargs):
        """The report's view of this run (sheets and genes BED given; ``kwargs`` go to
        :meth:`~plasmatrack.report.sources.Sources.from_results_dir`, e.g. ``config``)."""
        from .sources import Sources, StageData

        return StageData(Sources.from_results_dir(
            self.results, samples_sheet=self.samples, clinical_sheet=self.clinical,
            genes_bed=self.genes_bed, **kwargs))


def _fragment_hist(rng, tf: float, normal: bool) -> pd.DataFrame:
    lengths = np.arange(30, 701)
    if normal:
        dens = np.exp(-0.5 * ((lengths - 260) / 80) ** 2)
    else:
        healthy = np.exp(-0.5 * ((lengths - 167) / 14) ** 2) + \
            0.12 * np.exp(-0.5 * ((lengths - 334) / 25) ** 2)
        tumour = np.exp(-0.5 * ((lengths - 150) / 16) ** 2)
        dens = (1 - tf) * healthy + tf * tumour
        # 10 bp periodicity below 150 bp
        dens *= 1 + 0.15 * np.cos(2 * np.pi * (lengths - 167) / 10.4) * (lengths < 150)
    counts = rng.poisson(dens / dens.sum() * 200_000)
    return pd.DataFrame({"length": lengths, "count": counts})


def _bins(cn_of) -> pd.DataFrame:
    rows = []
    for chrom, size in CONTIGS:
        for start in range(0, size, BIN):
            end = min(start + BIN, size)
            gene = next((g for c, s, e, g in GENES if c == chrom and e > start and s < end),
                        "Antitarget")
            rows.append((chrom, start, end, gene, cn_of(chrom, start)))
    return pd.DataFrame(rows, columns=["chromosome", "start", "end", "gene", "cn"])


@dataclass
class _Patient:
    """One synthetic patient's design: plasma draw days and true tumour fractions, ERBB2 copy
    number (2 when not amplified), time to treatment failure (months) and best response."""

    index: int
    pid: str
    amplified: bool
    ttf: float
    event: int
    base_tf: float
    erbb2_cn: float
    days: list[int]
    tfs: list[float]
    response: str

    def tumour_cn(self, chrom: str, start: int) -> float:
        """Tumour copy number at a bin start: ERBB2 amplicon, a 1q-like gain and an 8p-like
        loss on a diploid genome."""
        if chrom == "chr17" and 900_000 <= start < 1_150_000:
            return self.erbb2_cn
        if chrom == "chr1" and start >= 1_500_000:
            return 3.0
        if chrom == "chr8" and start < 1_000_000:
            return 1.0
        return 2.0

    def samples(self) -> list[tuple[str, str, int | None, float]]:
        """(sample_id, sample_type, day, true TF): the normal, then the plasma draws."""
        return [(f"{self.pid}_N", "normal", None, 0.0)] + \
            [(f"{self.pid}_D{k + 1}", "plasma", d, t)
             for k, (d, t) in enumerate(zip(self.days, self.tfs))]


TableRows = dict[str, list[dict]]  # table name -> its rows, appended patient by patient


def write_synthetic_results(root: Path | str, n_patients: int = 6, seed: int = 1,
                            draws: int = 3, clinical: bool = True,
                            hostile_text: str | None = None,
                            stage_survival: bool = False) -> SyntheticRun:
    """Write sheets, genes BED and every published stage table for ``n_patients`` patients under
    ``root`` (results in ``root/results``). ``hostile_text``, when given, is put into free-text
    fields (cancer_type, a protein change, an event description) to test escaping.
    ``stage_survival``: the burden groups and the survival tables come from the cohort stage's
    own code (:mod:`plasmatrack.cohort.outcome`, default settings) instead of the quick
    lifelines stand-in, so a test can compare a page with exactly what the pipeline writes."""
    rng = np.random.default_rng(seed)
    root = Path(root)
    results = root / "results"
    root.mkdir(parents=True, exist_ok=True)
    (root / "genes.bed").write_text("".join(f"{c}\t{s}\t{e}\t{g}\n" for c, s, e, g in GENES))
    rows: TableRows = defaultdict(list)
    for i in range(n_patients):
        _add_patient(rng, i, draws, hostile_text, rows, results)
    _write_tables(rows, root, results, clinical, stage_survival)
    return SyntheticRun(root=root, results=results, samples=root / "samples.tsv",
                        clinical=root / "clinical.tsv", genes_bed=root / "genes.bed")


def _add_patient(rng, i: int, draws: int, hostile_text: str | None, rows: TableRows,
                 results: Path) -> None:
    """One patient's rows of every table (and its per-sample files). The random draws come in
    a fixed order, so a seed gives the same tables."""
    hostile = hostile_text if (hostile_text and i == 0) else None
    patient = _design_patient(rng, i, draws)
    rows["clinical"].append(_clinical_row(rng, patient, hostile))
    bins = _bins(patient.tumour_cn)
    variants = _variants(rng, patient, hostile)
    ccf = _clone_ccf(rng, len(patient.days))
    for sample in patient.samples():
        _add_sample(rng, patient, sample, bins, variants, ccf, rows, results)
    rows["clusters"] += _cluster_rows(patient, variants)
    rows["tree"] += _tree_rows(patient)
    rows["prevalence"] += _prevalence_rows(patient, ccf)
    rows["events"].append(_event_row(patient, variants, hostile))
    rows["burden"].append(_burden_row(patient))
    rows["dynamics"].append(_dynamics_row(patient))


def _design_patient(rng, i: int, draws: int) -> _Patient:
    amplified = i % 3 != 2
    ttf = float(rng.weibull(1.3) * 8 + 0.8)
    event = int(rng.random() > 0.18)
    base_tf = float(np.exp(rng.uniform(np.log(0.01), np.log(0.45))))
    erbb2_cn = float(rng.uniform(8, 25)) if amplified else 2.0
    days = [int(rng.integers(-14, 1)), int(rng.integers(28, 64))]
    days += [max(int(ttf * 30.4375), days[1] + 14) + k * 30 for k in range(max(0, draws - 2))]
    tfs = [base_tf, base_tf * rng.uniform(0.05, 0.6)] + \
        [base_tf * rng.uniform(0.6, 1.6) for _ in range(max(0, draws - 2))]
    response = ("CR", "PR", "SD", "PD")[min(3, int(rng.integers(0, 3) + base_tf * 4))]
    return _Patient(i, f"P{i + 1:03d}", amplified, ttf, event, base_tf, erbb2_cn, days, tfs,
                    response)


def _clinical_row(rng, p: _Patient, hostile: str | None) -> dict:
    return {"patient_id": p.pid, "ttf_months": round(p.ttf, 2), "ttf_event": p.event,
            "os_months": round(p.ttf + rng.uniform(2, 14), 2),
            "os_event": int(rng.random() > 0.5), "best_response": p.response,
            "her2_status": "amplified" if p.amplified else "mutant",
            "cancer_type": hostile or "breast", "age": int(rng.integers(35, 80))}


def _variants(rng, p: _Patient, hostile: str | None) -> list[tuple]:
    """(category, clone, chrom, pos 1-based, gene, protein change) of the tracked variants:
    6-10 somatic in clones 1 (trunk), 2 and 3 (emerging), four germline, one CHIP."""
    n_somatic = int(rng.integers(6, 11))
    variants = []
    for v in range(n_somatic):
        clone = "1" if v < 4 else ("2" if v < n_somatic - 1 else "3")
        gene, change = HOTSPOTS[v % len(HOTSPOTS)] if v in (0, n_somatic - 1) else \
            (GENES[v % len(GENES)][3], "")
        if hostile and v == 1:
            change = hostile
        chrom, gs, ge, _ = next(g for g in GENES if g[3] == gene)
        variants.append(("somatic", clone, chrom, int(rng.integers(gs, ge)) + 1, gene, change))
    for v in range(4):
        chrom, gs, ge, gene = GENES[int(rng.integers(0, len(GENES)))]
        variants.append(("germline", "", chrom, int(rng.integers(gs, ge)) + 1, gene, ""))
    variants.append(("chip", "", "chr20", 310_001 + p.index, "ASXL1", ""))
    return variants


def _clone_ccf(rng, n_draws: int) -> dict[str, list[float]]:
    """Cancer cell fraction of clones 1-3 per plasma draw."""
    ccf = {"1": [1.0] * n_draws, "2": [float(rng.uniform(0.3, 0.7))] * n_draws,
           "3": [0.0] + [float(rng.uniform(0.0, 0.1))] + [float(rng.uniform(0.3, 0.8))]
           * max(0, n_draws - 2)}
    ccf["3"] = ccf["3"][:n_draws]
    # clones 2 and 3 are siblings under the trunk: together at most the whole tumour
    ccf["2"] = [min(c2, 1.0 - c3) for c2, c3 in zip(ccf["2"], ccf["3"])]
    return ccf


def _add_sample(rng, p: _Patient, sample: tuple, bins: pd.DataFrame, variants: list[tuple],
                ccf: dict[str, list[float]], rows: TableRows, results: Path) -> None:
    """One sample's rows (sheet, QC, and for plasma copy number, TF and genes; variants)."""
    sid, stype, day, tf = sample
    rows["samples"].append({"sample_id": sid, "patient_id": p.pid, "sample_type": stype,
                         "timepoint_days": "" if day is None else day,
                         "fastq_1": f"fastq/{sid}_R1.fastq.gz",
                         "fastq_2": f"fastq/{sid}_R2.fastq.gz"})
    rows["qc"].append(_qc_row(rng, p, sample, results))
    if stype == "plasma":
        _write_copy_number(rng, p, sid, tf, bins, results)
        tf_est = max(0.0, tf + rng.normal(0, 0.01))
        rows["tf"].append(_tf_row(p, sample, tf_est))
        rows["snv"].append(_snv_row(rng, p, sample))
        rows["genes"] += _gene_rows(rng, p, sample, tf_est)
    rows["variants"] += _variant_rows(rng, p, sample, variants, ccf)


def _qc_row(rng, p: _Patient, sample: tuple, results: Path) -> dict:
    """qc_summary.tsv row; writes the sample's fragment-length histogram. Every seventh
    patient's on-treatment draws fail on depth."""
    sid, stype, day, tf = sample
    hist = _fragment_hist(rng, tf, stype == "normal")
    write_tsv(hist, results / "qc" / p.pid / f"{sid}.fragment_lengths.tsv")
    dup = float(rng.uniform(0.05, 0.25))
    fails = []
    depth = float(rng.normal(1100, 200))
    if p.index % 7 == 3 and stype == "plasma" and day is not None and day > 0:
        depth, fails = 60.0, ["mean on-target depth 60 < 100"]
    mode = int(hist.loc[hist["count"].idxmax(), "length"])
    return {"sample_id": sid, "patient_id": p.pid, "sample_type": stype,
            "timepoint_days": day, "total_reads": int(rng.integers(150_000, 250_000)),
            "mapped_fraction": round(float(rng.uniform(0.97, 0.995)), 4),
            "properly_paired_fraction": round(float(rng.uniform(0.93, 0.98)), 4),
            "duplicate_rate": round(dup, 4), "fragment_mode": mode,
            "fragment_median": mode - 2,
            "short_fraction": round(0.1 + tf * 0.3, 4),
            "on_target_fraction": round(float(rng.uniform(0.4, 0.6)), 4),
            "mean_on_target_depth": round(depth, 1),
            "qc_pass": not fails, "qc_reason": "; ".join(fails)}


def _write_copy_number(rng, p: _Patient, sid: str, tf: float, bins: pd.DataFrame,
                       results: Path) -> None:
    """The draw's CNVkit-like .cnr (noisy bin log2 ratios) and .cns (one segment per run of
    equal copy number)."""
    log2 = np.log2((2 * (1 - tf) + bins["cn"] * tf) / 2) + rng.normal(0, 0.08, len(bins))
    cnr = bins.drop(columns="cn").assign(log2=log2.round(4), depth=500.0, weight=1.0)
    write_tsv(cnr, results / "cnv" / p.pid / f"{sid}.cnr")
    seg = (bins.assign(run=(bins["cn"].diff() != 0).cumsum()
                       + bins["chromosome"].ne(bins["chromosome"].shift()).cumsum())
           .groupby("run").agg(chromosome=("chromosome", "first"),
                               start=("start", "min"), end=("end", "max"),
                               cn=("cn", "first")))
    seg["log2"] = np.log2((2 * (1 - tf) + seg["cn"] * tf) / 2).round(4)
    seg["gene"] = "-"
    write_tsv(seg[["chromosome", "start", "end", "gene", "log2"]],
              results / "cnv" / p.pid / f"{sid}.cns")


def _tf_row(p: _Patient, sample: tuple, tf_est: float) -> dict:
    """tumour_fraction.tsv row of the estimate ``tf_est``, detected above 0.03."""
    sid, _, day, _ = sample
    detected = tf_est > 0.03
    return {"sample_id": sid, "patient_id": p.pid, "timepoint_days": day,
            "tumour_fraction": round(tf_est if detected else 0.0, 4),
            "tf_lower": round(max(0, tf_est - 0.02), 4),
            "tf_upper": round(tf_est + 0.02, 4), "ploidy": 2.1,
            "tf_detected": detected, "method": "hmm"}


def _snv_row(rng, p: _Patient, sample: tuple) -> dict:
    """snv_tumour_fraction.tsv row: the true TF within 15%."""
    sid, _, day, tf = sample
    return {"sample_id": sid, "patient_id": p.pid, "timepoint_days": day,
            "tumour_fraction_snv": round(tf * rng.uniform(0.85, 1.15), 4),
            "tf_snv_lower": round(tf * 0.75, 4),
            "tf_snv_upper": round(tf * 1.25 + 0.005, 4), "n_variants": 4}


def _gene_rows(rng, p: _Patient, sample: tuple, tf_est: float) -> list[dict]:
    """genes.tsv rows of one draw (PCN = 2(1-TF) + CN*TF with noise); the tumour copy number
    is estimable only when the TF estimate is detected."""
    sid, _, day, tf = sample
    detected = tf_est > 0.03
    out = []
    for chrom, gs, ge, gene in GENES:
        cn = p.tumour_cn(chrom, gs)
        pcn = 2 * (1 - tf) + cn * tf + rng.normal(0, 0.05)
        est = detected and tf_est > 0.02
        tcn = 2 + (pcn - 2) / tf_est if est else np.nan
        out.append({
            "sample_id": sid, "patient_id": p.pid, "timepoint_days": day,
            "gene": gene, "log2_ratio": round(float(np.log2(pcn / 2)), 4),
            "z_score": round(float((pcn - 2) / 0.05), 2),
            "p_value": 1e-6 if pcn > 2.4 else 0.4,
            "plasma_copy_number": round(float(pcn), 3),
            "tumour_copy_number": round(float(tcn), 2) if est else np.nan,
            "tumour_copy_number_lower": round(float(tcn * 0.8), 2) if est else np.nan,
            "tumour_copy_number_upper": round(float(tcn * 1.2), 2) if est else np.nan,
            "amplified": bool(pcn >= 2.4 and cn > 2)})
    return out


def _variant_rows(rng, p: _Patient, sample: tuple, variants: list[tuple],
                  ccf: dict[str, list[float]]) -> list[dict]:
    """tracked_variants.tsv rows of one sample: binomial alt counts around the expected VAF
    (somatic: TF*CCF / (2TF + 2(1-TF)), germline 0.5, CHIP 0.03)."""
    sid, stype, day, tf = sample
    out = []
    for cat, clone, chrom, pos, gene, change in variants:
        k = 0 if day is None else p.days.index(day)
        if cat == "somatic":
            c = ccf[clone][k] if stype == "plasma" else 0.0
            exp = tf * c / (tf * 2 + 2 * (1 - tf))
        elif cat == "germline":
            exp = 0.5
        else:
            exp = 0.03
        depth = int(rng.integers(700, 1500))
        alt = int(rng.binomial(depth, exp))
        vaf = alt / depth
        half = 1.96 * np.sqrt(max(vaf * (1 - vaf), 1e-6) / depth)
        status = "detected" if alt >= 3 else ("undetermined" if depth * 0.002 < 3
                                              and exp > 0 else "not_detected")
        out.append({"patient_id": p.pid, "sample_id": sid, "sample_type": stype,
                    "timepoint_days": day, "chrom": chrom, "pos": pos, "ref": "C",
                    "alt": "T", "gene": gene, "protein_change": change,
                    "ref_count": depth - alt, "alt_count": alt, "depth": depth,
                    "vaf": round(vaf, 5), "vaf_lower": round(max(0, vaf - half), 5),
                    "vaf_upper": round(vaf + half, 5), "background_rate": 2e-4,
                    "p_value": 1e-8 if alt >= 3 else 0.5, "status": status,
                    "category": cat, "filters": "PASS"})
    return out


def _cluster_rows(p: _Patient, variants: list[tuple]) -> list[dict]:
    return [{"patient_id": p.pid, "chrom": chrom, "pos": pos, "ref": "C", "alt": "T",
             "gene": gene, "cluster_id": clone, "cluster_probability": 0.97}
            for cat, clone, chrom, pos, gene, _ in variants if cat == "somatic"]


_CLONE_PARENTS = (("1", ""), ("2", "1"), ("3", "1"))  # clones 2 and 3 branch off the trunk


def _tree_rows(p: _Patient) -> list[dict]:
    return [{"patient_id": p.pid, "cluster_id": clone, "parent_cluster_id": parent}
            for clone, parent in _CLONE_PARENTS]


def _prevalence_rows(p: _Patient, ccf: dict[str, list[float]]) -> list[dict]:
    """cluster_prevalence.tsv rows: each clone's CCF per draw, +/- 0.08."""
    rows = []
    for clone, _ in _CLONE_PARENTS:
        for k, day in enumerate(p.days):
            c = ccf[clone][k]
            rows.append({"patient_id": p.pid, "cluster_id": clone,
                         "sample_id": f"{p.pid}_D{k + 1}", "timepoint_days": day,
                         "prevalence": round(c, 3),
                         "prevalence_lower": round(max(0, c - 0.08), 3),
                         "prevalence_upper": round(min(1, c + 0.08), 3)})
    return rows


def _event_row(p: _Patient, variants: list[tuple], hostile: str | None) -> dict:
    """events.tsv row: clone 3, led by the last somatic variant's hotspot, emerges."""
    n_somatic = sum(v[0] == "somatic" for v in variants)
    resistance = HOTSPOTS[(n_somatic - 1) % len(HOTSPOTS)]
    return {"patient_id": p.pid, "cluster_id": "3", "event": "emerging",
            "genes": f"{resistance[0]} {resistance[1]}",
            "description": hostile or (f"{resistance[0]} {resistance[1]} clone emerges at "
                                       "progression")}


def _burden_row(p: _Patient) -> dict:
    """her2_burden.tsv row at the first draw: excess ERBB2 copies, or 2 x VAF of the HER2
    mutation for non-amplified patients."""
    pcn0 = 2 * (1 - p.base_tf) + p.erbb2_cn * p.base_tf
    mut_vaf = p.base_tf / 2 if not p.amplified else np.nan
    burden = max(pcn0 - 2, 0) + (2 * mut_vaf if not p.amplified else 0)
    return {"patient_id": p.pid, "baseline_sample_id": f"{p.pid}_D1",
            "timepoint_days": p.days[0], "tumour_fraction": round(p.base_tf, 4),
            "erbb2_plasma_copy_number": round(pcn0, 3),
            "erbb2_excess_copies": round(pcn0 - 2, 3),
            "erbb2_tumour_copy_number": round(p.erbb2_cn, 2),
            "erbb2_amplified": p.amplified,
            "erbb2_mutation_vaf": round(mut_vaf, 4) if not p.amplified else np.nan,
            "her2_burden": round(burden, 4), "her2_burden_metric": "altered_copies",
            "ctdna_detected": bool(p.base_tf > 0.03)}


def _dynamics_row(p: _Patient) -> dict:
    tfs = p.tfs
    ratio = tfs[1] / tfs[0]
    return {"patient_id": p.pid, "baseline_sample_id": f"{p.pid}_D1",
            "on_treatment_sample_id": f"{p.pid}_D2", "on_treatment_day": p.days[1],
            "molecular_response": "response" if ratio <= 0.5 else "stable",
            "molecular_responder": bool(ratio <= 0.5),
            "tf_ratio": round(tfs[1] / tfs[0], 3),
            "tf_log2_fold": round(float(np.log2(tfs[1] / tfs[0])), 3),
            "ctdna_cleared": bool(tfs[1] < 0.01)}


def _write_tables(rows: TableRows, root: Path, results: Path, clinical: bool,
                  stage_survival: bool = False) -> None:
    """The sheets under ``root`` and every stage table under ``results``; the burden table
    carries the clinical columns and a median split, as the cohort stage writes it."""
    write_tsv(pd.DataFrame(rows["samples"]), root / "samples.tsv")
    clinical_df = pd.DataFrame(rows["clinical"])
    # written by hand: sheets are plain TSV without CSV quoting (a '"' is kept as it is)
    with open(root / "clinical.tsv", "w") as handle:
        handle.write("\t".join(clinical_df.columns) + "\n")
        for rec in clinical_df.itertuples(index=False):
            handle.write("\t".join(str(v) for v in rec) + "\n")
    write_tsv(pd.DataFrame(rows["qc"]), results / "qc" / "qc_summary.tsv")
    write_tsv(pd.DataFrame(rows["tf"]), results / "cnv" / "tumour_fraction.tsv")
    genes = pd.DataFrame(rows["genes"])
    write_tsv(genes, results / "cnv" / "genes.tsv")
    write_tsv(genes[genes["gene"] == "ERBB2"], results / "cnv" / "erbb2.tsv")
    write_tsv(pd.DataFrame(rows["variants"]), results / "variants" / "tracked_variants.tsv")
    write_tsv(pd.DataFrame(rows["snv"]), results / "variants" / "snv_tumour_fraction.tsv")
    write_tsv(pd.DataFrame(rows["clusters"]), results / "clonal" / "variant_clusters.tsv")
    write_tsv(pd.DataFrame(rows["prevalence"]), results / "clonal" / "cluster_prevalence.tsv")
    write_tsv(pd.DataFrame(rows["tree"]), results / "clonal" / "tree.tsv")
    write_tsv(pd.DataFrame(rows["events"]), results / "clonal" / "events.tsv")
    burden = pd.DataFrame(rows["burden"]).merge(clinical_df, on="patient_id")
    # the baseline call is the copy-number stage's call of the baseline draw, as in the stage
    called = dict(zip(genes.loc[genes["gene"] == "ERBB2", "sample_id"],
                      genes.loc[genes["gene"] == "ERBB2", "amplified"]))
    burden["erbb2_amplified"] = burden["baseline_sample_id"].map(called)
    median = burden["her2_burden"].median()
    burden.insert(burden.columns.get_loc("her2_burden") + 1, "her2_burden_group",
                  np.where(burden["her2_burden"] > median, "high", "low"))
    dynamics = pd.DataFrame(rows["dynamics"])
    if clinical and stage_survival:
        _write_stage_survival(burden.drop(columns="her2_burden_group"), dynamics, results)
        return
    write_tsv(burden, results / "cohort" / "her2_burden.tsv")
    write_tsv(dynamics, results / "cohort" / "dynamics.tsv")
    if clinical:
        survival, km = _survival_tables(burden)
        write_tsv(survival, results / "cohort" / "survival.tsv")
        write_tsv(km, results / "cohort" / "km_curves.tsv")


def _write_stage_survival(burden: pd.DataFrame, dynamics: pd.DataFrame, results: Path) -> None:
    """her2_burden.tsv with the cohort stage's groups, dynamics.tsv, and the stage's survival
    tables (its code, default settings)."""
    from ..cohort.outcome import assign_burden_groups, cohort_survival
    from ..stats.survival import SurvivalPaths, write_results

    burden, _, _ = assign_burden_groups(burden)
    write_tsv(burden, results / "cohort" / "her2_burden.tsv")
    write_tsv(dynamics, results / "cohort" / "dynamics.tsv")
    write_results(cohort_survival(burden, dynamics), SurvivalPaths.in_folder(results / "cohort"))


def _survival_tables(burden: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """survival.tsv and km_curves.tsv rows computed with lifelines, as the cohort stage does."""
    import warnings

    from lifelines import CoxPHFitter, KaplanMeierFitter
    from lifelines.statistics import logrank_test

    with warnings.catch_warnings(), np.errstate(all="ignore"):
        # tiny synthetic cohorts can separate perfectly; the figures only need numbers
        warnings.simplefilter("ignore")
        return _survival_rows(burden, CoxPHFitter, KaplanMeierFitter, logrank_test)


def _survival_rows(burden, CoxPHFitter, KaplanMeierFitter, logrank_test):

    rows, curves = [], []
    for endpoint, tcol, ecol in (("TTF", "ttf_months", "ttf_event"),
                                 ("OS", "os_months", "os_event")):
        analysis = f"{endpoint} by HER2 burden (median split)"
        hi = burden["her2_burden_group"] == "high"
        lr = logrank_test(burden.loc[hi, tcol], burden.loc[~hi, tcol],
                          burden.loc[hi, ecol], burden.loc[~hi, ecol])
        df = pd.DataFrame({"T": burden[tcol], "E": burden[ecol], "high": hi.astype(int)})
        cph = CoxPHFitter().fit(df, "T", "E")
        hr = float(np.exp(cph.params_["high"]))
        lo, up = np.exp(cph.confidence_intervals_.loc["high"]).to_numpy()
        rows.append({"analysis": analysis, "endpoint": endpoint, "n": len(df),
                     "events": int(df["E"].sum()), "grouping": "median", "cutpoint":
                     float(burden["her2_burden"].median()), "statistic": float(lr.test_statistic),
                     "test": "log-rank",
                     "p_value": float(lr.p_value), "p_value_adjusted": np.nan,
                     "hazard_ratio": hr, "hr_lower": float(lo), "hr_upper": float(up),
                     "concordance": float(cph.concordance_index_)})
        for group, mask in (("high", hi), ("low", ~hi)):
            km = KaplanMeierFitter().fit(burden.loc[mask, tcol], burden.loc[mask, ecol])
            table = km.event_table
            ci = km.confidence_interval_
            for t in table.index:
                curves.append({"analysis": analysis, "group": group, "time": float(t),
                               "survival": float(km.survival_function_.loc[t].iloc[0]),
                               "ci_lower": float(ci.loc[t].iloc[0]),
                               "ci_upper": float(ci.loc[t].iloc[1]),
                               "at_risk": int(table.loc[t, "at_risk"]),
                               "events": int(table.loc[t, "observed"]),
                               "censored": int(table.loc[t, "censored"])})
    log_b = np.log(burden["her2_burden"].clip(lower=1e-3))
    cph = CoxPHFitter().fit(pd.DataFrame({"T": burden["ttf_months"], "E": burden["ttf_event"],
                                          "log_burden": log_b}), "T", "E")
    lo, up = np.exp(cph.confidence_intervals_.loc["log_burden"]).to_numpy()
    rows.append({"analysis": "TTF Cox per unit log burden", "endpoint": "TTF", "n": len(burden),
                 "events": int(burden["ttf_event"].sum()), "grouping": "continuous",
                 "cutpoint": np.nan, "statistic": np.nan, "test": "Cox (Wald)",
                 "p_value": float(cph.summary.loc["log_burden", "p"]), "p_value_adjusted": np.nan,
                 "hazard_ratio": float(np.exp(cph.params_["log_burden"])),
                 "hr_lower": float(lo), "hr_upper": float(up),
                 "concordance": float(cph.concordance_index_)})
    from scipy.stats import kruskal
    groups = [g["her2_burden"].to_numpy() for _, g in burden.groupby("best_response")]
    p = float(kruskal(*groups).pvalue) if len(groups) > 1 else np.nan
    rows.append({"analysis": "burden_vs_response_kruskal_wallis", "endpoint": "best_response",
                 "n": len(burden), "events": np.nan, "grouping": "best_response",
                 "cutpoint": np.nan, "statistic": np.nan, "test": "Kruskal-Wallis", "p_value": p,
                 "p_value_adjusted": np.nan, "hazard_ratio": np.nan, "hr_lower": np.nan,
                 "hr_upper": np.nan, "concordance": np.nan})
    return pd.DataFrame(rows), pd.DataFrame(curves)
