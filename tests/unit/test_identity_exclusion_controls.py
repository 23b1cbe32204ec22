"""Samples that fail sample identity (or, for copy number, are contaminated) are nobody's
control (issue 22): they do not calibrate copy-number detection (rule ``cnv_summary``,
``cnv.pipeline.summarise``), do not feed the variants background (rule ``variants_background``,
``variants.pipeline.fit_background``), and ``plasmatrack cnv --identity`` leaves such normals
out of its panel of normals and calibration, as the rules do."""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd
import pytest

from plasmatrack.cnv import standalone
from plasmatrack.cnv.genes import GeneSettings, gene_stats
from plasmatrack.cnv.pipeline import samples_frame, summarise
from plasmatrack.cnv.summary import SummaryOutputs, SummarySettings
from plasmatrack.cnv.tumour_fraction import DetectionSettings
from plasmatrack.commands import cnv as cnv_command
from plasmatrack.io import read_tsv, write_tsv
from plasmatrack.variants.pipeline import fit_background
from plasmatrack.variants.pileup import COUNT_COLUMNS

CONTAMINATED = "contamination 0.034 > max_contamination 0.01 (best fit: P2_D1)"


def _identity(tmp_path, rows) -> str:
    """identity_samples.tsv of rows (sample, identity_ok, best_match, reason)."""
    table = pd.DataFrame([{"sample_id": s, "patient_id": s.split("_")[0],
                           "identity_ok": ok, "best_match": b, "identity_reason": r}
                          for s, ok, b, r in rows])
    path = tmp_path / "identity_samples.tsv"
    write_tsv(table, path)
    return str(path)


# sample -> (patient, type, LLR of its fit alone). P3_N is labelled a normal but holds another
# patient's plasma (its LLR is a tumour's); P4_N is a normal contaminated with plasma.
FITS = {"P1_N": ("P1", "normal", 2.0), "P2_N": ("P2", "normal", 1.0),
        "P3_N": ("P3", "normal", 40.0), "P4_N": ("P4", "normal", 18.0),
        "P1_D1": ("P1", "plasma", 20.0), "P2_D1": ("P2", "plasma", 25.0)}


def _cnv_summary(tmp_path, identity):
    rng = np.random.default_rng(3)
    genes = pd.DataFrame({"chromosome": ["chr1"], "start": [0], "end": [500_000],
                          "name": ["G1"]})
    fit_paths, stat_paths, rows = {}, {}, []
    for sid, (pid, kind, llr) in FITS.items():
        tf = 0.2 if llr > 10 else 0.01
        fit = {"sample_id": sid, "tumour_fraction_fit": tf, "tf_lower": tf / 2,
               "tf_upper": tf * 1.5, "ploidy": 2.0, "ploidy_fit": 2.0, "llr": llr,
               "altered_fraction": 0.2, "n_bins": 300, "fit_mode": "single",
               "method": "hmm:test"}
        fit_paths[sid] = str(tmp_path / f"{sid}.tf.tsv")
        write_tsv(pd.DataFrame([fit]), fit_paths[sid])
        starts = np.arange(20) * 25_000
        bins = pd.DataFrame({"chromosome": "chr1", "start": starts, "end": starts + 20_000,
                             "log2": rng.normal(0, 0.05, 20), "weight": 1.0})
        stat_paths[sid] = str(tmp_path / f"{sid}.gs.tsv")
        write_tsv(gene_stats(bins, genes).assign(sample_id=sid), stat_paths[sid])
        rows.append({"sample_id": sid, "patient_id": pid, "sample_type": kind,
                     "timepoint_days": None if kind == "normal" else 30})
    out = SummaryOutputs(tmp_path / "tf.tsv", tmp_path / "genes.tsv", tmp_path / "g1.tsv",
                         tmp_path / "detection.tsv")
    tf, _ = summarise(samples_frame(rows), fit_paths, stat_paths,
                      ["P1_N", "P2_N", "P3_N", "P4_N"],
                      SummarySettings(floor=DetectionSettings(min_llr=14.0), margin=1.5,
                                      genes=GeneSettings(), her2_gene="G1"), out,
                      identity=identity)
    detection = read_tsv(tmp_path / "detection.tsv").set_index("fit_group")
    return tf.set_index("sample_id"), detection.loc["path-free"]


