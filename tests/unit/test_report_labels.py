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


def test_summary_counts_only_protein_altering_erbb2_mutations():
    import pandas as pd

    from plasmatrack.report.summary import mutation_count

    burden = pd.DataFrame({"patient_id": ["M1", "M2"], "her2_status": ["mutant", "mutant"]})
    variants = pd.DataFrame({"patient_id": ["M1", "M2"], "gene": "ERBB2", "status": "detected",
                             "category": "somatic", "consequence": ["missense", "synonymous"]})
    count = mutation_count(burden, variants, "ERBB2")
    assert (count.k, count.n) == (1, 2)
