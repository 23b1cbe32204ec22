"""Clone labels name variants by protein change (issue 24): hotspot names first, then
protein-altering changes of the transcript model, silent ones last, positions only without one."""

import numpy as np
import pandas as pd

from plasmatrack.clonal.pipeline import cluster_markers


def _ann(rows):
    return pd.DataFrame(rows, columns=["gene", "protein_change", "source", "consequence", "chrom",
                                       "pos", "ref", "alt"])


def test_hotspot_then_altering_then_silent():
    ann = _ann([("TET2", "L137=", "discovered", "synonymous", "chr4", 10, "C", "T"),
                ("MTOR", "R83Gfs*14", "discovered", "frameshift", "chr1", 20, "AC", "A"),
                ("TP53", "R175H", "discovered,hotspot", "missense", "chr17", 30, "G", "A")])
    label, genes = cluster_markers(ann, np.zeros(3, dtype=int), 1)
    assert label[0] == "TP53 R175H + MTOR R83Gfs*14 (+1 more)"
    assert genes[0] == "MTOR,TET2,TP53"


def test_silent_change_still_beats_a_bare_position():
    ann = _ann([("", "", "discovered", "intergenic", "chr4", 10, "C", "T"),
                ("CDH1", "G15=", "discovered", "synonymous", "chr16", 20, "A", "G")])
    label, _ = cluster_markers(ann, np.zeros(2, dtype=int), 1)
    assert label[0] == "CDH1 G15= + chr4:10 C>T"


def test_without_a_transcript_model_labels_are_as_before():
    ann = _ann([("PIK3CA", "", "discovered", "", "chr3", 10, "C", "T"),
                ("PIK3CA", "H1047R", "discovered,hotspot", "", "chr3", 20, "A", "G")])
    label, _ = cluster_markers(ann, np.zeros(2, dtype=int), 1)
    assert label[0] == "PIK3CA H1047R + PIK3CA chr3:10 C>T"
