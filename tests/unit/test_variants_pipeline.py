"""The stage's functions chained as the rules chain them, on a tiny code-built cohort:
discover -> sites -> count -> background -> call -> tables (no Snakemake, no aligner)."""

from __future__ import annotations

import pandas as pd
import pysam
import pytest

from plasmatrack.io import read_tsv
from plasmatrack.variants import pipeline
from plasmatrack.variants import synthetic as syn
from plasmatrack.variants.background import choose_controls


def _alt(base: str) -> str:
    return "ACGT"[("ACGT".index(base) + 2) % 4]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("stage")
    genome = syn.random_genome({"chr1": 8000}, seed=31)
    fasta = syn.write_fasta(root / "genome.fa", genome)
    g = genome["chr1"]
    pos = {"somatic": 1001, "germline": 2001, "chip": 3001, "noise": 4001, "hotspot": 5001,
           "other": 6001}
    site = {k: (p, g[p - 1], _alt(g[p - 1])) for k, p in pos.items()}
    (root / "panel.bed").write_text("".join(f"chr1\t{p - 60}\t{p + 60}\n" for p in pos.values()))
    (root / "genes.bed").write_text("chr1\t900\t1100\tTP53\nchr1\t2900\t3100\tDNMT3A\n"
                                    "chr1\t4900\t5100\tPIK3CA\n")
    (root / "exons.bed").write_text("chr1\t950\t1050\tTP53\t5\t-\n")
    hp, hr, ha = site["hotspot"]
    (root / "hotspots.tsv").write_text(
        f"chrom\tpos\tref\talt\tgene\tprotein_change\nchr1\t{hp}\t{hr}\t{ha}\tPIK3CA\tH1047R\n")
    # VAF of each site in each sample; "noise" is a 2% artifact in every sample.
    design = {
        "A_N": {"germline": 0.5, "noise": 0.02},
        "A_1": {"somatic": 0.06, "germline": 0.5, "noise": 0.02},
        "A_2": {"somatic": 0.0, "germline": 0.5, "noise": 0.02},
        "A_3": {"somatic": 0.10, "germline": 0.5, "noise": 0.02},
        "B_N": {"chip": 0.05, "noise": 0.02},
        "B_1": {"chip": 0.04, "noise": 0.02},
        "B_2": {"chip": 0.04, "noise": 0.02},
        "C_N": {"noise": 0.02},
        "C_1": {"noise": 0.02},
    }
    meta = {}
    bams = {}
    for i, (sample, vafs) in enumerate(design.items()):
        patient = sample.split("_")[0]
        kind = "normal" if sample.endswith("_N") else "plasma"
        meta[sample] = {"patient_id": patient, "sample_type": kind,
                        "timepoint_days": None if kind == "normal" else 30 * int(sample[-1])}
        sites = [(p, r, a, vafs.get(k, 0.0)) for k, (p, r, a) in site.items()]
        bams[sample] = syn.write_snv_panel_bam(root / f"{sample}.bam", genome, "chr1", sites,
                                               depth=600 if kind == "plasma" else 300,
                                               seed=100 + i, sample=sample)
    settings = {"discovery": {}, "background": {}, "detection": {}, "classification": {},
                "snv_tf": {"min_depth": 50}}
    patients = ["A", "B", "C"]
    cand = {}
    for p in patients:
        plasma = {s: str(b) for s, b in bams.items()
                  if meta[s]["patient_id"] == p and meta[s]["sample_type"] == "plasma"}
        cand[p] = root / f"{p}.candidates.tsv"
        pipeline.discover_patient(p, plasma, str(fasta), str(root / "panel.bed"),
                                  str(root / "hotspots.tsv"), None, settings, str(cand[p]))
    sites_path = root / "sites.tsv"
    pipeline.build_sites({p: str(c) for p, c in cand.items()}, str(fasta),
                         str(root / "genes.bed"), str(root / "exons.bed"),
                         str(root / "hotspots.tsv"), str(sites_path))
    sheet = pd.DataFrame([{"sample_id": s, **m} for s, m in meta.items()])
    controls = choose_controls(sheet, 200)
    counts = {}
    for p in patients:  # one counting job per patient, a folder of per-sample counts
        mine = {s: str(b) for s, b in bams.items() if meta[s]["patient_id"] == p}
        pipeline.count_patient(mine, str(sites_path), p, set(controls), str(fasta), settings,
                               str(root / p / "counts"))
        counts |= {s: root / p / "counts" / f"{s}.counts.tsv" for s in mine}
    out = {k: root / f"{k}.tsv" for k in ("background", "threshold", "controls")}
    pipeline.fit_background(str(sites_path), {s: str(c) for s, c in counts.items()}, meta,
                            controls, settings, str(out["background"]), str(out["threshold"]),
                            str(out["controls"]))
    tracked, tfs = [], []
    for p in patients:
        mine = {s: str(c) for s, c in counts.items() if meta[s]["patient_id"] == p}
        tracked.append(root / f"{p}.tracked.tsv")
        tfs.append(root / f"{p}.snv_tf.tsv")
        pipeline.call_patient(
            p, pipeline.PatientCallInputs(str(sites_path), mine, meta, str(out["background"]),
                                          str(out["threshold"]), str(out["controls"]),
                                          str(fasta)),
            settings, pipeline.PatientCallOutputs(str(tracked[-1]), str(tfs[-1]),
                                                  str(root / f"{p}.vcf.gz")))
    pipeline.merge_tables([str(t) for t in tracked], [str(t) for t in tfs],
                          str(root / "tracked_variants.tsv"), str(root / "snv_tf.tsv"))
    table = read_tsv(root / "tracked_variants.tsv", keep_default_na=False, na_values=[""])
    table["key"] = table["pos"].map({p: k for k, p in pos.items()})
    return {"root": root, "table": table, "site": site, "pos": pos, "cand": cand,
            "bams": bams, "counts": counts, "controls": controls, "fasta": fasta,
            "settings": settings}


