"""End-collision-aware counts (variants/collisions.py) against a generator written here: molecules
covering a site with a sharp healthy length peak and broader, shorter tumour lengths, uniform
starts, PCR duplicates, and duplicate marking by fragment ends as samtools markdup does."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from plasmatrack.variants import synthetic as syn
from plasmatrack.variants.collisions import (CollisionSettings, EndPairs, correct_counts,
                                             estimated_molecules, length_weights, rebalance)
from plasmatrack.variants.pileup import ReadFilterSettings, count_sites
from plasmatrack.variants.pipeline import count_sample

READ = 100
LENGTHS = np.arange(60, 420)


def _length_pmfs() -> tuple[np.ndarray, np.ndarray]:
    """Healthy: a 167 bp peak (SD 6) and a thin broad floor; tumour: 146 bp, SD 18."""
    healthy = np.exp(-0.5 * ((LENGTHS - 167) / 6) ** 2) + 0.02 * np.exp(
        -0.5 * ((LENGTHS - 167) / 40) ** 2)
    tumour = np.exp(-0.5 * ((LENGTHS - 146) / 18) ** 2)
    return healthy / healthy.sum(), tumour / tumour.sum()


def _molecules(rng, n: int, tf: float, alt_share: float) -> pd.DataFrame:
    """``n`` distinct molecules covering one site: length (chosen in proportion to the start
    positions from which a read covers the site), start offset left of the site, tumour, alt."""
    healthy, tumour = _length_pmfs()
    covering = np.minimum(LENGTHS, 2 * READ)
    # TF is the tumour's share of genome copies; a copy cut shorter makes more molecules.
    w = np.concatenate([(1 - tf) * healthy * covering / (healthy * LENGTHS).sum(),
                        tf * tumour * covering / (tumour * LENGTHS).sum()])
    pick = rng.choice(w.size, n, p=w / w.sum())
    length = LENGTHS[pick % LENGTHS.size]
    offset = (rng.random(n) * np.minimum(length, 2 * READ)).astype(np.int64)
    # beyond two read lengths the middle is not read: the right read's offsets
    offset = np.where((offset < READ) | (length <= 2 * READ), offset,
                      length - (2 * READ - offset))
    is_tumour = pick >= LENGTHS.size
    alt = is_tumour & (rng.random(n) < alt_share)
    return pd.DataFrame({"length": length, "offset": offset, "tumour": is_tumour, "alt": alt})


def _marked(rng, mol: pd.DataFrame, duplicate_rate: float) -> pd.DataFrame:
    """Read pairs: every molecule plus PCR copies (overdispersed), shuffled, with the duplicate
    mark of all but the first read pair of each (start, length) end pair."""
    n_dup = int(len(mol) * duplicate_rate / (1 - duplicate_rate))
    propensity = rng.gamma(0.5, size=len(mol))
    copies = rng.choice(len(mol), n_dup, p=propensity / propensity.sum())
    reads = mol.iloc[rng.permutation(np.concatenate([np.arange(len(mol)), copies]))]
    reads = reads.reset_index(names="molecule")
    reads["duplicate"] = reads.duplicated(["offset", "length"])
    return reads


def _estimate(reads: pd.DataFrame) -> tuple[float, float]:
    """(VAF after duplicate marking, collision-corrected VAF) of one site."""
    kept = reads[~reads["duplicate"]]
    w = length_weights(kept["length"].to_numpy(), READ)
    alt = estimated_molecules(kept.loc[kept["alt"], "length"].to_numpy(), w)
    ref = estimated_molecules(kept.loc[~kept["alt"], "length"].to_numpy(), w)
    return float(kept["alt"].mean()), alt / (alt + ref)


@pytest.mark.parametrize("depth, min_bias", [(1500, 0.05), (5000, 0.2)])
def test_markdup_inflates_vaf_and_the_correction_removes_it(depth, min_bias):
    rng = np.random.default_rng(depth)
    truth, marked, corrected, removed = [], [], [], []
    for _ in range(60):
        mol = _molecules(rng, depth, tf=0.1, alt_share=0.5)
        reads = _marked(rng, mol, duplicate_rate=0.2)
        md, corr = _estimate(reads)
        truth.append(mol["alt"].mean())
        marked.append(md)
        corrected.append(corr)
        first = reads[~reads["duplicate"]].drop_duplicates("molecule")
        removed.append([1 - (~first["tumour"]).sum() / (~mol["tumour"]).sum(),
                        1 - first["tumour"].sum() / mol["tumour"].sum()])
    truth_mean = np.mean(truth)
    assert np.mean(marked) / truth_mean - 1 > min_bias
    assert abs(np.mean(corrected) / truth_mean - 1) < 0.02
    healthy_lost, tumour_lost = np.mean(removed, axis=0)
    assert healthy_lost > 2 * tumour_lost  # the sharp healthy peak collides more


def test_weights_follow_the_occupancy_formula():
    # 100 of the 200 start positions of 150 bp... taken: -ln(1 - 0.5) / 0.5 molecules each.
    lengths = np.concatenate([np.full(75, 150), np.full(10, 300), [50]])
    w = length_weights(lengths, read_length=100)
    assert w[150] == pytest.approx(-math.log(0.5) / 0.5)
    assert w[300] == pytest.approx(-math.log(1 - 10 / 200) / (10 / 200))  # 2 x read length
    assert w[50] == pytest.approx(-math.log(1 - 1 / 50) / (1 / 50))
    assert w[120] == 1.0  # no fragment of this length: nothing collided
    saturated = length_weights(np.full(80, 80), read_length=100)[80]
    assert saturated == pytest.approx(-math.log(0.05) / 0.95)  # capped, not infinite
    assert estimated_molecules(np.array([150, 150, 0, 999]), w) == pytest.approx(2 * w[150] + 2)


def test_rebalance_keeps_depth_and_strands_consistent():
    counts = pd.DataFrame({
        "chrom": ["c", "c"], "pos": [1, 2], "ref": ["A", "A"], "alt": ["C", "T"],
        "ref_count": [900, 50], "alt_count": [100, 5], "other_count": [2, 0],
        "depth": [1002, 55], "discordant": [0, 0], "ref_fwd": [450, 20], "ref_rev": [450, 30],
        "alt_fwd": [60, 5], "alt_rev": [40, 0], "ref_fragment_median": [167.0, 167.0],
        "alt_fragment_median": [150.0, 150.0]})
    molecules = pd.DataFrame({"ref_molecules": [1100.0, math.nan],
                              "alt_molecules": [110.0, math.nan]})
    out = rebalance(counts, molecules)
    first = out.iloc[0]
    assert (first.ref_count, first.alt_count, first.depth) == (909, 91, 1002)
    assert first.alt_fwd + first.alt_rev == 91 and first.ref_fwd + first.ref_rev == 909
    assert first.alt_fwd == 55  # 60/100 of the alt fragments stay forward
    assert first.collision_factor == pytest.approx(1.21)
    assert out.iloc[1][["ref_count", "alt_count", "alt_fwd"]].tolist() == [50, 5, 5]
    assert list(counts["alt_count"]) == [100, 5]  # the input is not modified


@pytest.fixture(scope="module")
def marked_bam(tmp_path_factory):
    """A BAM of one SNV site at ~1,500 distinct molecules with PCR copies, duplicates marked
    by fragment ends, and the generator's own reads."""
    root = tmp_path_factory.mktemp("collisions")
    genome = syn.random_genome({"chr1": 4_000}, seed=5)
    fasta = syn.write_fasta(root / "genome.fa", genome)
    pos = 2001
    ref = genome["chr1"][pos - 1]
    alt = "ACGT"[("ACGT".index(ref) + 1) % 4]
    rng = np.random.default_rng(7)
    reads = _marked(rng, _molecules(rng, 1500, tf=0.2, alt_share=0.5), duplicate_rate=0.15)
    frags = [syn.Fragment("chr1", pos - 1 - int(r.offset), int(r.length),
                          (pos, ref, alt) if r.alt else None, r1_reverse=bool(i % 2),
                          flag_extra=0x400 if r.duplicate else 0)
             for i, r in enumerate(reads.itertuples())]
    bam = syn.write_bam(root / "site.bam", genome, frags, read_length=READ)
    sites = pd.DataFrame({"chrom": ["chr1"], "pos": [pos], "ref": [ref], "alt": [alt],
                          "variant_type": ["snv"]})
    return bam, fasta, sites, reads


