"""Candidate discovery on code-built plasma draws with a uniform sequencing-error background."""

from __future__ import annotations

import numpy as np
import pytest

from plasmatrack.variants import synthetic as syn
from plasmatrack.variants.discover import DiscoverySettings, discover, read_regions
from plasmatrack.variants.pileup import ReadFilterSettings
from plasmatrack.variants.sites import Reference

REGION = ("chr1", 1000, 4000)


def _draw(genome, variants, depth, rng, name_prefix):
    """Fragments tiling REGION at about ``depth`` (fragments per base); a fragment covering a
    variant carries it with probability equal to its VAF (one variant per fragment at most)."""
    chrom, start, end = REGION
    n = int(depth * (end - start) / 170)
    frags = []
    for k in range(n):
        length = int(rng.integers(150, 190))
        s = int(rng.integers(start - 100, end - length + 100))
        variant = None
        for pos, ref, alt, vaf in variants:
            if s + 10 <= pos - 1 < s + length - 10 - len(ref) and rng.random() < vaf:
                variant = (pos, ref, alt)
                break
        frags.append(syn.Fragment(chrom, s, length, variant, r1_reverse=bool(rng.random() < 0.5),
                                  name=f"{name_prefix}{k}"))
    return frags


@pytest.fixture(scope="module")
def draws(tmp_path_factory):
    root = tmp_path_factory.mktemp("discover")
    genome = syn.random_genome({"chr1": 6000}, seed=11)
    fasta = syn.write_fasta(root / "genome.fa", genome)
    (root / "panel.bed").write_text(f"{REGION[0]}\t{REGION[1]}\t{REGION[2]}\n")
    g = genome["chr1"]

    def alt_of(pos):
        return "ACGT"[("ACGT".index(g[pos - 1]) + 2) % 4]

    shared = (1501, g[1500], alt_of(1501), 0.04)
    emerging = (2501, g[2500], alt_of(2501), 0.04)
    deletion = (3001, g[3000:3003], g[3000], 0.12)
    rng = np.random.default_rng(5)
    bams = []
    for i, variants in enumerate(([shared, deletion], [shared, emerging, deletion])):
        frags = _draw(genome, variants, 300, rng, f"d{i}_")
        bams.append(syn.write_bam(root / f"draw{i}.bam", genome, frags, error_rate=0.002,
                                  seed=i))
    return {"fasta": fasta, "bams": bams, "bed": root / "panel.bed", "shared": shared,
            "emerging": emerging, "deletion": deletion}


def test_discovery_finds_pooled_emerging_and_indel_without_false_candidates(draws):
    with Reference(draws["fasta"]) as reference:
        regions = read_regions(draws["bed"], reference)
        found = discover(draws["bams"], regions, reference, ReadFilterSettings(),
                         DiscoverySettings(), ["D1", "D2"])
    keys = {(r.pos, r.ref, r.alt): r for r in found.itertuples()}
    for name in ("shared", "emerging", "deletion"):
        pos, ref, alt, _vaf = draws[name]
        assert (pos, ref, alt) in keys, name
    # With 0.2% per-base errors (about 0.07% per specific substitution) over 3 kb x 3 alts x
    # (pool + 2 draws) tests, the 1e-6 bar lets no error through.
    assert len(found) == 3
    pos, ref, alt, _ = draws["emerging"]
    emerging = keys[(pos, ref, alt)]
    assert emerging.best_draw == "D2"
    assert emerging.best_draw_alt / emerging.best_draw_depth == pytest.approx(0.04, abs=0.02)
    assert found.loc[found["variant_type"] == "deletion", "ref"].str.len().iloc[0] == 3


def test_discovery_thresholds_come_from_the_parameters(draws):
    with Reference(draws["fasta"]) as reference:
        regions = read_regions(draws["bed"], reference)
        strict = discover(draws["bams"], regions, reference, ReadFilterSettings(),
                          DiscoverySettings(min_vaf=0.07), ["D1", "D2"])
        no_indels = discover(draws["bams"], regions, reference, ReadFilterSettings(),
                             DiscoverySettings(indels=False), ["D1", "D2"])
        loose = discover(draws["bams"], regions, reference, ReadFilterSettings(),
                         DiscoverySettings(max_p_value=0.01, min_alt_fragments=2), ["D1", "D2"])
    assert set(strict["variant_type"]) == {"deletion"}  # only the 12% deletion passes 7%
    assert "deletion" not in set(no_indels["variant_type"]) and len(no_indels) == 2
    assert len(loose) > 3  # a permissive bar lets sequencing errors through