def test_patient_counts_are_each_samples_own(run, tmp_path):
    """The per-patient counting job (rule variants_count) writes, per sample, what counting that
    sample alone writes: every site for a control, the patient's own sites otherwise."""
    sites = str(run["root"] / "sites.tsv")
    mine = {s: str(run["bams"][s]) for s in ("A_N", "A_1")}
    pipeline.count_patient(mine, sites, "A", {"A_N"}, str(run["fasta"]), run["settings"],
                           str(tmp_path / "counts"))
    for sample, control in (("A_N", True), ("A_1", False)):
        alone = tmp_path / f"{sample}.tsv"
        pipeline.count_sample(mine[sample], sites, "A", control, str(run["fasta"]),
                              run["settings"], str(alone))
        assert (tmp_path / "counts" / f"{sample}.counts.tsv").read_text() == alone.read_text()
    n_all = len(read_tsv(tmp_path / "counts" / "A_N.counts.tsv"))
    assert len(read_tsv(tmp_path / "counts" / "A_1.counts.tsv")) < n_all == len(read_tsv(sites))
def test_candidates_and_sites(run):
    cands = {p: read_tsv(c) for p, c in run["cand"].items()}
    a_pos = set(cands["A"]["pos"])
    assert {run["pos"]["somatic"], run["pos"]["germline"], run["pos"]["hotspot"]} <= a_pos
    assert run["pos"]["other"] not in a_pos
    sites = read_tsv(run["root"] / "sites.tsv", keep_default_na=False, na_values=[""],
                     dtype={"exon": str})
    hot = sites[sites["pos"] == run["pos"]["hotspot"]].iloc[0]
    assert hot["protein_change"] == "H1047R" and hot["gene"] == "PIK3CA"
    assert hot["tracked_by"] == "A,B,C" and pd.isna(hot["patients"])
    som = sites[sites["pos"] == run["pos"]["somatic"]].iloc[0]
    assert (som["gene"], str(som["exon"]), som["patients"]) == ("TP53", "5", "A")


def test_calls_categories_and_statuses(run):
    t = run["table"].set_index(["sample_id", "key"])
    assert t.loc[("A_1", "somatic"), "status"] == "detected"
    assert t.loc[("A_3", "somatic"), "status"] == "detected"
    assert t.loc[("A_2", "somatic"), "status"] == "not_detected"  # absent mid-course
    assert t.loc[("A_N", "somatic"), "status"] == "not_detected"
    assert t.loc[("A_1", "somatic"), "category"] == "somatic"
    assert t.loc[("A_1", "germline"), "category"] == "germline"
    assert t.loc[("B_1", "chip"), "category"] == "chip"
    assert "detected_in_normal" in t.loc[("B_1", "chip"), "filters"]
    noise = run["table"][run["table"]["key"] == "noise"]
    assert len(noise) > 0 and (noise["category"] == "artifact").all()
    assert (noise["status"] != "detected").all()
    hot = run["table"][run["table"]["key"] == "hotspot"]
    assert set(hot["sample_id"]) == {"A_N", "A_1", "A_2", "A_3", "B_N", "B_1", "B_2", "C_N", "C_1"}
    assert (hot["status"] != "detected").all()
    assert (run["table"]["vaf_lower"] <= run["table"]["vaf_upper"]).all()


