"""PyClone-VI formats in and out, pipeline inputs (TF source, copy number from segments), the
stage end to end on tables drawn from a small simulated cohort, and user errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from plasmatrack.clonal.inputs import (
    choose_tumour_content,
    lookup_segments,
    read_tumour_fraction,
    tumour_cn_from_log2,
)
from plasmatrack.clonal.pipeline import ClonalSettings, read_clinical_table, run_pipeline
from plasmatrack.clonal.pyclone_io import RESULT_COLUMNS, read_pyclone_tables
from plasmatrack.errors import InputError

BIN = Path(sys.executable).parent


def _pyclone_input(path: Path, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    truth = {"a": [0.9, 0.8], "b": [0.3, 0.6]}
    for cl, ccfs in truth.items():
        for i in range(6):
            for s, (ccf, tc) in enumerate(zip(ccfs, (0.6, 0.7))):
                depth = 800
                vaf = tc * ccf / 2
                alt = rng.binomial(depth, vaf)
                rows.append((f"{cl}{i}", f"S{s}", depth - alt, alt, 2, 1, 1, tc))
    df = pd.DataFrame(rows, columns=["mutation_id", "sample_id", "ref_counts", "alt_counts",
                                     "normal_cn", "major_cn", "minor_cn", "tumour_content"])
    df.to_csv(path, sep="\t", index=False)
    return df


def test_clones_cli_on_pyclone_vi_input_writes_its_results_format(tmp_path):
    _pyclone_input(tmp_path / "in.tsv")
    proc = subprocess.run([str(BIN / "plasmatrack"), "clones", "--pyclone-tsv",
                           str(tmp_path / "in.tsv"), "--out", str(tmp_path / "out")],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    res = pd.read_csv(tmp_path / "out" / "pyclone_vi_results.tsv", sep="\t")
    assert list(res.columns) == RESULT_COLUMNS
    assert len(res) == 12 * 2 and sorted(res["cluster_id"].unique()) == [0, 1]
    labels = res.drop_duplicates("mutation_id").set_index("mutation_id")["cluster_id"]
    assert labels[[f"a{i}" for i in range(6)]].nunique() == 1
    assert labels[[f"b{i}" for i in range(6)]].nunique() == 1
    prev = res.drop_duplicates(["cluster_id", "sample_id"]).set_index(["cluster_id", "sample_id"])
    assert prev.loc[(0, "S0"), "cellular_prevalence"] == pytest.approx(0.9, abs=0.06)
    assert prev.loc[(1, "S1"), "cellular_prevalence"] == pytest.approx(0.6, abs=0.06)
    for name in ("cluster_prevalence.tsv", "tree.tsv", "ccf.tsv", "model_selection.tsv"):
        assert (tmp_path / "out" / name).is_file()
    # 12 variants at TC 0.6-0.7 and 800x resolve CCF gaps far below 0.5; a limit below the
    # patient's resolvable difference turns the call to limited, with the note
    tree = pd.read_csv(tmp_path / "out" / "tree.tsv", sep="\t")
    delta = float(tree["resolvable_ccf_difference"].iloc[0])
    assert 0.01 < delta < 0.2 and (tree["clonal_resolution"] == "resolved").all()
    assert f"clonal resolution resolved (resolvable CCF difference {delta:.2f})" in proc.stdout
    proc = subprocess.run([str(BIN / "plasmatrack"), "clones", "--pyclone-tsv",
                           str(tmp_path / "in.tsv"), "--out", str(tmp_path / "out2"),
                           "--resolution-limit", f"{delta / 2:.4f}"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    tree = pd.read_csv(tmp_path / "out2" / "tree.tsv", sep="\t")
    assert (tree["clonal_resolution"] == "limited").all()
    assert tree["note"].str.contains("limited clonal resolution").all()


def test_old_pyclone_layout_and_missing_column_error(tmp_path):
    df = _pyclone_input(tmp_path / "in.tsv")
    old = df[df["sample_id"] == "S0"].drop(columns=["sample_id", "tumour_content"]).rename(
        columns={"alt_counts": "var_counts"})
    old.to_csv(tmp_path / "S0.tsv", sep="\t", index=False)
    table = read_pyclone_tables([tmp_path / "S0.tsv"])
    assert set(table["sample_id"]) == {"S0"} and (table["tumour_content"] == 1.0).all()
    old.drop(columns=["major_cn"]).to_csv(tmp_path / "bad.tsv", sep="\t", index=False)
    with pytest.raises(InputError, match=r"bad.tsv: missing column\(s\) 'major_cn'"):
        read_pyclone_tables([tmp_path / "bad.tsv"])
    old.assign(ref_counts=["x"] + list(old["ref_counts"][1:])).to_csv(
        tmp_path / "bad2.tsv", sep="\t", index=False)
    with pytest.raises(InputError, match=r"bad2.tsv, row 2, column 'ref_counts'"):
        read_pyclone_tables([tmp_path / "bad2.tsv"])


def test_copy_number_from_log2_inverts_the_plasma_mixing_model():
    t, psi = 0.3, 2.4
    for cn in (1.0, 2.0, 3.0, 8.0):
        mean_cn = 2 * (1 - t) + psi * t
        log2 = np.log2((2 * (1 - t) + cn * t) / mean_cn)
        assert tumour_cn_from_log2(log2, t, psi) == pytest.approx(cn)
    segs = pd.DataFrame({"chrom": ["chr1", "chr1"], "start": [0, 100], "end": [100, 200],
                         "log2": [0.1, -0.2]})
    got = lookup_segments(segs, pd.Series(["chr1", "chr1", "chr1", "chr2"]),
                          pd.Series([100, 101, 201, 5]), "log2")
    # 1-based pos 100 is 0-based 99 (first segment); 201 is past the end; chr2 has no segment
    np.testing.assert_allclose(got, [0.1, -0.2, np.nan, np.nan])


def test_tumour_content_auto_prefers_snv_then_cnv():
    tf = pd.DataFrame({"sample_id": ["A", "B", "C"], "tumour_fraction": [0.2, 0.1, 0.0]})
    snv = pd.DataFrame({"sample_id": ["A", "B"], "tumour_fraction_snv": [0.25, 0.0],
                        "n_variants": [3, 3]})
    values, sources = choose_tumour_content(["A", "B", "C"], tf, snv, "auto")
    assert values == {"A": 0.25, "B": 0.1, "C": 0.0}
    assert sources == {"A": "snv", "B": "cnv", "C": "cnv"}


def test_tumour_content_max_takes_the_larger_estimate():
    tf = pd.DataFrame({"sample_id": ["A", "B", "C", "D"], "tumour_fraction": [0.3, 0.1, 0.0, None]})
    snv = pd.DataFrame({"sample_id": ["A", "B", "E"], "tumour_fraction_snv": [0.15, 0.2, 0.05],
                        "n_variants": [2, 2, 1]})
    values, sources = choose_tumour_content(["A", "B", "C", "D", "E", "F"], tf, snv, "max")
    assert values == {"A": 0.3, "B": 0.2, "C": 0.0, "D": 0.0, "E": 0.05, "F": 0.0}
    assert sources == {"A": "cnv", "B": "snv", "C": "cnv", "D": "none", "E": "snv", "F": "none"}
    # without a copy-number table: the SNV estimate alone
    values, sources = choose_tumour_content(["A", "B"], None, snv, "max")
    assert values == {"A": 0.15, "B": 0.2} and set(sources.values()) == {"snv"}


@pytest.fixture(scope="module")
def small_cohort(tmp_path_factory):
    out = tmp_path_factory.mktemp("clonal_sim") / "cohort"
    subprocess.run([str(BIN / "plasmatrack"), "simulate", "--out", str(out), "--seed", "2",
                    "--patients", "3", "--no-reads"], check=True, capture_output=True)
    return out


def test_stage_on_simulated_truth_counts(small_cohort, tmp_path):
    """The stage alone (upstream tables drawn from the simulator's truth at 800x): the issue's
    accuracy targets on the patients whose draws reach TF >= 0.05 (docs/clonal.md)."""
    from plasmatrack.clonal.synthetic import evaluate, write_stage_inputs

    paths = write_stage_inputs(small_cohort, tmp_path, seed=3, depth=800)
    settings = ClonalSettings.from_config({"copy_number": "table",
                                           "copy_number_table": str(paths["segments"]),
                                           "tumour_content": "cnv"})
    outputs = {k: tmp_path / f"{k}.tsv" for k in ("variants", "prevalence", "tree", "events")}
    tables = run_pipeline(paths["tracked"], paths["tf"], outputs, settings=settings,
                          clinical=read_clinical_table(small_cohort / "clinical.tsv"))
    written = pd.read_csv(outputs["variants"], sep="\t")
    assert list(written.columns[:8]) == ["patient_id", "chrom", "pos", "ref", "alt", "gene",
                                         "cluster_id", "cluster_probability"]
    ev = evaluate(small_cohort / "truth", tables["variants"], tables["prevalence"],
                  tables["events"])
    truth = pd.read_csv(small_cohort / "truth" / "samples.tsv", sep="\t")
    max_tf = truth[truth["sample_type"] == "plasma"].groupby("patient_id")["tumour_fraction"].max()
    informative = [p for p in ev["ari"] if max_tf[p] >= 0.05]
    assert informative, "seed 2 has informative patients"
    assert np.mean([ev["ari"][p] for p in informative]) >= 0.85
    err = ev["prevalence_errors"]
    err = err[err["patient_id"].isin(informative)]
    assert err["abs_error"].median() <= 0.1
    for (pid, _), found in ev["resistance_found"].items():
        if pid in informative:
            assert found, f"{pid}: resistance clone not found as an emerging cluster"
    # the sum rule holds in every patient's tree
    assert tables["tree"]["sum_rule_ok"].all()
    # the stage's own resolution call (no truth used) picks the same patients here: P02's draws
    # are all at TF < 0.03 and it is "limited", with the reason in its tree note
    tree = pd.read_csv(outputs["tree"], sep="\t").drop_duplicates("patient_id")
    calls = dict(zip(tree["patient_id"], tree["clonal_resolution"]))
    assert sorted(p for p, c in calls.items() if c == "resolved") == sorted(informative)
    limited = tree[tree["clonal_resolution"] == "limited"]
    assert (limited["resolvable_ccf_difference"] > 0.5).all()
    assert limited["note"].str.contains("limited clonal resolution").all()
    assert (tree.loc[tree["clonal_resolution"] == "resolved", "resolvable_ccf_difference"]
            <= 0.5).all()


def test_max_tumour_content_repairs_a_low_snv_estimate(small_cohort, tmp_path):
    """Seed 2's P01 has one truncal SNV; the variants stage's clonal set is then a subclone, and
    its SNV TF reads 0.08-0.12 for a truth of 0.34-0.48. With that estimate alone (auto) the trunk
    and the subclones all read CCF 1 and merge (ARI 0); the larger of it and a copy-number TF
    (truth x 15% log-normal error here) lets the trunk normalisation bring it back."""
    from plasmatrack.clonal.synthetic import evaluate, tracked_from_truth
    from plasmatrack.io import write_tsv
    from plasmatrack.variants.snv_tf import snv_tumour_fraction

    truth = small_cohort / "truth"
    tracked = tracked_from_truth(truth, seed=3, depth=800)
    tv = pd.read_csv(truth / "variants.tsv", sep="\t")
    tracked = tracked.merge(tv.drop_duplicates(["chrom", "pos"])[["chrom", "pos", "variant_type"]],
                            on=["chrom", "pos"], how="left")
    tracked["site_id"] = (tracked["chrom"].astype(str) + ":" + tracked["pos"].astype(str) + ":"
                          + tracked["ref"] + ">" + tracked["alt"])
    snv = snv_tumour_fraction(tracked[tracked["category"] == "somatic"])
    samples = pd.read_csv(truth / "samples.tsv", sep="\t")
    samples = samples[samples["sample_type"] == "plasma"]
    low = snv.merge(samples[["sample_id", "tumour_fraction"]], on="sample_id")
    low = low[low["patient_id"] == "P01"]
    assert (low["tumour_fraction_snv"] < 0.5 * low["tumour_fraction"]).all()
    tf = samples["tumour_fraction"].to_numpy() * np.exp(
        np.random.default_rng(3).normal(0, 0.15, len(samples)))
    cnv = pd.DataFrame({"sample_id": samples["sample_id"], "patient_id": samples["patient_id"],
                        "timepoint_days": samples["timepoint_days"],
                        "tumour_fraction": np.where(tf >= 0.04, tf, 0.0),
                        "ploidy": samples["ploidy"], "tf_detected": tf >= 0.04})
    for name, table in (("tracked", tracked), ("snv", snv), ("cnv", cnv)):
        write_tsv(table, tmp_path / f"{name}.tsv")
    result = {}
    for mode in ("auto", "max"):
        settings = ClonalSettings.from_config({"copy_number": "table",
                                               "copy_number_table": str(truth / "segments.tsv"),
                                               "tumour_content": mode})
        outputs = {k: tmp_path / f"{k}_{mode}.tsv" for k in ("variants", "prevalence", "tree",
                                                             "events")}
        tables = run_pipeline(tmp_path / "tracked.tsv", tmp_path / "cnv.tsv", outputs,
                              snv_tf=tmp_path / "snv.tsv", settings=settings,
                              clinical=read_clinical_table(small_cohort / "clinical.tsv"))
        result[mode] = evaluate(truth, tables["variants"], tables["prevalence"], tables["events"])
    assert result["auto"]["ari"]["P01"] < 0.5 and result["max"]["ari"]["P01"] >= 0.85
    share = {m: (r["prevalence_errors"]["abs_error"] <= 0.1).mean() for m, r in result.items()}
    assert share["max"] >= share["auto"] + 0.2, share


def test_bad_precision_in_config_is_named():
    with pytest.raises(InputError, match="clonal.precision"):
        ClonalSettings.from_config({"precision": "high"})


def test_stage_without_copy_number_stage_and_with_awkward_patients(small_cohort, tmp_path):
    """As the rule runs when the workflow has no copy-number stage: SNV tumour fraction only,
    no segments; plus a patient without somatic variants, a draw whose SNV TF is missing, and
    artefact rows. Every patient still gets rows or notes, and nothing fails."""
    from plasmatrack.clonal.synthetic import tracked_from_truth, tumour_fraction_from_truth
    from plasmatrack.io import write_tsv

    tracked = tracked_from_truth(small_cohort / "truth", seed=1)
    tf = tumour_fraction_from_truth(small_cohort / "truth")
    snv = tf.rename(columns={"tumour_fraction": "tumour_fraction_snv"}).assign(n_variants=4)
    snv.loc[0, "tumour_fraction_snv"] = np.nan
    lonely = tracked[tracked["patient_id"] == tracked["patient_id"].iloc[0]].copy()
    lonely["patient_id"] = "PX"
    lonely["sample_id"] = "PX_" + lonely["sample_id"]
    lonely["category"] = np.where(lonely["category"] == "somatic", "artifact", lonely["category"])
    tracked = pd.concat([tracked, lonely], ignore_index=True)
    write_tsv(tracked, tmp_path / "tracked.tsv")
    write_tsv(snv, tmp_path / "snv.tsv")
    outputs = {k: tmp_path / f"{k}.tsv" for k in ("variants", "prevalence", "tree", "events")}
    tables = run_pipeline(tmp_path / "tracked.tsv", None, outputs, snv_tf=tmp_path / "snv.tsv",
                          cns={}, settings=ClonalSettings())
    assert "PX" not in set(tables["tree"]["patient_id"])
    assert tables["tree"]["note"].str.contains("copy number 2 assumed").all()
    first = snv.loc[0, "sample_id"]
    prev = tables["prevalence"]
    assert not prev.loc[prev["sample_id"] == first, "estimable"].any()
    assert set(prev.loc[prev["sample_id"] != first, "tumour_content_source"]) == {"snv"}
    for path in outputs.values():
        assert path.is_file()


def test_copy_number_uses_the_hmm_centre_not_the_path_ploidy(tmp_path):
    # The .cns ratios are centred where the HMM put log2 0 (tumour_fraction_fit, ploidy_fit);
    # the path ploidy ('ploidy', 2.6 here) describes the tumour, not the centre.
    path = tmp_path / "tf.tsv"
    pd.DataFrame({"sample_id": ["S1", "S2"], "tumour_fraction": [0.4, 0.0],
                  "tf_detected": [True, False], "ploidy": [2.6, 2.0],
                  "tumour_fraction_fit": [0.4, 0.01], "ploidy_fit": [2.1, 5.0]}).to_csv(
        path, sep="\t", index=False)
    tf = read_tumour_fraction(path)
    centre = tf.set_index("sample_id")["centre_copy_number"]
    assert centre["S1"] == pytest.approx(2 * 0.6 + 2.1 * 0.4)
    assert centre["S2"] == pytest.approx(2 * 0.99 + 5.0 * 0.01)
    # A CN-4 segment at TF 0.4 read against that centre comes back as 4 (2.6 would give 4.7).
    log2 = np.log2((2 * 0.6 + 4 * 0.4) / centre["S1"])
    assert tumour_cn_from_log2(log2, 0.4, centre=centre["S1"]) == pytest.approx(4.0)
    assert tumour_cn_from_log2(log2, 0.4, 2.6) == pytest.approx(4.69, abs=0.01)


def _write_patient(tmp_path, specs, tcs, segments, seed=4, **config):
    """tracked / tumour-fraction / segments tables for one patient X: specs are (chrom, pos,
    ccf, tumour CN, multiplicity) of heterozygous SNVs at 800x; segments give total CN only."""
    rng = np.random.default_rng(seed)
    rows = []
    for chrom, pos, ccf, cn, m in specs:
        for sid, (day, t) in tcs.items():
            depth = 800
            vaf = t * ccf * m / ((1 - t) * 2 + t * cn)
            alt = int(rng.binomial(depth, vaf))
            rows.append({"patient_id": "X", "sample_id": sid, "sample_type": "plasma",
                         "timepoint_days": day, "chrom": chrom, "pos": pos, "ref": "C",
                         "alt": "T", "gene": "G" + chrom[3:], "ref_count": depth - alt,
                         "alt_count": alt, "category": "somatic", "status": "detected"})
    pd.DataFrame(rows).to_csv(tmp_path / "tracked.tsv", sep="\t", index=False)
    pd.DataFrame({"sample_id": list(tcs), "tumour_fraction": [t for _, t in tcs.values()]}).to_csv(
        tmp_path / "tf.tsv", sep="\t", index=False)
    pd.DataFrame(segments, columns=["chrom", "start", "end", "tumour_copy_number"]).to_csv(
        tmp_path / "segments.tsv", sep="\t", index=False)
    return ClonalSettings.from_config({"copy_number": "table", "tumour_content": "cnv",
                                       "copy_number_table": str(tmp_path / "segments.tsv"),
                                       **config})


def test_variants_no_ccf_explains_are_set_aside_or_read_as_loh(tmp_path):
    """Total copy numbers only. A TP53 SNV on both copies of a copy-neutral LOH region (VAF =
    TF, twice what one allele gives) is kept with LOH assumed and joins the trunk. A SNV in an
    amplicon whose copy number was not measured (CN 2 assumed, VAF 0.10 at TF 0.03, as make demo's
    P07 GRB7) fits no CCF even so: it is left out, flagged vaf_exceeds_copy_number, and the
    other variants keep binomial counts (with it, the fitted precision fell to 20)."""
    tcs = {"X_D1": (0, 0.30), "X_D2": (30, 0.35), "X_D3": (50, 0.25)}
    specs = ([("chr1", 1000 + 100 * i, 1.0, 2, 1) for i in range(6)]
             + [("chr2", 1000 + 100 * i, 0.4, 2, 1) for i in range(5)]
             + [("chr17", 3000, 1.0, 2, 2),  # cnLOH: both copies mutant
                ("chr17", 9000, 1.0, 40, 39)])  # amplicon, measured as CN 2
    settings = _write_patient(tmp_path, specs, tcs, [("chr1", 0, 10**6, 2),
                                                     ("chr2", 0, 10**6, 2),
                                                     ("chr17", 0, 10**6, 2)])
    tables = run_pipeline(tmp_path / "tracked.tsv", tmp_path / "tf.tsv", {}, settings=settings)
    v = tables["variants"].set_index(["chrom", "pos"])
    amp, loh = ("chr17", 9000), ("chr17", 3000)
    assert v.loc[amp, "flags"] == "vaf_exceeds_copy_number" and pd.isna(v.loc[amp, "cluster_id"])
    trunk = v.loc[("chr1", 1000), "cluster_id"]
    assert v.loc[loh, "cluster_id"] == trunk and v.loc[loh, "multiplicity"] == 2
    assert v.loc["chr1", "cluster_id"].eq(trunk).all()
    sub = v.loc["chr2", "cluster_id"]
    assert sub.nunique() == 1 and sub.iloc[0] != trunk
    note = tables["tree"]["note"].iloc[0]
    assert "loss of heterozygosity assumed" in note and "G17 chr17:3000:C>T" in note
    assert "(G17 chr17:9000:C>T) were not clustered (flag vaf_exceeds_copy_number)" in note
    assert "binomial counts" in note


def test_amplified_allele_variant_without_allele_specific_copy_number(tmp_path):
    """A truncal SNV on the amplified allele of a CN-20 focal amplicon (the demo's P04 PGAP3:
    VAF 0.70-0.79 at TF 0.22-0.31) with total copy numbers only (as from the .cns segments).
    Its multiplicity may be up to CN - 1 = 19 (one allele amplified, the other kept); with the
    old bound ceil(CN / 2) = 10 it read CCF ~1.9, the only fit was a beta-binomial precision of
    10, and the patient collapsed into one cluster called 'limited' (ARI 0). The LOH check of
    copy_number_outliers would also rescue it; it is switched off here so that the bound alone
    is tested."""
    tcs = {"X_D1": (0, 0.22), "X_D2": (30, 0.31), "X_D3": (50, 0.30)}
    specs = ([("chr1", 1000 + 100 * i, 1.0, 2, 1) for i in range(6)]  # trunk, CN 2
             + [("chr2", 1000 + 100 * i, 0.35, 2, 1) for i in range(5)]  # subclone, CN 2
             + [("chr17", 5000, 1.0, 20, 19)])  # trunk, on the amplified allele
    settings = _write_patient(tmp_path, specs, tcs, [("chr1", 0, 10**6, 2),
                                                     ("chr2", 0, 10**6, 2),
                                                     ("chr17", 4000, 6000, 20)],
                              copy_number_outlier_p=1e-300)
    tables = run_pipeline(tmp_path / "tracked.tsv", tmp_path / "tf.tsv", {}, settings=settings)
    v = tables["variants"].set_index("chrom")
    amp = v.loc["chr17"]
    assert amp["multiplicity"] >= 15
    trunk = v.loc["chr1", "cluster_id"].unique()
    assert len(trunk) == 1 and amp["cluster_id"] == trunk[0]
    assert v.loc["chr2", "cluster_id"].nunique() == 1
    assert v.loc["chr2", "cluster_id"].iloc[0] != trunk[0]
    tree = tables["tree"]
    assert (tree["clonal_resolution"] == "resolved").all()
    assert "precision 10 " not in tree["note"].iloc[0]
