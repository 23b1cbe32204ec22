"""The simulator's design and truth tables (no reads): formulas, sum rule, reference consistency,
sheets, outcome model. Cohorts are written with --no-reads, so each takes a few seconds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from plasmatrack.config import load_config
from plasmatrack.io import read_tsv
from plasmatrack.sheets import load_clinical, load_samples
from plasmatrack.simulate import SimulateSettings, simulate_cohort
from plasmatrack.simulate.design import DILUTION_TFS


def _fasta(path) -> dict[str, str]:
    seqs: dict[str, list[str]] = {}
    name = None
    for line in open(path):
        line = line.rstrip("\n")
        if line.startswith(">"):
            name = line[1:]
            seqs[name] = []
        else:
            seqs[name].append(line)
    return {k: "".join(v) for k, v in seqs.items()}


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("sim") / "demo"
    simulate_cohort(out, SimulateSettings(seed=4, patients=8, no_reads=True), log=lambda *_: None)
    return out


@pytest.fixture(scope="module")
def genome(demo):
    return _fasta(demo / "reference" / "genome.fa")


def _truth(demo, name):
    return read_tsv(demo / "truth" / f"{name}.tsv", keep_default_na=False,
                    na_values={"timepoint_days": [""], "clone_id": []})


def test_reference_layout(demo, genome):
    sizes = {k: len(v) for k, v in genome.items()}
    assert {"chr1", "chr2", "chr3", "chr4", "chr6", "chr8", "chr9", "chr11", "chr14", "chr17",
            "chr20"} <= set(sizes)
    assert all(1_500_000 <= n <= 3_000_000 for n in sizes.values())
    assert 20_000_000 <= sum(sizes.values()) <= 25_000_000
    # GC content varies in blocks between 35% and 60%
    chr1 = np.frombuffer(genome["chr1"].encode(), dtype=np.uint8)
    gc = ((chr1 == ord("G")) | (chr1 == ord("C")))[: 2_500_000].reshape(-1, 20_000).mean(axis=1)
    assert gc.min() < 0.40 and gc.max() > 0.55


def test_beds(demo, genome):
    genes = pd.read_csv(demo / "genes.bed", sep="\t", header=None,
                        names=["chrom", "start", "end", "name"])
    by_name = genes.set_index("name")
    for gene in ("ERBB2", "PGAP3", "GRB7", "IKZF3", "TOP2A", "TP53", "PIK3CA", "ESR1", "AKT1",
                 "MTOR", "TSC1", "DNMT3A", "TET2", "ASXL1", "MYC", "CCND1"):
        assert gene in by_name.index
    assert by_name.loc["ERBB2", "chrom"] == "chr17"
    panel = pd.read_csv(demo / "panel.bed", sep="\t", header=None,
                        names=["chrom", "start", "end", "name"])
    width = panel["end"] - panel["start"]
    assert 90 <= len(panel) <= 200
    assert width.between(120, 250).all()
    order = {c: i for i, c in enumerate(genome)}
    key = panel["chrom"].map(order) * 10**9 + panel["start"]
    assert key.is_monotonic_increasing
    for _, part in panel.groupby("chrom"):
        assert (part["start"].to_numpy()[1:] >= part["end"].to_numpy()[:-1]).all()
    assert (panel["name"].str.startswith("ERBB2")).sum() >= 5
    assert panel["name"].str.startswith("backbone").sum() >= len(genome)
    exons = pd.read_csv(demo / "exons.bed", sep="\t", header=None,
                        names=["chrom", "start", "end", "gene", "exon_number", "strand"])
    assert set(exons["strand"]) <= {"+", "-"}
    assert (exons.groupby("gene")["exon_number"].max() == exons.groupby("gene").size()).all()


def test_hotspot_and_variant_refs_match_genome(demo, genome):
    hot = read_tsv(demo / "hotspots.tsv")
    assert {"H1047R", "E545K", "D538G", "Y537S", "L755S", "V777L", "E17K", "R175H",
            "R273H", "S2215Y"} <= set(hot["protein_change"])
    for r in hot.itertuples():
        assert genome[r.chrom][r.pos - 1] == r.ref, r
        assert r.alt != r.ref
    variants = _truth(demo, "variants")
    for r in variants.drop_duplicates(["chrom", "pos", "ref", "alt"]).itertuples():
        assert genome[r.chrom][r.pos - 1: r.pos - 1 + len(r.ref)] == r.ref, r
    noisy = _truth(demo, "noisy_sites")
    for r in noisy.itertuples():
        assert genome[r.chrom][r.pos - 1] == r.ref


def test_sheets_and_config_validate(demo):
    config = load_config(demo / "config.yaml")
    assert config["her2_gene"] == "ERBB2"
    assert config["truth"] == str(demo / "truth")
    samples = load_samples(config["samples"], check_files=False)
    assert len(samples) == 8 * 4
    assert (samples.groupby("patient_id")["sample_type"].apply(
        lambda s: (s == "normal").sum() == 1 and (s == "plasma").sum() == 3)).all()
    assert samples["fastq_1"].str.endswith("_R1.fastq.gz").all()
    clinical = load_clinical(config["clinical"], patients=set(samples["patient_id"]))
    assert clinical.warnings == []
    assert set(clinical.table["best_response"]) <= {"CR", "PR", "SD", "PD", "NE"}
    assert (clinical.table["os_months"] >= clinical.table["ttf_months"]).all()


def test_demo_plan(demo):
    patients = _truth(demo, "patients")
    assert (patients["her2_status"] == "amplified").sum() >= 5
    assert (patients["her2_status"] == "mutant").sum() >= 2
    tf = patients["baseline_tumour_fraction"]
    assert tf.min() < 0.03 and tf.max() > 0.30
    samples = _truth(demo, "samples")
    plasma = samples[samples["sample_type"] == "plasma"]
    days = plasma.groupby("patient_id")["timepoint_days"].apply(list)
    for d in days:
        assert -14 <= d[0] <= 0 and d[0] < d[1] < d[2]
    amp = samples[samples["patient_id"].isin(
        patients.loc[patients["her2_status"] == "amplified", "patient_id"])]
    assert amp["erbb2_tumour_copy_number"].between(8, 25).all()
    mut = samples[samples["patient_id"].isin(
        patients.loc[patients["her2_status"] == "mutant", "patient_id"])]
    assert (mut["erbb2_tumour_copy_number"] == 2).all()


def test_plasma_copy_number_and_burden(demo):
    s = _truth(demo, "samples")
    tf, cn = s["tumour_fraction"], s["erbb2_tumour_copy_number"]
    np.testing.assert_allclose(s["erbb2_plasma_copy_number"], 2 * (1 - tf) + cn * tf, rtol=1e-5)
    np.testing.assert_allclose(s["erbb2_excess_copies"], s["erbb2_plasma_copy_number"] - 2,
                               atol=1e-5)
    p = _truth(demo, "patients")
    burden = np.maximum(p["baseline_erbb2_plasma_copy_number"] - 2, 0) + 2 * p[
        "baseline_erbb2_mutation_vaf"]
    np.testing.assert_allclose(p["baseline_her2_burden"], burden, rtol=1e-5)
    mutant = p[p["her2_status"] == "mutant"]
    assert (mutant["baseline_erbb2_mutation_vaf"] > 0).all()
    # a truncal heterozygous ERBB2 hotspot at CN 2: VAF = TF/2, burden = TF
    np.testing.assert_allclose(mutant["baseline_her2_burden"], mutant["baseline_tumour_fraction"],
                               rtol=1e-4)


def test_expected_vaf_formula(demo):
    v = _truth(demo, "variants")
    tf, ccf, m, cn = v["tumour_fraction"], v["ccf"], v["multiplicity"], v["tumour_copy_number"]
    den = tf * cn + 2 * (1 - tf)
    som = v["category"] == "somatic"
    np.testing.assert_allclose(v.loc[som, "expected_vaf"], (tf * ccf * m / den)[som], rtol=1e-5,
                               atol=1e-9)
    germ = v["category"] == "germline"
    normal = v["sample_type"] == "normal"
    assert set(np.round(v.loc[germ & normal, "expected_vaf"], 6)) <= {0.5, 1.0}
    assert (v.loc[som & normal, "expected_vaf"] == 0).all()
    chip = v[v["category"] == "chip"]
    if len(chip):
        in_normal = chip[chip["sample_type"] == "normal"]["expected_vaf"]
        assert in_normal.between(0.01, 0.05).all()
        assert chip["gene"].isin(["DNMT3A", "TET2", "ASXL1"]).all()
    # counts per patient as the brief sets them
    first = v.drop_duplicates(["patient_id", "chrom", "pos", "alt"])
    first = first.assign(
        germline=first["category"] == "germline",
        snv=(first["category"] == "somatic") & (first["variant_type"] == "snv"),
        indel=(first["category"] == "somatic") & (first["variant_type"] != "snv"))
    per = first.groupby("patient_id")[["germline", "snv", "indel"]].sum()
    assert per["germline"].between(15, 40).all()
    assert per["snv"].between(6, 12).all() and per["indel"].between(1, 2).all()
    plasma_som = v[som & ~normal & (v["expected_vaf"] > 0)]
    assert plasma_som["expected_vaf"].min() < 0.005  # low-VAF sensitivity tier present


def test_clone_sum_rule_and_resistance(demo):
    clones = _truth(demo, "clones")
    for (_pid, _sid), part in clones.groupby(["patient_id", "sample_id"]):
        prev = part.set_index("clone_id")["prevalence"]
        assert prev[part.loc[part["role"] == "truncal", "clone_id"]].eq(1).all()
        for parent, kids in part.groupby("parent_clone_id"):
            if parent == "":
                continue
            assert kids["prevalence"].sum() <= prev[parent] + 1e-9
    patients = _truth(demo, "patients").set_index("patient_id")
    res = clones[clones["role"] == "resistance"].sort_values("timepoint_days")
    for pid, part in res.groupby("patient_id"):
        assert part["prevalence"].iloc[0] == 0
        if patients.loc[pid, "ttf_event"] == 1:
            assert part["prevalence"].iloc[-1] >= 0.3
    assert (clones.groupby("patient_id")["role"].apply(set)
            .apply(lambda r: {"truncal", "subclonal", "resistance"} <= r)).all()
    labels = clones.loc[clones["role"] == "resistance", "label"]
    assert labels.str.contains("ESR1|PIK3CA|ERBB2|MTOR|TSC1").all()


def test_segments_cover_genome(demo, genome):
    seg = _truth(demo, "segments")
    patients = _truth(demo, "patients").set_index("patient_id")
    for pid, part in seg.groupby("patient_id"):
        for chrom, length in ((c, len(s)) for c, s in genome.items()):
            c = part[part["chrom"] == chrom]
            assert c["start"].iloc[0] == 0 and c["end"].iloc[-1] == length
            assert (c["start"].to_numpy()[1:] == c["end"].to_numpy()[:-1]).all()
        assert (part["tumour_copy_number"] == part["major_cn"] + part["minor_cn"]).all()
        altered = (part["end"] - part["start"])[part["tumour_copy_number"] != 2].sum()
        assert altered >= 3_000_000
        chr17 = part[part["chrom"] == "chr17"]
        cn_at = lambda pos: int(chr17[(chr17["start"] <= pos) & (chr17["end"] > pos)]
                                ["tumour_copy_number"].iloc[0])
        erbb2_cn = patients.loc[pid, "erbb2_tumour_copy_number"]
        if patients.loc[pid, "her2_status"] == "amplified":
            for pos in (1_615_000, 1_660_000, 1_711_000):  # PGAP3, ERBB2, GRB7
                assert cn_at(pos) == erbb2_cn
            for pos in (1_900_000, 1_930_000, 2_060_000):  # IKZF3, TOP2A
                assert cn_at(pos) <= 4
        else:
            assert cn_at(1_660_000) == 2


def test_dilution(tmp_path):
    out = tmp_path / "dil"
    simulate_cohort(out, SimulateSettings(seed=5, dilution=True, no_reads=True),
                    log=lambda *_: None)
    assert "reference_pool" not in (out / "config.yaml").read_text()  # buffy-coat normals
    healthy_out = tmp_path / "dil_healthy"
    simulate_cohort(healthy_out,
                    SimulateSettings(seed=5, dilution=True, healthy_donors=3, no_reads=True),
                    log=lambda *_: None)
    same = read_tsv(out / "truth" / "samples.tsv")
    s = read_tsv(healthy_out / "truth" / "samples.tsv")
    # the donors are added; the two tumours and their draws do not change
    pd.testing.assert_frame_equal(s[s["patient_id"].isin(["D01", "D02"])].reset_index(drop=True),
                                  same)
    out = healthy_out
    tumours = s[s["patient_id"].isin(["D01", "D02"])]
    for _pid, part in tumours[tumours["sample_type"] == "plasma"].groupby("patient_id"):
        assert sorted(part["tumour_fraction"]) == list(DILUTION_TFS)
        assert list(part["timepoint_days"]) == list(range(len(DILUTION_TFS)))
    assert (tumours["sample_type"] == "normal").sum() == 2
    # healthy donors: one tumour-free plasma draw each, no clinical row, the panel of normals
    healthy = s[~s["patient_id"].isin(["D01", "D02"])]
    assert len(healthy) == 3
    assert (healthy["sample_type"] == "plasma").all() and (healthy["tumour_fraction"] == 0).all()
    assert set(read_tsv(out / "clinical.tsv")["patient_id"]) == {"D01", "D02"}
    assert set(read_tsv(out / "truth" / "patients.tsv")["patient_id"]) == {"D01", "D02"}
    cnv = yaml.safe_load((out / "config.yaml").read_text())["cnv"]
    assert cnv == {"healthy_plasma": sorted(healthy["sample_id"]), "reference_pool": "healthy"}
    load_samples(out / "samples.tsv", check_files=False)


def test_draws_and_large_cohorts(tmp_path):
    out = tmp_path / "many"
    simulate_cohort(out, SimulateSettings(seed=2, patients=30, draws=6, no_reads=True),
                    log=lambda *_: None)
    samples = load_samples(out / "samples.tsv", check_files=False)
    assert samples["patient_id"].nunique() == 30
    plasma = samples[samples["sample_type"] == "plasma"]
    assert (plasma.groupby("patient_id").size() == 6).all()
    assert (plasma.groupby("patient_id")["timepoint_days"].apply(
        lambda d: d.is_monotonic_increasing and d.is_unique)).all()


def test_burden_drives_hazard(tmp_path):
    """With 60 patients a Cox model on the truth recovers HR > 1 per unit log burden."""
    from lifelines import CoxPHFitter

    out = tmp_path / "surv"
    simulate_cohort(out, SimulateSettings(seed=1, patients=60, no_reads=True), log=lambda *_: None)
    p = read_tsv(out / "truth" / "patients.tsv")
    censored = 1 - p["ttf_event"].mean()
    assert 0.05 <= censored <= 0.35
    p["log_burden"] = np.log(p["baseline_her2_burden"])
    cox = CoxPHFitter().fit(p[["ttf_months", "ttf_event", "log_burden"]], "ttf_months",
                            "ttf_event")
    assert np.exp(cox.params_["log_burden"]) > 1.5
    assert cox.summary.loc["log_burden", "p"] < 0.05
    # best response goes with burden: PD patients carry more burden than CR/PR ones
    resp = p.groupby("best_response")["baseline_her2_burden"].median()
    assert resp.get("PD", np.inf) > min(resp.get("PR", 0), resp.get("CR", 0))
