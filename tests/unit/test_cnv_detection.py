"""Detection thresholds in the cohort summary (plasmatrack.cnv.pipeline.summarise): a shared
state path counts as given only when the draws that define it carry enough evidence."""
from __future__ import annotations

import numpy as np
import pandas as pd

from plasmatrack.cnv.genes import GeneSettings, gene_stats
from plasmatrack.cnv.pipeline import samples_frame, summarise
from plasmatrack.cnv.summary import SummaryOutputs, SummarySettings
from plasmatrack.cnv.tumour_fraction import DetectionSettings
from plasmatrack.io import write_tsv

# sample -> (patient, type, fit mode, llr, fitted TF)
FITS = {
    # P1: a path its draws chased together (LLR 9 + 3 < 14, the path-free threshold)
    "P1_D1": ("P1", "plasma", "joint", 9.0, 0.15),
    "P1_D2": ("P1", "plasma", "joint", 3.0, 0.05),
    "P1_N": ("P1", "normal", "conditional", 0.5, 0.01),
    # P2: a path a strong draw established; its weak draw is read off it (LLR 6 >= 5)
    "P2_D1": ("P2", "plasma", "joint", 40.0, 0.30),
    "P2_D2": ("P2", "plasma", "joint", 6.0, 0.06),
    "P2_N": ("P2", "normal", "conditional", 1.0, 0.01),
    # P3: one draw, fitted alone
    "P3_D1": ("P3", "plasma", "single", 20.0, 0.20),
}


def test_weak_joint_paths_are_judged_as_path_free(tmp_path):
    rng = np.random.default_rng(1)
    genes = pd.DataFrame({"chromosome": ["chr1"], "start": [0], "end": [500_000],
                          "name": ["G1"]})
    fit_paths, stat_paths, rows = {}, {}, []
    for i, (sid, (pid, kind, mode, llr, tf)) in enumerate(FITS.items()):
        fit = {"sample_id": sid, "tumour_fraction_fit": tf, "tf_lower": tf / 2,
               "tf_upper": tf * 1.5, "ploidy": 2.1, "ploidy_fit": 2.1, "llr": llr,
               "altered_fraction": 0.2, "n_bins": 300, "fit_mode": mode, "method": "hmm:test"}
        fit_paths[sid] = tmp_path / f"{sid}.tf.tsv"
        write_tsv(pd.DataFrame([fit]), fit_paths[sid])
        starts = np.arange(20) * 25_000
        bins = pd.DataFrame({"chromosome": "chr1", "start": starts, "end": starts + 20_000,
                             "log2": rng.normal(0, 0.05, 20), "weight": 1.0})
        stat_paths[sid] = tmp_path / f"{sid}.gs.tsv"
        write_tsv(gene_stats(bins, genes).assign(sample_id=sid), stat_paths[sid])
        rows.append({"sample_id": sid, "patient_id": pid, "sample_type": kind,
                     "timepoint_days": None if kind == "normal" else i * 30})
    tf, _ = summarise(samples_frame(rows), {s: str(p) for s, p in fit_paths.items()},
                      {s: str(p) for s, p in stat_paths.items()}, ["P1_N", "P2_N"],
                      SummarySettings(floor=DetectionSettings(min_llr=14.0), margin=1.5,
                                      genes=GeneSettings(), her2_gene="G1",
                                      floor_joint=DetectionSettings(min_llr=5.0)),
                      SummaryOutputs(tmp_path / "tf.tsv", tmp_path / "genes.tsv",
                                     tmp_path / "g1.tsv"))
    tf = tf.set_index("sample_id")
    detected = tf["tf_detected"].to_dict()
    assert detected == {"P1_D1": False, "P1_D2": False, "P1_N": False, "P2_D1": True,
                        "P2_D2": True, "P2_N": False, "P3_D1": True}
    assert tf.loc["P1_D1", "min_llr"] == 14.0 and tf.loc["P1_D1", "path_llr"] == 12.0
    assert tf.loc["P1_D1", "tumour_fraction"] == 0.0
    # the joint floor, raised to 1.5 x the normals' largest LLR (1.0) only if above 5
    assert tf.loc["P2_D2", "min_llr"] == 5.0 and tf.loc["P2_D2", "path_llr"] == 46.0
    assert tf.loc["P2_D2", "tumour_fraction"] == 0.06
    assert np.isnan(tf.loc["P3_D1", "path_llr"]) and tf.loc["P3_D1", "min_llr"] == 14.0