def test_cnv_detection_is_not_calibrated_on_a_failed_or_contaminated_normal(tmp_path, caplog):
    # Without identity the mislabelled normal (LLR 40) sets the threshold to 1.5 x 40 = 60 and
    # hides both patients' tumour DNA (LLR 20 and 25).
    tf, calib = _cnv_summary(tmp_path, None)
    assert calib["min_llr"] == pytest.approx(60.0)
    assert not tf.loc[["P1_D1", "P2_D1"], "tf_detected"].any()
    assert calib["tumour_free_samples"] == "P1_N,P2_N,P3_N,P4_N"
    # With it, the failed normal and the contaminated one (LLR 18: 1.5 x 18 = 27 would still
    # hide both) do not calibrate: the threshold is the floor (1.5 x 2 = 3 < 14).
    identity = _identity(tmp_path, [("P1_N", True, "P1_D1", ""),
                                    ("P2_N", True, "P2_D1", ""),
                                    ("P3_N", False, "P2_D1", "matches P2_D1 of patient P2"),
                                    ("P4_N", True, "P4_D1", CONTAMINATED),
                                    ("P1_D1", True, "P1_N", ""), ("P2_D1", True, "P2_N", "")])
    with caplog.at_level("WARNING"):
        tf, calib = _cnv_summary(tmp_path, identity)
    assert calib["min_llr"] == pytest.approx(14.0)
    assert calib["tumour_free_samples"] == "P1_N,P2_N"
    assert tf.loc[["P1_D1", "P2_D1"], "tf_detected"].all()
    assert "P3_N: does not calibrate detection (failed identity)" in caplog.text
    assert "P4_N: does not calibrate detection" in caplog.text


def _counts(path, alt, depth=2000):
    row = {c: 0 for c in COUNT_COLUMNS}
    row.update(chrom="chr1", pos=1000, ref="A", alt="C", ref_count=depth - alt, alt_count=alt,
               depth=depth)
    write_tsv(pd.DataFrame([row], columns=COUNT_COLUMNS), path)
    return str(path)


def test_variants_background_leaves_a_failed_draw_out(tmp_path, caplog):
    # A site patient B carries (its tumour at 2 %). A_D1 is labelled patient A but is B's blood:
    # as A's draw it is a control of B's site and lifts B's background 20-fold.
    sites = tmp_path / "sites.tsv"
    write_tsv(pd.DataFrame([{"chrom": "chr1", "pos": 1000, "ref": "A", "alt": "C",
                             "variant_type": "snv", "patients": "B", "tracked_by": "B"}]), sites)
    meta = {"A_N": ("A", "normal"), "A_D1": ("A", "plasma"), "C_N": ("C", "normal"),
            "D_N": ("D", "normal"), "B_D1": ("B", "plasma")}
    alts = {"A_N": 0, "A_D1": 40, "C_N": 1, "D_N": 0, "B_D1": 40}
    counts = {s: _counts(tmp_path / f"{s}.counts.tsv", alts[s]) for s in meta}
    meta = {s: {"patient_id": p, "sample_type": t, "timepoint_days": None}
            for s, (p, t) in meta.items()}
    controls = ["A_N", "C_N", "D_N", "A_D1", "B_D1"]
    identity = _identity(tmp_path, [("A_D1", False, "B_D1", "matches B_D1 of patient B")])

    def background(identity):
        out = {k: str(tmp_path / f"{k}.tsv") for k in ("bg", "threshold", "controls")}
        fit_background(str(sites), counts, meta, controls, {}, out["bg"], out["threshold"],
                       out["controls"], identity=identity)
        return (read_tsv(out["bg"]).iloc[0],
                set(read_tsv(out["controls"])["sample_id"].astype(str)))

    with_draw, used = background(None)
    assert "A_D1" in used and with_draw["control_alt"] == 41
    with caplog.at_level("WARNING"):
        without, used = background(identity)
    assert "A_D1" not in used
    assert without["control_alt"] == 1 and without["control_depth"] == 6000
    assert without["background_rate"] < with_draw["background_rate"] / 5
    assert "A_D1: not a background control (left out: failed identity (best match B_D1))" \
        in caplog.text


def test_cnv_command_leaves_failed_normals_out(tmp_path, monkeypatch, caplog):
    # The command passes --identity on; the standalone run drops the unfit normal BAMs before
    # any coverage is read (the same contract as the rules).
    seen = {}

    def fake_call_bams(run, inputs, settings):
        seen["normals"] = inputs.normal_bams
        raise RuntimeError("stop after the inputs are chosen")

    monkeypatch.setattr(standalone, "_call_bams", fake_call_bams)
    identity = _identity(tmp_path, [("N1", True, "T", ""), ("N2", False, "X9", "swap"),
                                    ("N3", True, "T", CONTAMINATED),
                                    ("T", False, "X9", "matches X9")])
    parser = argparse.ArgumentParser()
    cnv_command.configure_parser(parser)
    args = parser.parse_args(["--bam", "T.bam", "--fasta", "g.fa", "--out", str(tmp_path / "o"),
                              "--normal-bam", "a/N1.bam", "b/N2.bam", "N3.sorted.bam",
                              "--identity", identity])
    with caplog.at_level("WARNING"), pytest.raises(RuntimeError, match="stop after"):
        cnv_command.run(args)
    assert seen["normals"] == ("a/N1.bam",)
    assert "N2: left out of the copy-number reference (failed identity)" in caplog.text
    assert "N3: left out of the copy-number reference (contamination" in caplog.text
    assert "T: left out: failed identity (best match X9)" in caplog.text
    # without --identity every normal is used
    args.identity = None
    with pytest.raises(RuntimeError, match="stop after"):
        cnv_command.run(args)
    assert seen["normals"] == ("a/N1.bam", "b/N2.bam", "N3.sorted.bam")
