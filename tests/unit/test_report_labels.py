"""Reports name synonymous and non-coding variants as such (issue 24)."""

from plasmatrack.report.patient_figures import variant_label

ROW = {"gene": "ERBB2", "chrom": "chr17", "pos": 1650100, "ref": "C", "alt": "T"}


def test_silent_and_non_coding_variants_are_labelled():
    assert variant_label({**ROW, "protein_change": "A61=", "consequence": "synonymous"}) == \
        "ERBB2 A61= (synonymous)"
    assert variant_label({**ROW, "protein_change": "", "consequence": "utr_3"}) == \
        "ERBB2 chr17:1650100 C>T (3' UTR)"
    assert variant_label({**ROW, "protein_change": "", "consequence": "intronic"}) == \
        "ERBB2 chr17:1650100 C>T (intronic)"


def test_protein_altering_and_unannotated_variants_are_unchanged():
    assert variant_label({**ROW, "protein_change": "L755S", "consequence": "missense"}) == \
        "ERBB2 L755S"
    assert variant_label({**ROW, "protein_change": "", "consequence": float("nan")}) == \
        "ERBB2 chr17:1650100 C>T"
