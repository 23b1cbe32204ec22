"""Fragment counting at variant sites on code-built BAMs with exactly known allele counts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pysam
import pytest

from plasmatrack.errors import InputError
from plasmatrack.variants import synthetic as syn
from plasmatrack.variants.pileup import ReadFilterSettings, count_sites
from plasmatrack.variants.sites import (Reference, indel_class, left_normalize, read_sites,
                                        validate_sites, variant_type)


def _other_base(base: str) -> str:
    return "ACGT"[("ACGT".index(base) + 1) % 4]


@pytest.fixture(scope="module")
def genome_and_fasta(tmp_path_factory):
    root = tmp_path_factory.mktemp("pileup")
    genome = syn.random_genome({"chr1": 20_000, "chr2": 5_000}, seed=3)
    seq = list(genome["chr1"])
    # A homopolymer (C AAAAAA G at 0-based 4999..5006) for indel equivalence.
    seq[4999:5007] = list("CAAAAAAG")
    genome["chr1"] = "".join(seq)
    fasta = syn.write_fasta(root / "genome.fa", genome)
    return genome, fasta, root


def _sites(rows) -> pd.DataFrame:
    df, _ = validate_sites(pd.DataFrame(rows, columns=["chrom", "pos", "ref", "alt"]), "test")
    return df


def test_exact_counts_strands_and_fragment_lengths(genome_and_fasta):
    genome, fasta, root = genome_and_fasta
    rng = np.random.default_rng(1)
    pos = 3001
    ref = genome["chr1"][pos - 1]
    alt = _other_base(ref)
    frags = syn.site_fragments(genome, "chr1", pos, ref, alt, 600, 60, rng,
                               length_range=(160, 180), alt_length_range=(130, 140))
    bam = syn.write_bam(root / "snv.bam", genome, frags)
    counts = count_sites(bam, _sites([("chr1", pos, ref, alt)]), ReadFilterSettings(),
                         fasta).iloc[0]
    assert (counts.ref_count, counts.alt_count, counts.other_count) == (600, 60, 0)
    assert counts.depth == 660 and counts.discordant == 0
    assert counts.alt_fwd + counts.alt_rev == 60 and counts.ref_fwd + counts.ref_rev == 600
    # Fragment orientation was random: both strands present in proportion.
    assert 200 < counts.ref_fwd < 400
    assert 130 <= counts.alt_fragment_median <= 140
    assert 160 <= counts.ref_fragment_median <= 180
    assert "alt_short" not in counts  # the length bins only on request
    binned = count_sites(bam, _sites([("chr1", pos, ref, alt)]), ReadFilterSettings(), fasta,
                         short_fragment_length=150).iloc[0]
    assert (binned.alt_short, binned.alt_sized, binned.ref_short, binned.ref_sized) == (
        60, 60, 0, 600)
    edge = count_sites(bam, _sites([("chr1", pos, ref, alt)]), ReadFilterSettings(), fasta,
                       short_fragment_length=170).iloc[0]
    assert 0 < edge.ref_short == sum(f.length < 170 for f in frags if f.variant is None) < 600


def test_overlapping_mates_count_once_and_discordant_mates_are_dropped(genome_and_fasta):
    genome, fasta, root = genome_and_fasta
    pos = 6001
    pos0 = pos - 1
    ref = genome["chr1"][pos0]
    alt = _other_base(ref)
    frags = []
    # 30 fragments of 150 bp with 100 bp reads: both mates cover pos when it is in the middle.
    for k in range(30):
        frags.append(syn.Fragment("chr1", pos0 - 75, 150, (pos, ref, alt) if k < 10 else None,
                                  name=f"ov{k}"))
    # 5 ref fragments whose read 2 carries a sequencing error at the site: discordant.
    for k in range(5):
        frags.append(syn.Fragment("chr1", pos0 - 75, 150, None, name=f"err{k}",
                                  mate_error_at=(pos0, alt)))
    # 4 alt fragments where read 1's base is low quality: read 2 still counts the fragment.
    for k in range(4):
        frags.append(syn.Fragment("chr1", pos0 - 75, 150, (pos, ref, alt), name=f"lq{k}",
                                  low_quality_at=(pos0,), low_quality_mates=(1,)))
    # 3 fragments with both mates low quality at the site: not counted.
    for k in range(3):
        frags.append(syn.Fragment("chr1", pos0 - 75, 150, (pos, ref, alt), name=f"lq2{k}",
                                  low_quality_at=(pos0,), low_quality_mates=(1, 2)))
    bam = syn.write_bam(root / "overlap.bam", genome, frags)
    with pysam.AlignmentFile(str(bam)) as handle:
        reads_at_site = sum(1 for r in handle.fetch("chr1", pos0, pos0 + 1))
    assert reads_at_site == 2 * len(frags)  # every mate covers the site
    c = count_sites(bam, _sites([("chr1", pos, ref, alt)]), ReadFilterSettings(), fasta).iloc[0]
    assert c.alt_count == 10 + 4
    assert c.ref_count == 20
    assert c.discordant == 5
    assert c.depth == 34


def test_read_filters_flags_mapq_and_proper_pairs(genome_and_fasta):
    genome, fasta, root = genome_and_fasta
    rng = np.random.default_rng(2)
    pos = 9001
    ref = genome["chr1"][pos - 1]
    alt = _other_base(ref)
    frags = syn.site_fragments(genome, "chr1", pos, ref, alt, 100, 20, rng)
    extra = syn.site_fragments(genome, "chr1", pos, ref, alt, 0, 50, rng, prefix="x")
    for i, frag in enumerate(extra):
        if i < 10:
            frag.flag_extra = 0x400  # duplicate
        elif i < 20:
            frag.flag_extra = 0x100  # secondary
        elif i < 30:
            frag.flag_extra = 0x800  # supplementary
        elif i < 40:
            frag.flag_extra = 0x200  # QC fail
        else:
            frag.mapq = 39  # below the default 40
    bam = syn.write_bam(root / "flags.bam", genome, frags + extra)
    site = _sites([("chr1", pos, ref, alt)])
    c = count_sites(bam, site, ReadFilterSettings(), fasta).iloc[0]
    assert (c.ref_count, c.alt_count) == (100, 20)
    relaxed = count_sites(bam, site, ReadFilterSettings(min_mapping_quality=0, flag_filter=0x4),
                          fasta)
    assert relaxed.iloc[0].alt_count == 70
    mapq39 = count_sites(bam, site, ReadFilterSettings(min_mapping_quality=39), fasta)
    assert mapq39.iloc[0].alt_count == 30
    # The flag filter is taken literally: letting duplicates through adds exactly those 10.
    no_dup = ReadFilterSettings(flag_filter=0x4 | 0x100 | 0x200 | 0x800)
    assert count_sites(bam, site, no_dup, fasta).iloc[0].alt_count == 30


def test_deep_column_is_not_truncated(genome_and_fasta):
    """pysam's pileup stops at max_depth 8,000 by default; the counter must not."""
    genome, fasta, root = genome_and_fasta
    rng = np.random.default_rng(4)
    pos = 2001
    ref = genome["chr2"][pos - 1]
    alt = _other_base(ref)
    frags = syn.site_fragments(genome, "chr2", pos, ref, alt, 11_000, 1_000, rng)
    bam = syn.write_bam(root / "deep.bam", genome, frags)
    c = count_sites(bam, _sites([("chr2", pos, ref, alt)]), ReadFilterSettings(), fasta).iloc[0]
    assert (c.ref_count, c.alt_count, c.depth) == (11_000, 1_000, 12_000)
    with pysam.AlignmentFile(str(bam)) as handle:
        default_depth = max(col.nsegments for col in handle.pileup("chr2", pos - 1, pos,
                                                                     truncate=True))
    # A default pileup shows about 8,000 of the 24,000 reads (it caps per file, approximately).
    assert default_depth < 9_000


