"""The fragment counter and discovery on real reads: samtools' ex1 example (NA18507 read pairs on
two 1.5 kb human segments), checked against htslib's own pileup with the same filters."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pysam
import pytest

from plasmatrack.variants.discover import DiscoverySettings, discover
from plasmatrack.variants.pileup import ReadFilterSettings, count_sites
from plasmatrack.variants.sites import Reference, left_normalize, validate_sites

pytestmark = pytest.mark.real

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "samtools_ex1"


@pytest.fixture(scope="module")
def ex1(tmp_path_factory):
    if not (DATA / "ex1.sam.gz").is_file():
        pytest.skip(f"real data {DATA} is absent (see ../shared/data/README.md)")
    root = tmp_path_factory.mktemp("ex1")
    fasta = root / "ex1.fa"
    fasta.write_bytes((DATA / "ex1.fa").read_bytes())
    pysam.faidx(str(fasta))
    unsorted = root / "ex1.unsorted.bam"
    # The SAM has no header: take the contigs from the .fai (samtools view -t).
    pysam.view("-b", "-t", str(fasta) + ".fai", "-o", str(unsorted), str(DATA / "ex1.sam.gz"),
               catch_stdout=False)
    bam = root / "ex1.bam"
    pysam.sort("-o", str(bam), str(unsorted))
    pysam.index(str(bam))
    return bam, fasta


def _htslib_fragment_counts(bam, chrom, pos0, ref, alt, filters: ReadFilterSettings):
    """Independent count: htslib pileup (flags, MAPQ, BQ in C), mates merged by read name."""
    seen: dict[str, str | None] = {}
    with pysam.AlignmentFile(str(bam)) as handle:
        for column in handle.pileup(chrom, pos0, pos0 + 1, truncate=True, stepper="nofilter",
                                    max_depth=10**6, min_base_quality=0,
                                    ignore_overlaps=False, ignore_orphans=False):
            for read in column.pileups:
                aln = read.alignment
                if (aln.flag & filters.flag_filter
                        or aln.mapping_quality < filters.min_mapping_quality):
                    continue
                if read.is_del or read.is_refskip:
                    continue
                if aln.query_qualities[read.query_position] < filters.min_base_quality:
                    continue
                base = aln.query_sequence[read.query_position]
                name = aln.query_name
                if name in seen and seen[name] != base:
                    seen[name] = None
                else:
                    seen.setdefault(name, base)
    bases = [b for b in seen.values() if b is not None]
    return bases.count(ref), bases.count(alt), len(bases)


def test_counts_match_htslib_pileup_on_real_reads(ex1):
    bam, fasta = ex1
    filters = ReadFilterSettings(min_mapping_quality=20, min_base_quality=20)
    # Every position with a non-reference base in >= 2 reads, plus a sample of plain positions.
    rows = []
    with pysam.AlignmentFile(str(bam)) as handle, Reference(fasta) as reference:
        for chrom in handle.references:
            acgt = handle.count_coverage(chrom, quality_threshold=20)
            seq = reference.fetch(chrom, 0, reference.lengths[chrom])
            for pos0, ref in enumerate(seq):
                if ref not in "ACGT":
                    continue
                counts = {b: acgt["ACGT".index(b)][pos0] for b in "ACGT"}
                alt = max((b for b in "ACGT" if b != ref), key=counts.get)
                if counts[alt] >= 2 or pos0 % 97 == 0:
                    rows.append((chrom, pos0 + 1, ref, alt))
    sites, _ = validate_sites(pd.DataFrame(rows, columns=["chrom", "pos", "ref", "alt"]), "ex1")
    assert len(sites) > 30
    ours = count_sites(bam, sites, filters, fasta)
    mismatches = []
    for row in ours.itertuples(index=False):
        expected = _htslib_fragment_counts(bam, row.chrom, row.pos - 1, row.ref, row.alt, filters)
        if (row.ref_count, row.alt_count, row.depth) != expected:
            mismatches.append((row.chrom, row.pos, (row.ref_count, row.alt_count, row.depth),
                               expected))
    assert mismatches == []
    assert ours["depth"].max() > 20


def test_discovery_finds_what_bcftools_calls_on_real_reads(ex1):
    """Every variant that ``bcftools mpileup | bcftools call -mv`` calls at QUAL >= 30 in
    NA18507 (4 SNVs, 2 insertions, same read filters) is among the discovered candidates,
    normalised alike."""
    import pysam.bcftools

    bam, fasta = ex1
    filters = ReadFilterSettings(min_mapping_quality=20, min_base_quality=20)
    pileup = Path(bam).with_suffix(".pileup.bcf")
    pysam.bcftools.mpileup("-f", str(fasta), "-q", "20", "-Q", "20", "-Ob", "-o", str(pileup),
                           str(bam), catch_stdout=False)
    calls = pysam.bcftools.call("-mv", str(pileup))
    records = [line.split("\t") for line in calls.splitlines() if line and line[0] != "#"]
    with Reference(fasta) as reference:
        called = set()
        for chrom, pos, _id, ref, alts, qual, *_ in records:
            if float(qual) < 30:
                continue
            for alt in alts.split(","):
                p0, r, a = left_normalize(reference, chrom, int(pos) - 1, ref, alt)
                called.add((chrom, p0 + 1, r, a))
        regions = [(c, 0, n) for c, n in reference.lengths.items()]
        found = discover([bam], regions, reference, filters, DiscoverySettings(), ["ex1"])
    assert len(called) == 6
    discovered = set(zip(found["chrom"], found["pos"], found["ref"], found["alt"]))
    assert called <= discovered, called - discovered
    # The heterozygous SNVs are counted near VAF 0.5 by the fragment counter.
    snvs = pd.DataFrame([c for c in called if len(c[2]) == len(c[3])],
                        columns=["chrom", "pos", "ref", "alt"])
    snvs, _ = validate_sites(snvs, "bcftools")
    counts = count_sites(bam, snvs, filters, fasta)
    vaf = counts["alt_count"] / counts["depth"]
    assert ((vaf > 0.3) & (vaf < 0.7)).all(), counts
