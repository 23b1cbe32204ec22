"""A draw that fails sample identity finds no sites for its patient (issue 22): the variants
stage's discovery does not pool it, and the residual-disease stage's plasma-informed sites do
not come from it. Code-built BAMs (variants.synthetic), no aligner."""

from __future__ import annotations

import pandas as pd
import pytest

from plasmatrack.io import read_tsv
from plasmatrack.qc.identity_exclusion import LEFT_OUT
from plasmatrack.variants import pipeline
from plasmatrack.variants import synthetic as syn


def _alt(base: str) -> str:
    return "ACGT"[("ACGT".index(base) + 2) % 4]


def _identity_table(path, failed: str, best: str) -> str:
    rows = [("A_1", "A", True, "A_2"), (failed, "A", False, best), (best, "B", True, failed)]
    pd.DataFrame([{"sample_id": s, "patient_id": p, "sample_type": "plasma",
                   "identity_ok": ok, "best_match": b} for s, p, ok, b in rows]).to_csv(
        path, sep="\t", index=False)
    return str(path)


@pytest.fixture(scope="module")
def swapped(tmp_path_factory):
    """Patient A's draw A_1 carries A's somatic SNV (VAF 0.08); the tube labelled A_2 holds
    patient B's blood: B's somatic SNV (VAF 0.10) and B's heterozygous SNP (0.5)."""
    root = tmp_path_factory.mktemp("swap")
    genome = syn.random_genome({"chr1": 4000}, seed=7)
    fasta = syn.write_fasta(root / "genome.fa", genome)
    g = genome["chr1"]
    pos = {"a_somatic": 1001, "b_somatic": 2001, "b_snp": 3001}
    site = {k: (p, g[p - 1], _alt(g[p - 1])) for k, p in pos.items()}
    (root / "panel.bed").write_text("".join(f"chr1\t{p - 60}\t{p + 60}\n" for p in pos.values()))
    design = {"A_1": {"a_somatic": 0.08}, "A_2": {"b_somatic": 0.10, "b_snp": 0.5}}
    bams = {}
    for i, (sample, vafs) in enumerate(design.items()):
        sites = [(p, r, a, vafs.get(k, 0.0)) for k, (p, r, a) in site.items()]
        bams[sample] = str(syn.write_snv_panel_bam(root / f"{sample}.bam", genome, "chr1", sites,
                                                   depth=300, seed=40 + i, sample=sample))
    identity = _identity_table(root / "identity_samples.tsv", "A_2", "B_1")
    return root, fasta, bams, pos, identity


def _discovered(root, fasta, bams, name, identity=None):
    out = root / f"{name}.candidates.tsv"
    warnings = pipeline.discover_patient("A", bams, str(fasta), str(root / "panel.bed"), None,
                                         None, {"discovery": {}}, str(out), identity=identity)
    return set(read_tsv(out)["pos"]), warnings


def test_a_swapped_draws_private_variants_are_not_discovered_for_the_patient(swapped):
    root, fasta, bams, pos, identity = swapped
    pooled, _ = _discovered(root, fasta, bams, "pooled")
    # without identity the swapped draw's variants become patient A's candidates
    assert {pos["a_somatic"], pos["b_somatic"], pos["b_snp"]} <= pooled
    kept, warnings = _discovered(root, fasta, bams, "kept", identity)
    assert pos["a_somatic"] in kept
    assert not {pos["b_somatic"], pos["b_snp"]} & kept
    assert warnings == [f"A_2 {LEFT_OUT} (best match B_1): not used for discovery"]
    # the one draw that passed gives exactly what it gives alone
    alone, _ = _discovered(root, fasta, {"A_1": bams["A_1"]}, "alone")
    assert kept == alone


def _tracked_rows():
    """A tracked-variants table: A_1 detects A's somatic SNV, the swapped A_2 detects B's."""
    base = {"patient_id": "A", "sample_type": "plasma", "chrom": "chr1", "ref": "C", "alt": "T",
            "gene": "TP53", "category": "somatic"}
    rows = [("A_1", 1001, "detected"), ("A_2", 1001, "not_detected"),
            ("A_1", 2001, "not_detected"), ("A_2", 2001, "detected")]
    return pd.DataFrame([{**base, "sample_id": s, "pos": p, "status": st} for s, p, st in rows])


def test_plasma_informed_mrd_sites_do_not_come_from_a_swapped_draw(tmp_path):
    from plasmatrack.mrd.pipeline import run_mrd_sites
    from plasmatrack.mrd.sites import plasma_informed_sites

    tracked = _tracked_rows()
    assert sorted(plasma_informed_sites(tracked)["pos"]) == [1001, 2001]
    kept = plasma_informed_sites(tracked, ["A_2"])
    assert kept["pos"].tolist() == [1001] and kept["found_in"].tolist() == ["A_1"]
    # the rule's entry point reads the identity table with the one contract
    tracked.to_csv(tmp_path / "tracked.tsv", sep="\t", index=False)
    identity = _identity_table(tmp_path / "identity_samples.tsv", "A_2", "B_1")
    for name, ident, expected in (("with", identity, [1001]), ("without", None, [1001, 2001])):
        out = tmp_path / f"sites_{name}.tsv"
        run_mrd_sites(out, tracked=str(tmp_path / "tracked.tsv"), identity=ident)
        assert sorted(read_tsv(out)["pos"]) == expected