def test_indels_match_every_equivalent_placement(genome_and_fasta):
    genome, fasta, root = genome_and_fasta
    rng = np.random.default_rng(5)
    # Deletion of one A in AAAAAA: reads built with the right-most placement (pos 5005);
    # the site is given left-normalised (pos 5000 CA>C).
    frags = syn.site_fragments(genome, "chr1", 5005, "AA", "A", 150, 30, rng, prefix="d")
    ins_pos = 12_001
    base = genome["chr1"][ins_pos - 1]
    frags += syn.site_fragments(genome, "chr1", ins_pos, base, base + "GTC", 120, 25, rng,
                                prefix="i")
    bam = syn.write_bam(root / "indel.bam", genome, frags)
    with Reference(fasta) as reference:
        assert left_normalize(reference, "chr1", 5004, "AA", "A") == (4999, "CA", "C")
        cls = indel_class(reference, "chr1", 4999, "CA", "C")
        assert sorted(cls.anchors) == list(range(4999, 5005))
        sites, _ = validate_sites(pd.DataFrame(
            [("chr1", 5000, "CA", "C"), ("chr1", ins_pos, base, base + "GTC")],
            columns=["chrom", "pos", "ref", "alt"]), "test", reference)
    c = count_sites(bam, sites, ReadFilterSettings(), fasta)
    assert list(c["alt_count"]) == [30, 25]
    assert list(c["ref_count"]) == [150, 120]
    # Without the reference only the given placement matches: the deletion is missed.
    plain = count_sites(bam, sites, ReadFilterSettings(), None)
    assert plain.iloc[0]["alt_count"] == 0 and plain.iloc[1]["alt_count"] == 25


def test_site_validation_names_row_and_field(tmp_path, genome_and_fasta):
    genome, fasta, _root = genome_and_fasta
    wrong = _other_base(genome["chr1"][9])
    bad = tmp_path / "sites.tsv"
    bad.write_text(f"chrom\tpos\tref\talt\nchr1\t10\t{wrong}\t{_other_base(wrong)}\nchr1\tx\tA\tC\n"
                   "chr9\t5\tA\tC\nchr1\t20\tAC\tGT\n")
    with Reference(fasta) as reference, pytest.raises(InputError) as err:
        read_sites(bad, reference)
    message = str(err.value)
    assert "row 2, column 'ref'" in message
    assert "row 3, column 'pos'" in message
    assert "row 4, column 'chrom'" in message
    good = tmp_path / "good.tsv"
    good.write_text(f"chrom\tpos\tref\talt\nchr1\t10\t{genome['chr1'][9]}\t{wrong}\n"
                    f"chr1\t20\t{genome['chr1'][19:21]}\tGT\n")
    with Reference(fasta) as reference:
        sites, warnings = read_sites(good, reference)
    assert len(sites) == 1 and "row 3" in warnings[0] and "not tracked" in warnings[0]
    assert variant_type("AC", "GT") is None and variant_type("A", "AT") == "insertion"


def test_missing_index_is_a_clear_error(tmp_path, genome_and_fasta):
    genome, fasta, root = genome_and_fasta
    bam = syn.write_bam(tmp_path / "noindex.bam", genome, [syn.Fragment("chr1", 100, 150)])
    (tmp_path / "noindex.bam.bai").unlink()
    with pytest.raises(InputError, match="no index"):
        count_sites(bam, _sites([("chr1", 150, genome["chr1"][149], "A")]))
