"""The residual-disease call on ctDNAtools' real tumour-informed example (../shared/data/
ctdnatools-mrd, README.txt quotes every figure): 10 patient SNVs, plasma draws T1 (ctDNA
positive) and T2 (negative), healthy-donor cfDNA N1-N3 as the background's controls."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from plasmatrack.mrd.pipeline import StandaloneInputs, count_molecules, run_standalone
from plasmatrack.mrd.settings import MrdSettings
from plasmatrack.mrd.sites import finish_sites, read_tumour_variants

pytestmark = pytest.mark.real

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "ctdnatools-mrd" / "data"


@pytest.fixture(scope="module")
def data():
    if not (DATA / "T1.bam").is_file():
        pytest.skip(f"real data {DATA} is absent (see ../shared/data/README.md)")
    return DATA


def _sites(data):
    return finish_sites(read_tumour_variants(data / "mutations.tsv", patient="P1"))


def test_alt_counts_at_bq20_mq30_match_ctdnatools(data):
    # README C: get_mutations_read_counts(mutations[1:3, ], T1) -> $alt 2 3 1 (BQ 20, MQ 30);
    # ref 445/447/373 are read counts (both mates), ours are fragments: depth only bounded.
    counts = count_molecules(data / "T1.bam", _sites(data),
                             MrdSettings(min_mapping_quality=30, min_base_quality=20))
    assert counts["mutant"].tolist()[:3] == [2, 3, 1]
    assert all(d <= r + a for d, r, a in zip(counts["depth"][:3], (445, 447, 373), (2, 3, 1)))


def test_total_alt_at_bq30_mq40_match_ctdnatools(data):
    # README B test1: n_mutations 10, n_nonzero_alt 9, total_alt_reads 13 (T1); 0 in T2.
    sites = _sites(data)
    t1 = count_molecules(data / "T1.bam", sites, MrdSettings())
    t2 = count_molecules(data / "T2.bam", sites, MrdSettings())
    assert len(t1) == 10
    assert t1["mutant"].sum() == 13 and (t1["mutant"] > 0).sum() == 9
    assert t2["mutant"].sum() == 0


@pytest.mark.parametrize("mapq,baseq", [(40, 30), (30, 20)])
def test_t1_detected_t2_not_with_normals_as_controls(data, tmp_path, mapq, baseq):
    settings = MrdSettings(min_mapping_quality=mapq, min_base_quality=baseq)
    inputs = StandaloneInputs(bams=(str(data / "T1.bam"), str(data / "T2.bam")),
                              variants=str(data / "mutations.tsv"),
                              controls=tuple(str(data / f"N{i}.bam") for i in (1, 2, 3)),
                              patient="P1", timepoints=(0, 90))
    calls = run_standalone(inputs, settings, tmp_path).set_index("sample_id")
    t1, t2 = calls.loc["T1"], calls.loc["T2"]
    assert t1["status"] == "detected" and t2["status"] == "not_detected"
    # ctDNAtools: p = 1e-4 with 10,000 simulations (its floor); ours has the same floor.
    assert t1["p_value"] <= 1e-3 and t2["p_value"] == 1.0
    assert t1["mutant_molecules"] == (13 if mapq == 40 else 14)
    # Background: ctDNAtools' rate (0.00011-0.00015 per read) times our informative molecules.
    for row in (t1, t2):
        rate = row["background_expected"] / row["informative_molecules"]
        assert 3e-5 < rate < 3e-4
    # TF = 2 x pooled VAF (13 / 3,489 = 0.37 %) within its interval; T2 below T1's lower end.
    assert t1["tumour_fraction"] == pytest.approx(2 * t1["mutant_molecules"]
                                                  / t1["informative_molecules"], rel=0.1)
    assert t1["tf_lower"] < t1["tumour_fraction"] < t1["tf_upper"]
    assert t2["tf_upper"] < t1["tf_lower"]
    # T2 has more molecules than T1, so rules out a lower TF; both LoDs below T1's TF.
    assert t2["lod95"] < t1["lod95"] < t1["tumour_fraction"]


def test_cli_writes_the_table(data, tmp_path):
    cmd = [sys.executable, "-m", "plasmatrack", "mrd", "--bams", str(data / "T1.bam"),
           str(data / "T2.bam"), "--variants", str(data / "mutations.tsv"), "--controls",
           *(str(data / f"N{i}.bam") for i in (1, 2, 3)), "--out", str(tmp_path)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
    assert "T1: detected" in proc.stdout and "T2: not_detected" in proc.stdout
    table = pd.read_csv(tmp_path / "mrd_calls.tsv", sep="\t")
    from plasmatrack import tables

    assert list(table.columns) == list(tables.MRD_CALLS.required)


def _pileup_counts(bam_path, pos0: int, ref: str, alt: str, filters) -> dict:
    """An independent count of one SNV: pysam's pileup column (no depth cap, no overlap
    handling), every read's observation kept by query name until the whole column is seen,
    then mates merged (concordant once, with read 1's strand; discordant left out)."""
    import pysam

    by_name: dict[str, list] = {}
    with pysam.AlignmentFile(str(bam_path)) as bam:
        for column in bam.pileup("chr14", pos0, pos0 + 1, truncate=True, stepper="nofilter",
                                 ignore_overlaps=False, min_base_quality=0, max_depth=10**6):
            for pread in column.pileups:
                read = pread.alignment
                if (read.flag & filters.flag_filter or pread.query_position is None
                        or read.mapping_quality < filters.min_mapping_quality
                        or read.query_qualities[pread.query_position]
                        < filters.min_base_quality):
                    continue
                base = read.query_sequence[pread.query_position]
                allele = "ref" if base == ref else "alt" if base == alt else "other"
                by_name.setdefault(read.query_name, []).append((allele, read))
    out = {"ref": 0, "alt": 0, "other": 0, "discordant": 0, "alt_rev": 0, "ref_lengths": []}
    for seen in by_name.values():
        if len({allele for allele, _ in seen}) > 1:
            out["discordant"] += 1
            continue
        allele, read = next(((a, r) for a, r in seen if r.is_read1 or not r.is_paired), seen[0])
        out[allele] += 1
        out["alt_rev"] += allele == "alt" and read.is_reverse
        if allele == "ref" and read.is_proper_pair:
            out["ref_lengths"].append(abs(read.template_length))
    return out


@pytest.mark.parametrize("sample", ["T1", "N2"])
def test_streaming_counter_equals_a_whole_column_count(data, sample):
    """The counter keeps a fragment open only until its mate has shown or cannot; a count that
    holds the whole column agrees at every third position of the real target (hundreds of reads),
    with the default filters and with secondary/supplementary reads let through."""
    from plasmatrack.variants.pileup import ReadFilterSettings, count_sites

    positions = range(106327300, 106327950, 3)
    sites = pd.DataFrame({"chrom": "chr14", "pos": [p + 1 for p in positions], "ref": "C",
                          "alt": "T", "variant_type": "snv"})
    for filters in (ReadFilterSettings(), ReadFilterSettings(flag_filter=0x4,
                                                             min_mapping_quality=0)):
        ours = count_sites(data / f"{sample}.bam", sites, filters)
        for pos0, row in zip(positions, ours.itertuples()):
            want = _pileup_counts(data / f"{sample}.bam", pos0, "C", "T", filters)
            assert (row.ref_count, row.alt_count, row.other_count, row.discordant) == (
                want["ref"], want["alt"], want["other"], want["discordant"]), pos0
            assert row.alt_rev == want["alt_rev"]
            if want["ref_lengths"]:
                assert row.ref_fragment_median == np.median(want["ref_lengths"])
    assert ours["depth"].max() > 150


def test_fragment_length_weighting_on_the_real_example(data, tmp_path):
    """With ``fragment_length_weighting`` the counts carry the length bins: none of T1's 13
    mutant molecules is shorter than 150 bp (7.9 % of its molecules of known length are), so
    these reads show no tumour length shift; 13 tumour molecules are too few to learn the
    tumour's lengths, the calls stay unweighted and say so."""
    settings = MrdSettings(fragment_length_weighting=True)
    t1 = count_molecules(data / "T1.bam", _sites(data), settings).sum(numeric_only=True)
    assert (t1["mutant"], t1["mutant_sized"], t1["mutant_short"]) == (13, 13, 0)
    assert (t1["depth_sized"], t1["depth_short"]) == (3446, 271)
    inputs = StandaloneInputs(bams=(str(data / "T1.bam"), str(data / "T2.bam")),
                              variants=str(data / "mutations.tsv"),
                              controls=tuple(str(data / f"N{i}.bam") for i in (1, 2, 3)),
                              patient="P1")
    calls = run_standalone(inputs, settings, tmp_path).set_index("sample_id")
    assert calls["status"].tolist() == ["detected", "not_detected"]
    assert calls["note"].str.contains("fragment-length weighting off: fewer than 20").all()