def test_bam_path_matches_the_model_and_reports_per_site(marked_bam):
    bam, fasta, sites, reads = marked_bam
    # one pass: the counts and the molecules behind them from the same reads
    counted = count_sites(bam, sites, ReadFilterSettings(), fasta, end_collisions=True)
    estimated = counted.iloc[0]
    kept = reads[~reads["duplicate"]]
    w = length_weights(kept["length"].to_numpy(), READ)
    assert estimated.alt_molecules == pytest.approx(
        estimated_molecules(kept.loc[kept["alt"], "length"].to_numpy(), w))
    assert estimated.ref_molecules == pytest.approx(
        estimated_molecules(kept.loc[~kept["alt"], "length"].to_numpy(), w))
    counts = count_sites(bam, sites, ReadFilterSettings(), fasta)
    assert counts.iloc[0].alt_count == int(kept["alt"].sum())  # the same fragments counted
    assert estimated.alt_molecules + estimated.ref_molecules > estimated.depth * 1.05
    # the tally adds columns only: the counts themselves are those of the plain counter
    pd.testing.assert_frame_equal(counted.drop(columns=["ref_molecules", "alt_molecules"]),
                                  counts)


def test_end_pair_tally_counts_distinct_ends_per_length():
    ends = EndPairs(pos0=1000)
    for start, length in ((900, 150), (900, 150), (950, 150), (990, 60), (990, 61)):
        ends.add(start, length, read_length=100)
    ends.add(990, 60, read_length=75)  # a duplicate's shorter read does not lower it
    assert {k: v.bit_count() for k, v in ends.starts.items()} == {150: 2, 60: 1, 61: 1}
    assert ends.read_length == 100
    w = length_weights(np.array([150, 150, 60, 61]), 100)
    ref, alt = ends.molecules({150: 3}, 2, {60: 1}, 0)
    assert ref == pytest.approx(3 * w[150] + 2)  # unknown lengths: one molecule each
    assert alt == pytest.approx(w[60])


