"""``plasmatrack cnv`` outside the pipeline: the same steps as the rules, run in one process for
one sample (and its normals) from a BAM, or the analysis part alone from a CNVkit ``.cnr``."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pandas as pd

from ..errors import InputError
from .genes import GeneSettings
from ..io import write_tsv
from .pipeline import (analyse_sample, checked_id, fit_samples, fix_and_analyse, make_reference,
                       read_cnr, samples_frame, split_patient, summarise)
from .tumour_fraction import DetectionThresholds, HmmSettings


def run_standalone(out_dir: Path, sample_id: str, bam: str | None = None, cnr: str | None = None,
                   fasta: str | None = None, panel: str | None = None, genes: str | None = None,
                   her2_gene: str = "ERBB2", normal_bams: list[str] = (),
                   reference_cnn: str | None = None, patient_id: str | None = None,
                   bin_size: int = 100_000, min_mapq: int = 20,
                   size_selection: tuple[int, int] | None = None, segment_method: str = "haar",
                   min_llr: float | None = None, plot: bool = False,
                   hmm: HmmSettings | None = None) -> pd.DataFrame:
    """Run and write everything for ``sample_id``; return the tumour-fraction table."""
    from .coverage import make_bins, sample_coverage
    from .fragments import sample_fragment_lengths

    sid = checked_id(sample_id, "sample ID")
    pid = checked_id(patient_id or sid, "patient ID")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    floor = DetectionThresholds()
    if min_llr is not None:
        floor = replace(floor, min_llr=min_llr, source="--min-llr")
    p = {k: str(out / f"{sid}.{k}") for k in ("cnr", "cns", "seg", "hmm_states.tsv", "tf.tsv",
                                               "gene_stats.tsv", "info.tsv")}
    rows = [{"sample_id": sid, "patient_id": pid, "sample_type": "plasma",
             "timepoint_days": None}]
    fits, stats, tumour_free = {sid: p["tf.tsv"]}, {sid: p["gene_stats.tsv"]}, []
    cnrs, infos, normal_ids, lengths = {}, {}, [], {}
    if cnr:
        table = read_cnr(cnr)
        write_tsv(table, p["cnr"])
        cnrs[sid] = table
        infos[sid] = analyse_sample(table, sid, p["cns"], p["seg"], p["gene_stats.tsv"],
                                    p["info.tsv"], genes, segment_method,
                                    reference_label="given .cnr")
        method = "hmm:cnr"
    else:
        if reference_cnn and normal_bams:
            raise InputError("give either --reference or --normal-bam, not both")
        bins = {k: str(out / "bins" / f"{k}.bed") for k in ("targets", "antitargets", "access")}
        (out / "bins").mkdir(exist_ok=True)
        make_bins(fasta, bins["targets"], bins["antitargets"], bins["access"], panel_bed=panel,
                  genes_bed=genes, bin_size=bin_size, antitarget_avg_size=bin_size)
        cov = {}
        for path in [bam, *normal_bams]:
            nid = sid if path == bam else checked_id(Path(path).name.split(".")[0], "normal ID")
            if path != bam:
                normal_ids.append(nid)
            (out / "coverage").mkdir(exist_ok=True)
            cov[nid] = (str(out / "coverage" / f"{nid}.targetcoverage.cnn"),
                        str(out / "coverage" / f"{nid}.antitargetcoverage.cnn"))
            sample_coverage(path, bins["targets"], bins["antitargets"], *cov[nid], sample_id=nid,
                            min_mapq=min_mapq, size_range=size_selection)
            if not size_selection:
                lengths[nid] = sample_fragment_lengths(
                    path, bins["targets"], bins["antitargets"],
                    out / "coverage" / f"{nid}.fragment_lengths.tsv", min_mapq)
        pool = [(n, *cov[n]) for n in normal_ids]
        ref_path = reference_cnn or str(out / "reference.cnn")
        if not reference_cnn:
            make_reference([c[1] for c in pool], [c[2] for c in pool], fasta, bins["targets"],
                           bins["antitargets"], ref_path)
        method = f"hmm:{'panel' if panel else 'wgs'}"
        for nid in [sid, *normal_ids]:
            q = p if nid == sid else {k: str(out / "normals" / f"{nid}.{k}") for k in p}
            (out / "normals").mkdir(exist_ok=True)
            infos[nid] = fix_and_analyse(nid, *cov[nid], ref_path, pool, fasta, bins["targets"],
                                         bins["antitargets"], q["cnr"], q["cns"], q["seg"],
                                         q["gene_stats.tsv"], q["info.tsv"], genes,
                                         segment_method)
            cnrs[nid] = read_cnr(q["cnr"])
            if nid != sid:
                rows.append({"sample_id": nid, "patient_id": pid, "sample_type": "normal",
                             "timepoint_days": None})
                fits[nid], stats[nid] = str(out / "normals" / f"{nid}.tf.tsv"), q["gene_stats.tsv"]
                tumour_free.append(nid)
    # Sample and normals are each fitted alone (free state path), so the normals' LLRs calibrate
    # detection in the same terms as the sample's.
    all_fits = str(out / "fits.tsv")
    all_states = str(out / "hmm_states_long.tsv")
    fit_samples(cnrs, infos, [], [sid, *normal_ids], hmm, method, all_fits, all_states,
                lengths or None)
    for nid in [sid, *normal_ids]:
        target = p if nid == sid else {k: str(out / "normals" / f"{nid}.{k}") for k in p}
        split_patient(all_fits, all_states, nid, target["tf.tsv"], target["hmm_states.tsv"])
    table, _ = summarise(samples_frame(rows), fits, stats, tumour_free, floor, 1.5,
                         GeneSettings(), her2_gene, out / "tumour_fraction.tsv",
                         out / "genes.tsv", out / "erbb2.tsv", out / "detection.tsv")
    if plot:
        from .plot import plot_states

        states = pd.read_csv(p["hmm_states.tsv"], sep="\t", dtype={"chromosome": str})
        summary = table[table["sample_id"] == sid].iloc[0].to_dict()
        summary["tumour_fraction"] = summary["tumour_fraction_fit"]
        plot_states([(sid, states, summary)], out / f"{sid}.cnv.png")
    return table
