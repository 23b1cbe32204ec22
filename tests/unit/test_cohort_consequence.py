"""Which ERBB2 variants count as "a somatic ERBB2 mutation" in the HER2 burden once the variants
stage gives consequences (issue 24, docs/cohort.md)."""

import numpy as np
import pandas as pd

from plasmatrack.cohort.draws import draw_metrics


def _tables(rows):
    """rows: (consequence, protein_change, vaf) of somatic ERBB2 variants in one draw."""
    tf = pd.DataFrame({"sample_id": ["M1"], "patient_id": ["M"], "timepoint_days": [0],
                       "tumour_fraction": [0.1], "tf_lower": [0.08], "tf_upper": [0.12],
                       "ploidy": [2.0], "tf_detected": [True], "method": ["hmm"]})
    variants = pd.DataFrame([{"patient_id": "M", "sample_id": "M1", "sample_type": "plasma",
                              "timepoint_days": 0, "chrom": "chr17", "pos": 100 + i, "ref": "T",
                              "alt": "C", "gene": "ERBB2", "protein_change": p, "vaf": v,
                              "status": "detected", "category": "somatic", "consequence": c}
                             for i, (c, p, v) in enumerate(rows)])
    return tf, variants


def test_only_protein_altering_variants_count():
    tf, v = _tables([("missense", "L755S", 0.05), ("synonymous", "T862=", 0.3),
                     ("intronic", "", 0.2), ("utr_3", "", 0.25), ("splice_region", "", 0.22)])
    row = draw_metrics(tf, None, v).iloc[0]
    assert np.isclose(row["erbb2_mutation_vaf"], 0.05) and row["erbb2_mutation"] == "L755S"


def test_splice_site_and_frameshift_count():
    tf, v = _tables([("splice_site", "", 0.04), ("frameshift", "K15Efs*28", 0.07)])
    row = draw_metrics(tf, None, v).iloc[0]
    assert np.isclose(row["erbb2_mutation_vaf"], 0.07) and row["erbb2_mutation"] == "K15Efs*28"


def test_only_silent_variants_leave_the_patient_unmutated():
    tf, v = _tables([("synonymous", "A61=", 0.3), ("intronic", "", 0.2)])
    row = draw_metrics(tf, None, v).iloc[0]
    assert row["erbb2_mutation_vaf"] == 0 and row["erbb2_mutation"] == ""


def test_without_consequences_every_non_silent_variant_counts_as_before():
    tf, v = _tables([("", "L755S", 0.05), ("", "T862T", 0.3)])
    row = draw_metrics(tf, None, v.assign(consequence=np.nan)).iloc[0]
    assert np.isclose(row["erbb2_mutation_vaf"], 0.05)
