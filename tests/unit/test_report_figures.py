"""Report figures: pure functions of small tables built here; assertions on what is drawn."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from plasmatrack.report.cohort_figures import _at_risk, burden_waterfall, forest_plot, \
    fragment_length_profiles, km_plot, qc_metrics, qc_passed, swimmer_plot
from plasmatrack.report.patient_figures import clone_fish_plot, clone_tree, fish_layout, \
    gene_copy_number_over_time, genome_copy_number, treatment_timeline, \
    tumour_fraction_over_time, vaf_trajectories, variant_label
from plasmatrack.report.plotting import RESPONSE_COLOURS, esc
from plasmatrack.units import DAYS_PER_MONTH


def test_esc_makes_plotly_pseudo_html_inert():
    assert esc('<a href="javascript:x">G</a>') == \
        "&lt;a href=&#34;javascript:x&#34;&gt;G&lt;/a&gt;"
    assert esc("it's & <b>") == "it&#39;s &amp; &lt;b&gt;"
    assert esc(None) == "" and esc(float("nan")) == ""


def test_fish_layout_nests_children_centred_inside_parent():
    prev = pd.DataFrame({"cluster_id": ["1", "2", "3", "4"] * 2,
                         "timepoint_days": [0] * 4 + [60] * 4,
                         "prevalence": [1.0, 0.6, 0.3, 0.2, 0.8, 0.0, 0.8, 0.0]})
    tree = pd.DataFrame({"cluster_id": ["1", "2", "3", "4"], "parent_cluster_id": ["", "1", "1", "2"]})
    bands, scaled = fish_layout(prev, tree)
    assert not scaled
    b = bands.set_index(["cluster_id", "timepoint_days"])
    # day 0: trunk [0, 1]; children 0.6 + 0.3 centred -> start 0.05
    assert b.loc[("1", 0)].tolist() == pytest.approx([0.0, 1.0])
    assert b.loc[("2", 0)].tolist() == pytest.approx([0.05, 0.65])
    assert b.loc[("3", 0)].tolist() == pytest.approx([0.65, 0.95])
    # grandchild 0.2 centred in clone 2's 0.6 band
    assert b.loc[("4", 0)].tolist() == pytest.approx([0.25, 0.45])
    # day 60: trunk 0.8 centred on the axis, clone 2 gone, clone 3 fills the trunk
    assert b.loc[("1", 60)].tolist() == pytest.approx([0.1, 0.9])
    assert b.loc[("3", 60)].tolist() == pytest.approx([0.1, 0.9])
    # every child inside its parent at every time
    for child, parent in (("2", "1"), ("3", "1"), ("4", "2")):
        for t in (0, 60):
            assert b.loc[(child, t), "lower"] >= b.loc[(parent, t), "lower"] - 1e-12
            assert b.loc[(child, t), "upper"] <= b.loc[(parent, t), "upper"] + 1e-12


def test_fish_layout_scales_children_when_sum_rule_is_violated():
    prev = pd.DataFrame({"cluster_id": ["1", "2", "3"], "timepoint_days": [0, 0, 0],
                         "prevalence": [0.5, 0.4, 0.4]})
    tree = pd.DataFrame({"cluster_id": ["1", "2", "3"], "parent_cluster_id": ["", "1", "1"]})
    bands, scaled = fish_layout(prev, tree)
    assert scaled
    b = bands.set_index("cluster_id")
    widths = b["upper"] - b["lower"]
    assert widths["2"] + widths["3"] == pytest.approx(0.5)
    assert widths["2"] == pytest.approx(0.25)
    fig, scaled2 = clone_fish_plot(prev, tree, {"2": "PIK3CA"})
    assert scaled2 and len(fig.data) == 3
    # an excess within estimation noise is drawn nested without a sum-rule warning
    near = prev.assign(prevalence=[0.5, 0.26, 0.26])
    bands, scaled3 = fish_layout(near, tree)
    assert not scaled3
    b = bands.set_index("cluster_id")
    assert (b["upper"] - b["lower"])[["2", "3"]].sum() == pytest.approx(0.5)


def test_clone_tree_places_children_right_of_parents():
    tree = pd.DataFrame({"cluster_id": ["1", "2", "3"], "parent_cluster_id": ["", "1", "2"]})
    fig = clone_tree(tree, ["1", "2", "3"], {"3": "ESR1 D538G"})
    nodes = fig.data[1]
    xs = dict(zip([t.split("<br>")[0] for t in nodes.text], nodes.x))
    assert xs["clone 1"] == 0 and xs["clone 2"] == 1 and xs["clone 3"] == 2
    assert any("ESR1 D538G" in t for t in nodes.text)
    # a forest (two roots) is drawn and said
    forest = clone_tree(pd.DataFrame({"cluster_id": ["1", "2"], "parent_cluster_id": ["", ""]}),
                          ["1", "2"])
    assert "forest" in forest.layout.title.text


def _tf_rows():
    return pd.DataFrame({"sample_id": ["A_D1", "A_D2", "A_D3"], "timepoint_days": [0, 40, 200],
                         "tumour_fraction": [0.2, 0.0, 0.3], "tf_lower": [0.15, 0.0, 0.25],
                         "tf_upper": [0.26, 0.01, 0.33], "tf_detected": [True, False, True]})


def test_tumour_fraction_plot_intervals_and_detection_markers():
    snv = pd.DataFrame({"sample_id": ["A_D1"], "timepoint_days": [0],
                        "tumour_fraction_snv": [0.22], "tf_snv_lower": [0.2],
                        "tf_snv_upper": [0.25], "n_variants": [5]})
    fig = tumour_fraction_over_time(_tf_rows(), snv, ttf_days=200.0, ttf_event=1)
    cn, sv = fig.data
    assert np.allclose(cn.error_y.array, [0.06, 0.01, 0.03])
    assert np.allclose(cn.error_y.arrayminus, [0.05, 0.0, 0.05])
    assert list(cn.marker.symbol) == ["circle", "circle-open", "circle"]
    assert np.allclose(sv.error_y.array, [0.03]) and "5 SNVs" in sv.text[0]
    assert tumour_fraction_over_time(None, None) is None


def test_gene_copy_number_plot_thresholds_and_not_estimable():
    rows = pd.DataFrame({"sample_id": ["A_D1", "A_D2"], "timepoint_days": [0, 40],
                         "gene": ["ERBB2"] * 2, "plasma_copy_number": [4.1, 2.05],
                         "tumour_copy_number": [12.5, np.nan],
                         "tumour_copy_number_lower": [10.0, np.nan],
                         "tumour_copy_number_upper": [15.0, np.nan],
                         "amplified": [True, False]})
    fig = gene_copy_number_over_time(rows, "ERBB2", pcn_threshold=2.4)
    pcn = fig.data[0]
    assert list(pcn.marker.color) == ["#c2185b", "#1f77b4"]
    hlines = [s for s in fig.layout.shapes if s.y0 == s.y1]
    assert {round(s.y0, 3) for s in hlines} >= {2.4, 6.0, 2.0}
    tumour = [t for t in fig.data if t.name == "tumour copy number"][0]
    assert list(tumour.y) == [12.5] and np.allclose(tumour.error_y.array, [2.5])
    missing = [t for t in fig.data if "not estimable" in t.name][0]
    assert list(missing.x) == [40]


def _variants():
    rows = []
    spec = [("TP53", "somatic", [0.1, 0.0, 0.15], ["detected", "not_detected", "detected"]),
            ("ESR1", "somatic", [0.0, 0.0, 0.02], ["not_detected", "undetermined", "detected"]),
            ("DNMT3A", "chip", [0.03, 0.03, 0.03], ["detected"] * 3),
            ("BRCA2", "germline", [0.5, 0.5, 0.5], ["detected"] * 3),
            ("AKT1", "somatic", [0.0, 0.001, 0.0], ["not_detected", "undetermined",
                                                     "not_detected"])]
    for k, (gene, cat, vafs, statuses) in enumerate(spec):
        for (sid, day), vaf, status in zip((("A_D1", 0), ("A_D2", 40), ("A_D3", 200)), vafs,
                                           statuses):
            rows.append({"patient_id": "A", "sample_id": sid, "sample_type": "plasma",
                         "timepoint_days": day, "chrom": "chr1", "pos": 1000 + k, "ref": "C",
                         "alt": "T", "gene": gene, "vaf": vaf, "vaf_lower": max(0, vaf - 0.01),
                         "vaf_upper": vaf + 0.01, "status": status, "category": cat})
        rows.append({**rows[-1], "sample_id": "A_N", "sample_type": "normal",
                     "timepoint_days": np.nan})
    return pd.DataFrame(rows)


def test_vaf_trajectories_hide_germline_and_chip_and_switch_scale():
    fig = vaf_trajectories(_variants(), _tf_rows())
    by_name = {t.name: t for t in fig.data}
    assert len(fig.data) == 6  # 5 variants + TF/2
    never = [t for t in fig.data if t.name.endswith("(never detected)")]
    assert len(never) == 1 and never[0].visible == "legendonly"
    assert never[0].name.startswith("AKT1")
    somatic = [t for t in fig.data if t.legendgroup == "somatic" and t not in never]
    hidden = [t for t in fig.data if t.legendgroup in ("germline", "chip")]
    assert len(somatic) == 2 and all(t.visible is True for t in somatic)
    assert len(hidden) == 2 and all(t.visible == "legendonly" for t in hidden)
    # the normal's row is not a plasma draw
    assert all(len(t.x) == 3 for t in somatic + hidden)
    esr1 = [t for t in somatic if t.name.startswith("ESR1")][0]
    assert list(esr1.marker.symbol) == ["circle-open", "diamond-open", "circle"]
    assert list(esr1.text) == ["", "", esr1.name]  # gene label at the last draw
    scale, show = fig.layout.updatemenus
    assert [b.args[0]["yaxis.type"] for b in scale.buttons] == ["linear", "log"]
    assert show.buttons[1].args[0]["visible"] == [True] * 6
    assert show.buttons[0].args[0]["visible"].count("legendonly") == 3
    tf_half = by_name["TF/2 (copy number)"]
    assert np.allclose(tf_half.y, [0.1, 0.0, 0.15])


def test_variant_label_prefers_protein_change():
    row = {"gene": "PIK3CA", "protein_change": "H1047R", "chrom": "chr3", "pos": 5, "ref": "A",
           "alt": "G"}
    assert variant_label(row) == "PIK3CA H1047R"
    assert variant_label({**row, "protein_change": np.nan}) == "PIK3CA chr3:5 A>G"


def _cnr(n_per_contig=200, gene_bins=(50, 53)):
    rows = []
    for chrom in ("chr1", "chr17"):
        for i in range(n_per_contig):
            gene = "ERBB2" if chrom == "chr17" and gene_bins[0] <= i < gene_bins[1] else "-"
            rows.append((chrom, i * 1000, (i + 1) * 1000, gene, 2.0 if gene == "ERBB2" else 0.01))
    return pd.DataFrame(rows, columns=["chromosome", "start", "end", "gene", "log2"])


def test_genome_copy_number_offsets_pooling_and_gene_bins():
    cnr = _cnr()
    cns = pd.DataFrame({"chromosome": ["chr1", "chr17"], "start": [0, 0],
                        "end": [200_000, 200_000], "log2": [0.0, 0.1]})
    fig = genome_copy_number([("A_D1", "A_D1 (day 0)", cnr, cns)], "ERBB2",
                               ("chr17", 50_000, 53_000), max_bins=100)
    bins, gene, segs = fig.data[:3]
    assert len(bins.x) <= 100 + 3
    # gene bins drawn unpooled at their genome positions (chr17 offset = chr1 length)
    assert np.allclose(sorted(gene.x), [200_000 + 50_500, 200_000 + 51_500, 200_000 + 52_500])
    assert np.allclose(gene.y, 2.0)
    assert [x for x in segs.x if x is not None] == [0, 200_000, 200_000, 400_000]
    assert list(fig.layout.xaxis.ticktext) == ["1", "17"]
    assert genome_copy_number([("A", "A", pd.DataFrame(columns=cnr.columns), None)],
                                "ERBB2") is None


def test_fragment_profiles_individual_then_aggregated():
    def hist(mode):
        lengths = np.arange(50, 400)
        return pd.DataFrame({"length": lengths,
                             "count": np.round(1000 * np.exp(-0.5 * ((lengths - mode) / 15) ** 2))})
    qc = pd.DataFrame({"sample_id": ["S1", "S2", "S3"], "sample_type": ["plasma", "plasma",
                                                                         "normal"],
                       "qc_pass": [True, False, True]})
    profiles = {"S1": hist(167), "S2": hist(150), "S3": hist(250)}
    fig = fragment_length_profiles(profiles, qc, max_individual=5)
    assert len(fig.data) == 3
    by = {t.name: t for t in fig.data}
    assert by["S2"].line.color == "#c2185b" and by["S3"].line.color == "#9e9e9e"
    assert sum(by["S1"].y) == pytest.approx(1.0)
    assert by["S1"].x[int(np.argmax(by["S1"].y))] == 167
    agg = fragment_length_profiles(profiles, qc, max_individual=2)
    names = [t.name for t in agg.data]
    assert names == ["normal 10-90%", "normal median (1 samples)", "plasma 10-90%",
                     "plasma median (2 samples)", "S2 (QC fail)"]


def test_qc_passed_reads_bool_text_and_numbers():
    qc = pd.DataFrame({"qc_pass": ["True", "False", "PASS", "FAIL", "1", "0", ""]})
    assert qc_passed(qc).tolist() == [True, False, True, False, True, False, pd.NA]


def test_qc_metrics_marks_failures_with_reason():
    qc = pd.DataFrame({"sample_id": ["S1", "S2"], "sample_type": ["plasma", "plasma"],
                       "duplicate_rate": [0.1, 0.7], "fragment_mode": [167, 166],
                       "qc_pass": [True, False], "qc_reason": ["", "duplicate rate 0.7 > 0.6"]})
    fig = qc_metrics(qc)
    fails = [t for t in fig.data if t.name == "fail"]
    assert len(fails) == 2 and all(list(t.y) in ([0.7], [166]) for t in fails)
    assert "duplicate rate 0.7 &gt; 0.6" in fails[0].text[0]


def test_burden_waterfall_sorted_and_coloured_by_response():
    burden = pd.DataFrame({"patient_id": ["P1", "P2", "P3", "P4"],
                           "her2_burden": [0.5, 3.0, 0.0, 1.2]})
    response = pd.Series({"P1": "PR", "P2": "PD", "P3": "CR"})
    fig = burden_waterfall(burden, response)
    assert list(fig.layout.xaxis.categoryarray) == ["P2", "P4", "P1", "P3"]
    colours = {t.name: t.marker.color for t in fig.data}
    assert colours == {"CR": RESPONSE_COLOURS["CR"], "PR": RESPONSE_COLOURS["PR"],
                       "PD": RESPONSE_COLOURS["PD"], "unknown": RESPONSE_COLOURS["unknown"]}


def test_km_plot_numbers_at_risk_censoring_and_title():
    from lifelines import KaplanMeierFitter

    t = np.array([1.0, 2.0, 2.5, 3.0, 4.0, 6.0, 7.5, 9.0])
    e = np.array([1, 0, 1, 1, 0, 1, 0, 1])
    km = KaplanMeierFitter().fit(t, e)
    table = km.event_table.iloc[1:]  # lifelines' first row is time 0
    curves = pd.DataFrame({"analysis": "TTF", "group": "all", "time": table.index,
                           "survival": km.survival_function_.iloc[1:, 0].to_numpy(),
                           "ci_lower": km.confidence_interval_.iloc[1:, 0].to_numpy(),
                           "ci_upper": km.confidence_interval_.iloc[1:, 1].to_numpy(),
                           "at_risk": table["at_risk"].to_numpy()})
    ticks = np.array([0, 2, 4, 6, 8, 10])
    assert _at_risk(curves, ticks) == [int((t >= x).sum()) for x in ticks]
    fig = km_plot(curves, "TTF", {"p_value": 0.0074, "hazard_ratio": 0.57, "hr_lower": 0.38,
                                    "hr_upper": 0.87})
    assert fig.layout.title.text == "TTF: Kaplan-Meier (log-rank p = 0.0074, HR 0.57 (0.38-0.87))"
    # issue 23: "adjusted" only for a cut chosen from the data (cut_selection, or a maximally
    # selected test in older tables); a median split's p_value_adjusted repeats its p_value
    maxstat = km_plot(curves, "TTF", {"p_value": 0.001, "p_value_adjusted": 0.034,
                                      "cut_selection": "data-chosen"})
    assert maxstat.layout.title.text == ("TTF: Kaplan-Meier (exploratory, data-chosen cut: "
                                         "cut-point-adjusted log-rank p = 0.034)")
    old = km_plot(curves, "TTF", {"p_value": 0.001, "p_value_adjusted": 0.034,
                                  "test": "maximally selected log-rank statistic"})
    assert old.layout.title.text == maxstat.layout.title.text
    median = km_plot(curves, "TTF", {"p_value": 0.02, "p_value_adjusted": 0.02,
                                     "cut_selection": "pre-specified"})
    assert median.layout.title.text == "TTF: Kaplan-Meier (log-rank p = 0.020)"
    assert "adjusted" not in km_plot(curves, "TTF", {"p_value": 0.02,
                                                     "p_value_adjusted": 0.02}).layout.title.text
    censor = [tr for tr in fig.data if tr.mode == "markers"][0]
    assert sorted(censor.x) == [2.0, 4.0, 7.5]
    at_risk = [tr for tr in fig.data if tr.mode == "text"][0]
    assert list(at_risk.text) == [str(int((t >= x).sum())) for x in at_risk.x]


def test_forest_plot_log_axis_and_intervals():
    surv = pd.DataFrame({"analysis": ["cox burden", "lr"], "endpoint": ["TTF", "TTF"],
                         "n": [14, 14], "events": [10, 10], "p_value": [0.01, 0.2],
                         "hazard_ratio": [2.0, np.nan], "hr_lower": [1.2, np.nan],
                         "hr_upper": [3.5, np.nan]})
    fig = forest_plot(surv)
    assert fig.layout.xaxis.type == "log"
    assert "not estimable" not in fig.layout.title.text
    tr = fig.data[0]
    assert list(tr.x) == [2.0] and np.allclose(tr.error_x.array, [1.5])
    assert np.allclose(tr.error_x.arrayminus, [0.8])


def test_swimmer_orders_by_ttf_and_marks_events():
    clinical = pd.DataFrame({"patient_id": ["P1", "P2", "P3"], "ttf_months": [5.0, 2.0, 9.0],
                             "ttf_event": [1, 1, 0], "best_response": ["PR", "PD", "CR"]})
    draws = pd.DataFrame({"sample_id": ["P1_D1", "P1_D2", "P3_D1"],
                          "patient_id": ["P1", "P1", "P3"], "timepoint_days": [0, 61, 0]})
    tf = pd.DataFrame({"sample_id": ["P1_D1", "P1_D2"], "tf_detected": [True, False]})
    fig = swimmer_plot(clinical, draws, tf)
    assert list(fig.layout.yaxis.categoryarray) == ["P2", "P1", "P3"]
    by = {t.name: t for t in fig.data}
    assert sorted(by["treatment failure"].y) == ["P1", "P2"]
    assert list(by["censored"].y) == ["P3"]
    assert list(by["ctDNA not detected"].x) == pytest.approx([61 / DAYS_PER_MONTH])
    assert list(by["draw (TF not assessed)"].y) == ["P3"]


def test_treatment_timeline_without_clinical_shows_draws_only():
    draws = pd.DataFrame({"sample_id": ["A_D1", "A_D2"], "timepoint_days": [-3, 42]})
    fig = treatment_timeline("A", draws, None)
    assert [t.name for t in fig.data] == ["plasma draw"]
    fig = treatment_timeline("A", draws, {"ttf_months": 2.0, "ttf_event": 0,
                                            "best_response": "SD"})
    marker = [t for t in fig.data if t.name.startswith("censored")][0]
    assert list(marker.x) == pytest.approx([2.0 * DAYS_PER_MONTH])
    assert "best response SD" in fig.layout.title.text


def test_degenerate_hazard_ratios_are_not_drawn():
    surv = pd.DataFrame({"analysis": ["ok", "separated"], "endpoint": ["TTF", "TTF"],
                         "n": [40, 2], "events": [30, 2], "p_value": [0.01, 0.3],
                         "hazard_ratio": [1.8, 9.5e6], "hr_lower": [1.1, 0.0],
                         "hr_upper": [2.9, np.inf]})
    fig = forest_plot(surv)
    assert list(fig.data[0].x) == [1.8]
    assert "(1 not estimable, not drawn)" in fig.layout.title.text
    curves = pd.DataFrame({"analysis": "separated", "group": ["high", "low"], "time": [1.0, 2.0],
                           "survival": [0.0, 0.0], "ci_lower": [0.0, 0.0], "ci_upper": [1.0, 1.0],
                           "at_risk": [1, 1]})
    km = km_plot(curves, "separated", surv.iloc[1].to_dict())
    assert km.layout.title.text.endswith("HR not estimable)")