def test_snv_tf_and_vcf(run):
    tf = read_tsv(run["root"] / "snv_tf.tsv").set_index("sample_id")
    # Only one clonal SNV (6% and 10% VAF): TF = 2 x VAF.
    assert tf.loc["A_1", "tumour_fraction_snv"] == pytest.approx(0.12, abs=0.04)
    assert tf.loc["A_3", "tumour_fraction_snv"] == pytest.approx(0.20, abs=0.05)
    assert tf.loc["A_N", "tumour_fraction_snv"] == 0.0
    assert tf.loc["C_1", "n_variants"] == 0
    with pysam.VariantFile(str(run["root"] / "A.vcf.gz")) as vcf:
        assert list(vcf.header.samples) == ["A_N", "A_1", "A_2", "A_3"]
        recs = {r.pos: r for r in vcf}
        som = recs[run["pos"]["somatic"]]
        assert som.info["GENE"] == "TP53" and som.info["EXON"] == "5"
        assert som.samples["A_1"]["ST"] == "detected" and list(som.filter) == ["PASS"]
        assert list(recs[run["pos"]["germline"]].filter) == ["germline"]


def test_failed_identity_normal_is_not_the_germline_filter(run, tmp_path):
    """Issue 22: patient A's normal failed identity (docs/qc.md): its rows stay, with
    ``excluded`` true, but the variants are classified as for a patient without a matched normal
    (the germline site by its plasma VAF), and every plasma call is unchanged."""
    root = run["root"]
    ids = ["A_N", "A_1", "A_2", "A_3"]
    meta = {s: {"patient_id": "A", "sample_type": "normal" if s == "A_N" else "plasma",
                "timepoint_days": None if s == "A_N" else 30 * int(s[-1])} for s in ids}
    identity = tmp_path / "identity_samples.tsv"
    pd.DataFrame({"sample_id": ids, "identity_ok": [False, True, True, True],
                  "best_match": ["C_N", "A_2", "A_1", "A_1"]}).to_csv(identity, sep="\t",
                                                                     index=False)
    out = pipeline.PatientCallOutputs(str(tmp_path / "t.tsv"), str(tmp_path / "tf.tsv"),
                                      str(tmp_path / "A.vcf.gz"))
    pipeline.call_patient(
        "A", pipeline.PatientCallInputs(
            str(root / "sites.tsv"), {s: str(run["counts"][s]) for s in ids}, meta,
            str(root / "background.tsv"), str(root / "threshold.tsv"), str(root / "controls.tsv"),
            str(root / "genome.fa"), identity=str(identity)),
        {"discovery": {}, "background": {}, "detection": {}, "classification": {},
         "snv_tf": {"min_depth": 50}}, out)
    got = read_tsv(out.tracked, keep_default_na=False, na_values=[""])
    assert got.columns[-1] == "excluded"
    assert got.groupby("sample_id")["excluded"].first().to_dict() == {
        "A_1": False, "A_2": False, "A_3": False, "A_N": True}
    got["key"] = got["pos"].map({p: k for k, p in run["pos"].items()})
    g = got.set_index(["sample_id", "key"])
    assert g.loc[("A_1", "germline"), "category"] == "germline"
    assert "germline_vaf_in_plasma" in g.loc[("A_1", "germline"), "filters"]
    assert "no_matched_normal" in g.loc[("A_1", "germline"), "filters"]
    before = run["table"][run["table"]["patient_id"] == "A"].set_index(["sample_id", "key"])
    assert "germline_vaf_in_normal" in before.loc[("A_1", "germline"), "filters"]
    for col in ("alt_count", "depth", "vaf", "status"):
        assert g[col].to_dict() == before.loc[g.index, col].to_dict(), col