def test_one_pass_counts_filtered_reads_as_ends_only(tmp_path):
    """Duplicates and reads below the mapping-quality filter add end pairs but are not counted;
    an indel site and a contig the BAM lacks get no molecule estimate."""
    genome = syn.random_genome({"chr1": 3_000}, seed=2)
    fasta = syn.write_fasta(tmp_path / "genome.fa", genome)
    pos = 1501
    ref = genome["chr1"][pos - 1]
    alt = "ACGT"[("ACGT".index(ref) + 1) % 4]
    frags = [syn.Fragment("chr1", pos - 50, 150, (pos, ref, alt), flag_extra=0),
             syn.Fragment("chr1", pos - 60, 150, None, flag_extra=0),
             syn.Fragment("chr1", pos - 60, 150, None, flag_extra=0x400),
             syn.Fragment("chr1", pos - 70, 150, None, mapq=10)]
    bam = syn.write_bam(tmp_path / "s.bam", genome, frags, read_length=100)
    sites = pd.DataFrame({"chrom": ["chr1", "chr1", "chr9"], "pos": [pos, 2500, 10],
                          "ref": [ref, genome["chr1"][2499:2501], "A"],
                          "alt": [alt, genome["chr1"][2499], "C"],
                          "variant_type": ["snv", "deletion", "snv"]})
    out = count_sites(bam, sites, ReadFilterSettings(), fasta, end_collisions=True)
    first = out.iloc[0]
    assert (first.ref_count, first.alt_count) == (1, 1)
    # 3 distinct end pairs of 150 bp (of 150 start positions) cover the site; 2 are counted
    w150 = -math.log(1 - 3 / 150) / (3 / 150)
    assert first.ref_molecules == pytest.approx(w150)
    assert first.alt_molecules == pytest.approx(w150)
    assert out[["ref_molecules", "alt_molecules"]].iloc[1:].isna().all().all()
    corrected = correct_counts(out)
    assert list(corrected.columns[-3:]) == ["ref_molecules", "alt_molecules",
                                            "collision_factor"]
    assert corrected["collision_factor"].iloc[0] == pytest.approx(round(w150, 4))


def test_count_sample_corrects_only_when_asked(marked_bam, tmp_path):
    bam, fasta, sites, reads = marked_bam
    site_table = tmp_path / "sites.tsv"
    sites.assign(tracked_by="P1").to_csv(site_table, sep="\t", index=False)
    plain, corrected = tmp_path / "plain.tsv", tmp_path / "corrected.tsv"
    count_sample(str(bam), str(site_table), "P1", False, str(fasta), {}, str(plain))
    on = {"duplicates": {"collision_correction": True}}
    assert CollisionSettings.from_config(on).collision_correction
    count_sample(str(bam), str(site_table), "P1", False, str(fasta), on, str(corrected))
    before, after = pd.read_csv(plain, sep="\t"), pd.read_csv(corrected, sep="\t")
    assert "alt_molecules" not in before.columns  # default output unchanged
    assert after["depth"].iloc[0] == before["depth"].iloc[0]
    truth = reads.drop_duplicates("molecule")["alt"].mean()
    vaf = lambda t: t["alt_count"].iloc[0] / (t["alt_count"] + t["ref_count"]).iloc[0]  # noqa: E731
    assert abs(vaf(after) - truth) < abs(vaf(before) - truth)


def test_track_command_applies_the_correction(marked_bam, tmp_path):
    from plasmatrack.cli import main

    bam, fasta, sites, _reads = marked_bam
    site_table = tmp_path / "sites.tsv"
    sites[["chrom", "pos", "ref", "alt"]].to_csv(site_table, sep="\t", index=False)
    for flag, out in (([], tmp_path / "plain"), (["--collision-correction"], tmp_path / "on")):
        assert main(["track", "--bam", str(bam), "--sites", str(site_table), "--reference",
                     str(fasta), "--out", str(out), *flag]) == 0
    plain = pd.read_csv(tmp_path / "plain" / "counts.tsv", sep="\t")
    on = pd.read_csv(tmp_path / "on" / "counts.tsv", sep="\t")
    assert "collision_factor" not in plain.columns
    assert on["collision_factor"].iloc[0] > 1.05
    assert on["alt_count"].iloc[0] < plain["alt_count"].iloc[0]  # healthy molecules restored
