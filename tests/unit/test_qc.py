"""QC stage on BAMs built in code with known fragment lengths, duplicates, flags and coverage."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pysam
import pytest
from fgpyo.sam.builder import SamBuilder

from plasmatrack.cli import main as cli_main
from plasmatrack.errors import InputError
from plasmatrack.qc import default_thresholds, evaluate, run_sample_qc, sample_qc, summarise
from plasmatrack.qc.bampass import summarise_flags
from plasmatrack.qc.fragments import fragment_stats, periodicity_score, weighted_median
from plasmatrack.qc.targets import TargetDepth

READ_LEN = 60
CONTIGS = [{"SN": "chrA", "LN": 100_000}, {"SN": "chrB", "LN": 50_000}]


def _builder(read_len: int = READ_LEN) -> SamBuilder:
    return SamBuilder(r1_len=read_len, r2_len=read_len, sd=CONTIGS,
                      rg={"ID": "rg1", "SM": "S1"})


def _fragment(b: SamBuilder, chrom: str, start: int, length: int, read_len: int = READ_LEN,
              r1_forward: bool = True, mapq: int = 60, duplicate: bool = False):
    """Add a proper FR pair covering [start, start + length) (0-based half-open)."""
    right = start + length - read_len
    if r1_forward:
        r1, r2 = b.add_pair(chrom=chrom, start1=start, start2=right, mapq1=mapq, mapq2=mapq)
    else:
        r1, r2 = b.add_pair(chrom=chrom, start1=right, start2=start, strand1="-", strand2="+",
                            mapq1=mapq, mapq2=mapq)
    for read in (r1, r2):
        read.is_duplicate = duplicate
    return r1, r2


def _flagstat(bam: Path) -> dict[str, int]:
    """Counts from samtools flagstat (through pysam) for the cross-checks."""
    text = pysam.flagstat(str(bam))
    wanted = {"primary": "primary", "primary mapped": "primary mapped",
              "properly paired": "properly paired", "primary duplicates": "primary duplicates",
              "secondary": "secondary", "supplementary": "supplementary"}
    out = {}
    for line in text.splitlines():
        count, rest = line.split(" + ", 1)
        label = rest.split(" ", 1)[1].split(" (")[0].strip()
        if label in wanted:
            out[wanted[label]] = int(count)
    return out


@pytest.fixture
def known_bam(tmp_path) -> Path:
    """Fragments of known length (both read orientations), duplicates, a low-MAPQ pair, an
    unmapped pair, a pair with one mate unmapped, secondary and supplementary records."""
    b = _builder()
    pos = 1000
    lengths = [167] * 40 + [150] * 20 + [120] * 10 + [210] * 10 + [300] * 4
    for i, length in enumerate(lengths):
        _fragment(b, "chrA", pos, length, r1_forward=i % 2 == 0)
        pos += 400
    for i in range(6):  # duplicates of the first six fragments' positions
        _fragment(b, "chrA", 1000 + 400 * i, lengths[i], r1_forward=i % 2 == 0, duplicate=True)
    _fragment(b, "chrB", 5000, 180, mapq=5)  # below min_fragment_mapq: not in the histogram
    b.add_pair()  # unmapped pair
    b.add_pair(chrom="chrB", start1=9000)  # mate unmapped
    b.add_single(chrom="chrB", start=12000, secondary=True)
    b.add_single(chrom="chrB", start=13000, supplementary=True)
    return b.to_path(tmp_path / "known.bam")


def test_counts_and_fragment_histogram(known_bam):
    row, hist = sample_qc(known_bam, sample_id="S1")
    # primary reads: 84 + 6 duplicate + 1 low-MAPQ + 1 unmapped + 1 half-mapped pairs = 93 pairs
    assert row["total_reads"] == 186
    assert row["mapped_reads"] == 186 - 2 - 1
    assert row["properly_paired_reads"] == 2 * (84 + 6 + 1)
    assert row["duplicate_reads"] == 12
    assert row["duplicate_rate"] == pytest.approx(12 / 186, abs=1e-12)
    assert row["secondary_reads"] == 1 and row["supplementary_reads"] == 1
    # samtools flagstat counts the same records the same way.
    flagstat = _flagstat(known_bam)
    assert flagstat == {"primary": 186, "primary mapped": 183, "properly paired": 182,
                        "primary duplicates": 12, "secondary": 1, "supplementary": 1}
    # Each pair once, duplicates and MAPQ < 30 left out: exactly the 84 unique fragments.
    assert dict((int(k), int(v)) for k, v in enumerate(hist) if v) == {
        167: 40, 150: 20, 120: 10, 210: 10, 300: 4}
    assert row["fragments"] == 84
    assert row["fragment_mode"] == 167
    assert row["fragment_median"] == 167  # 42nd and 43rd of 84 sorted lengths are both 167
    expected = [167] * 40 + [150] * 20 + [120] * 10 + [210] * 10 + [300] * 4
    assert row["fragment_mean"] == pytest.approx(np.mean(expected), rel=1e-12)
    assert row["fragment_sd"] == pytest.approx(np.std(expected), rel=1e-12)
    assert row["short_fragments"] == 30 and row["long_fragments"] == 50
    assert row["short_long_ratio"] == pytest.approx(30 / 50)
    assert row["short_fraction"] == pytest.approx(30 / 80)
    assert row["qc_pass"] is True and row["qc_reason"] == ""


def test_min_fragment_mapq_is_configurable(known_bam):
    row, hist = sample_qc(known_bam, sample_id="S1", thresholds={"min_fragment_mapq": 0})
    assert row["fragments"] == 85 and hist[180] == 1


def test_same_start_mates_counted_once(tmp_path):
    """Mates starting at one position (fragment = read length): TLEN's sign is arbitrary there,
    read 1 alone decides, so each pair is counted once."""
    b = _builder()
    for i in range(5):
        _fragment(b, "chrA", 2000 + 300 * i, READ_LEN)
    row, hist = sample_qc(b.to_path(tmp_path / "same.bam"), sample_id="S1", sample_type="normal")
    assert hist[READ_LEN] == 5 and row["fragments"] == 5


def test_max_fragment_length(known_bam):
    row, hist = sample_qc(known_bam, sample_id="S1", thresholds={"max_fragment_length": 250})
    assert len(hist) == 251 and row["fragments"] == 80 and row["fragments_over_max_length"] == 4


def test_summarise_flags_matches_flagstat_rules():
    counts = np.zeros(4096, dtype=np.int64)
    counts[99] = 10  # paired, proper, mate reverse, read1
    counts[99 | 0x400] = 3  # duplicate
    counts[99 | 0x100] = 2  # secondary
    counts[99 | 0x900] = 1  # secondary + supplementary: flagstat calls it secondary
    counts[0x800 | 0x10] = 4  # supplementary
    counts[77] = 5  # unmapped pair member
    s = summarise_flags(counts)
    assert (s.primary_reads, s.secondary_reads, s.supplementary_reads) == (18, 3, 4)
    assert (s.mapped_reads, s.properly_paired_reads, s.duplicate_reads) == (13, 13, 3)


@pytest.mark.parametrize("n", [1, 2, 7, 10, 101])
def test_weighted_median_equals_numpy(n):
    values = np.random.default_rng(n).integers(50, 400, n)
    assert weighted_median(np.bincount(values, minlength=1001)) == np.median(values)


def test_periodicity_score_separates_ripple_from_smooth():
    lengths = np.arange(1001)
    rng = np.random.default_rng(3)
    peak = 2e4 * np.exp(-0.5 * ((lengths - 167) / 20.0) ** 2)
    ripple = 1 + 0.2 * np.cos(2 * np.pi * (lengths - 167) / 10.4)
    with_ripple = [periodicity_score(rng.poisson(peak * ripple)) for _ in range(5)]
    smooth = [periodicity_score(rng.poisson(peak)) for _ in range(5)]
    assert min(with_ripple) > 0.8
    assert max(smooth) < 0.25
    assert math.isnan(periodicity_score(np.zeros(1001, dtype=int)))


def test_fragment_stats_empty():
    stats = fragment_stats(np.zeros(1001, dtype=np.int64))
    assert stats.fragments == 0 and math.isnan(stats.fragment_mode)


def _naive_depth(bed, contigs, fragments):
    """Per-base depth by brute force, in the same order as TargetDepth.depth()."""
    out = []
    for chrom, start, end in bed:
        for pos in range(start, end):
            out.append(sum(1 for c, s, e in fragments if c == chrom and s <= pos < e))
    return np.array(out)


def test_target_depth_matches_brute_force():
    rng = np.random.default_rng(0)
    contigs = ["chrA", "chrB"]
    bed = [("chrA", 100, 160), ("chrA", 160, 200), ("chrA", 400, 450), ("chrB", 50, 90)]
    spans = []
    for _ in range(300):
        chrom = contigs[int(rng.integers(0, 2))]
        start = int(rng.integers(0, 500))
        spans.append((chrom, start, start + int(rng.integers(1, 300))))
    depth = TargetDepth(pd.DataFrame(bed, columns=["chrom", "start", "end"]), contigs)
    tids = np.array([contigs.index(c) for c, _, _ in spans])
    starts = np.array([s for _, s, _ in spans])
    ends = np.array([e for _, _, e in spans])
    for kind in ("fragment", "depth"):  # in two chunks each, as the pass hands them over
        depth.add(kind, tids[:100], starts[:100], ends[:100])
        depth.add(kind, tids[100:], starts[100:], ends[100:])
    assert np.array_equal(depth.depth(), _naive_depth(bed, contigs, spans))
    on = sum(1 for c, s, e in spans if any(c == bc and s < be and e > bs for bc, bs, be in bed))
    assert depth.on_target_fragments == on and depth.fragments == 300 and depth.target_bases == 190


def test_panel_on_target_fraction_and_depth(tmp_path):
    b = _builder(100)
    # 30 unique fragments [1000, 1167) (mates overlap: one molecule each) over target
    # [1050, 1150) -> depth 30 on all 100 bases; 10 of [1100, 1200) (mates on the same bases)
    # -> +10 on 1100..1149; 20 off target; 5 duplicates (not counted).
    for _ in range(30):
        _fragment(b, "chrA", 1000, 167, read_len=100)
    for _ in range(10):
        _fragment(b, "chrA", 1100, 100, read_len=100)
    for i in range(20):
        _fragment(b, "chrB", 5000 + 500 * i, 167, read_len=100)
    for _ in range(5):
        _fragment(b, "chrA", 1000, 167, read_len=100, duplicate=True)
    bam = b.to_path(tmp_path / "panel.bam")
    panel = tmp_path / "panel.bed"
    panel.write_text("chrA\t1050\t1150\n")
    row, _ = sample_qc(bam, sample_id="S1", panel=panel, thresholds={"min_on_target_depth": 35})
    assert row["unique_fragments"] == 60 and row["on_target_fragments"] == 40
    assert row["on_target_fraction"] == pytest.approx(40 / 60)
    assert row["target_bases"] == 100
    assert row["mean_on_target_depth"] == pytest.approx((50 * 30 + 50 * 40) / 100)
    assert row["median_on_target_depth"] == 35
    assert row["qc_pass"] is True


def test_depth_counts_sequenced_bases_and_improper_pairs_as_one_fragment(tmp_path):
    """A 330 bp di-nucleosomal pair that the aligner did not call proper is still one fragment;
    the 210 bp between its 60 bp reads were never sequenced and add no depth."""
    b = _builder()
    for _ in range(4):
        r1, r2 = _fragment(b, "chrA", 1000, 330)
        r1.is_proper_pair = r2.is_proper_pair = False
    bam = b.to_path(tmp_path / "di.bam")
    panel = tmp_path / "panel.bed"
    panel.write_text("chrA\t1000\t1330\n")
    row, hist = sample_qc(bam, sample_id="S1", sample_type="normal", panel=panel)
    assert row["unique_fragments"] == 4 and row["on_target_fragments"] == 4
    assert row["mean_on_target_depth"] == pytest.approx(4 * 120 / 330)
    assert row["median_on_target_depth"] == 0
    assert hist.sum() == 0  # the histogram takes proper pairs only


@pytest.mark.skipif(shutil.which("mosdepth") is None, reason="mosdepth is not installed")
def test_depth_agrees_with_mosdepth(tmp_path):
    """Cross-check with mosdepth (default mode: duplicates out, mate overlaps counted once): the
    depth agrees base for base, with overlapping mates (fragments < 2 x read length) and with
    unsequenced gaps between mates (longer fragments) alike."""
    read_len = 100
    b = _builder(read_len)
    rng = np.random.default_rng(5)
    for _ in range(400):
        length = int(rng.integers(read_len, 4 * read_len + 1))
        start = int(rng.integers(500, 2600))
        _fragment(b, "chrA", start, length, read_len=read_len, r1_forward=bool(rng.integers(2)),
                  duplicate=bool(rng.random() < 0.1))
    for i in range(30):  # mate unmapped: the read alone
        b.add_pair(chrom="chrA", start1=900 + 50 * i)
    bam = b.to_path(tmp_path / "cov.bam")
    panel = tmp_path / "panel.bed"
    panel.write_text("chrA\t1000\t1300\nchrA\t2000\t2250\n")
    row, _ = sample_qc(bam, sample_id="S1", panel=panel)
    prefix = tmp_path / "md"
    subprocess.run(["mosdepth", "--by", str(panel), str(prefix), str(bam)], check=True,
                   capture_output=True)
    per_base = pd.read_csv(f"{prefix}.per-base.bed.gz", sep="\t", header=None,
                           names=["chrom", "start", "end", "depth"])
    depth = np.zeros(100_000, dtype=int)
    for start, end, value in per_base[per_base["chrom"] == "chrA"][
            ["start", "end", "depth"]].itertuples(index=False):
        depth[start:end] = value
    on_target = np.concatenate([depth[1000:1300], depth[2000:2250]])
    assert on_target.min() < on_target.max()  # a real profile, not a constant
    assert row["mean_on_target_depth"] == pytest.approx(on_target.mean(), rel=1e-12)
    assert row["median_on_target_depth"] == np.median(on_target)


def test_thresholds_every_failed_check_is_listed(tmp_path):
    b = _builder()
    for i in range(50):
        _fragment(b, "chrA", 1000 + 300 * i, 230, duplicate=i >= 25)
    for _ in range(20):
        b.add_pair()  # unmapped pairs
    for i in range(10):  # mapped but not proper
        b.add_pair(chrom1="chrA", chrom2="chrB", start1=30_000 + 500 * i, start2=100 + 500 * i)
    bam = b.to_path(tmp_path / "bad.bam")
    panel = tmp_path / "panel.bed"
    panel.write_text("chrA\t1000\t1100\n")
    row, _ = sample_qc(bam, sample_id="S1", panel=panel)
    # 160 primary reads: 120 mapped, 100 proper, 50 duplicates; mode 230 bp; depth 1 on the
    # 60 bases read 1 covers, 0 on the other 40.
    assert row["mapped_fraction"] == pytest.approx(120 / 160)
    assert row["properly_paired_fraction"] == pytest.approx(100 / 160)
    assert row["duplicate_rate"] == pytest.approx(50 / 160)
    assert row["qc_pass"] is False
    assert row["qc_reason"] == (
        "mapped_fraction 0.750 < min_mapped_fraction 0.9; "
        "properly_paired_fraction 0.625 < min_properly_paired_fraction 0.7; "
        "fragment_mode 230 bp outside fragment_mode_range [140, 200]; "
        "mean_on_target_depth 0.6 < min_on_target_depth 100")
    # A normal sample is not held to the cfDNA fragment mode; looser limits pass it.
    loose = {"min_mapped_fraction": 0.7, "min_properly_paired_fraction": 0.6,
             "max_duplicate_rate": 0.35, "min_on_target_depth": 0.5}
    row, _ = sample_qc(bam, sample_id="S1", sample_type="normal", panel=panel, thresholds=loose)
    assert row["qc_pass"] is True, row["qc_reason"]
    row, _ = sample_qc(bam, sample_id="S1", thresholds={**loose, "max_duplicate_rate": 0.2})
    assert "duplicate_rate 0.312 > max_duplicate_rate 0.2" in row["qc_reason"]


def test_empty_bam_fails_with_reason(tmp_path):
    bam = _builder().to_path(tmp_path / "empty.bam")
    row, hist = sample_qc(bam, sample_id="S1")
    assert row["total_reads"] == 0 and hist.sum() == 0
    assert row["qc_pass"] is False and row["qc_reason"] == "no reads in the BAM"


def test_single_end_reads_fail_plasma_with_reason(tmp_path):
    b = _builder()
    for i in range(20):
        b.add_single(chrom="chrA", start=1000 + 100 * i)
    row, _ = sample_qc(b.to_path(tmp_path / "se.bam"), sample_id="S1")
    assert row["qc_pass"] is False
    assert row["qc_reason"] == ("reads are not paired: properly paired fraction and fragment "
                                "lengths cannot be measured")


def test_defaults_come_from_schema():
    limits = default_thresholds()
    assert limits["fragment_mode_range"] == [140, 200]
    assert limits["min_fragment_mapq"] == 30 and limits["max_fragment_length"] == 1000


def test_evaluate_unmeasurable_mode_in_plasma():
    metrics = {"total_reads": 10, "mapped_fraction": 1.0, "paired_reads": 10,
               "properly_paired_fraction": 1.0, "duplicate_rate": 0.0,
               "fragment_mode": math.nan}
    ok, reason = evaluate(metrics, "plasma", False, default_thresholds())
    assert not ok and reason.startswith("fragment_mode not measurable")


def _unsorted_bam(path: Path) -> Path:
    """Two pairs written in input order (plain pysam: fgpyo sorts through samtools, which needs a
    real stdout that pytest's capture does not provide)."""
    header = {"HD": {"VN": "1.6", "SO": "unsorted"}, "SQ": CONTIGS}
    with pysam.AlignmentFile(str(path), "wb", header=header) as out:
        for i, (start, mate) in enumerate([(5000, 5100), (100, 200)]):
            for first, pos, mpos in ((True, start, mate), (False, mate, start)):
                read = pysam.AlignedSegment(out.header)
                read.query_name = f"p{i}"
                read.query_sequence = "A" * 50
                read.flag = (99 if first else 147)
                read.reference_id = read.next_reference_id = 0
                read.reference_start, read.next_reference_start = pos, mpos
                read.mapping_quality = 60
                read.cigarstring = "50M"
                read.template_length = 150 if first else -150
                out.write(read)
    return path


def test_unsorted_bam_is_an_input_error(tmp_path):
    bam = _unsorted_bam(tmp_path / "unsorted.bam")
    with pytest.raises(InputError) as info:
        sample_qc(bam, sample_id="S1")
    assert str(info.value) == (
        f"{bam}: the BAM is not coordinate-sorted (header sort order 'unsorted'); sort it "
        "(samtools sort) and index it (samtools index)")


def test_unindexed_bam_is_an_input_error(tmp_path):
    b = _builder()
    _fragment(b, "chrA", 1000, 167)
    bam = b.to_path(tmp_path / "noindex.bam", index=False)
    with pytest.raises(InputError) as info:
        sample_qc(bam, sample_id="S1")
    assert str(info.value) == (f"{bam}: the BAM has no index (.bai or .csi beside it); index it "
                               "(samtools index)")


def test_missing_and_non_bam_files(tmp_path):
    with pytest.raises(InputError, match="missing.bam: BAM file not found"):
        sample_qc(tmp_path / "missing.bam", sample_id="S1")
    text = tmp_path / "notes.bam"
    text.write_text("not a bam\n")
    with pytest.raises(InputError, match=r"notes.bam: not a readable BAM file"):
        sample_qc(text, sample_id="S1")


def test_panel_contig_not_in_bam(known_bam, tmp_path):
    panel = tmp_path / "panel.bed"
    panel.write_text("chrA\t100\t200\nA\t300\t400\n")
    with pytest.raises(InputError) as info:
        sample_qc(known_bam, sample_id="S1", panel=panel)
    assert (f"{panel}, row 2, column 'chrom': contig 'A' is not in the reference (the reference "
            "names it 'chrA': chr-prefix mismatch)") in str(info.value)


def test_outputs_and_summary(known_bam, tmp_path):
    out = tmp_path / "qc"
    rows = []
    for sid, pid, stype, days in [("P2_D1", "P2", "plasma", 0), ("P1_D2", "P1", "plasma", 30),
                                  ("P1_N", "P1", "normal", None), ("P1_D1", "P1", "plasma", -5)]:
        rows.append(run_sample_qc(known_bam, out / f"{sid}.qc.tsv",
                                  out / f"{sid}.fragment_lengths.tsv", sample_id=sid,
                                  patient_id=pid, sample_type=stype, timepoint_days=days))
    hist = pd.read_csv(out / "P1_N.fragment_lengths.tsv", sep="\t")
    assert list(hist.columns) == ["length", "count"]
    assert hist["length"].tolist() == list(range(1, 1001))
    assert int(hist.loc[hist["length"] == 167, "count"].iloc[0]) == 40
    one = pd.read_csv(out / "P1_D1.qc.tsv", sep="\t")
    assert len(one) == 1 and one.loc[0, "timepoint_days"] == -5 and one.loc[0, "qc_pass"]
    ids = ["P2_D1", "P1_D2", "P1_N", "P1_D1"]
    summary = summarise([out / f"{s}.qc.tsv" for s in ids], tmp_path / "qc_summary.tsv",
                        fragment_tsvs=[out / f"{s}.fragment_lengths.tsv" for s in ids],
                        multiqc_dir=tmp_path / "multiqc")
    assert summary["sample_id"].tolist() == ["P1_N", "P1_D1", "P1_D2", "P2_D1"]
    written = pd.read_csv(tmp_path / "qc_summary.tsv", sep="\t", dtype={"sample_id": str})
    assert written["duplicate_rate"].tolist() == pytest.approx([12 / 186] * 4, rel=1e-5)
    assert pd.isna(written.loc[0, "timepoint_days"])
    mqc = (tmp_path / "multiqc" / "plasmatrack_qc_mqc.tsv").read_text().splitlines()
    assert mqc[3] == "# plot_type: 'generalstats'"
    table_start = next(i for i, line in enumerate(mqc) if not line.startswith("#"))
    assert mqc[table_start].split("\t")[:3] == ["Sample", "mapped_fraction",
                                                "properly_paired_fraction"]
    plot = json.loads((tmp_path / "multiqc" / "plasmatrack_fragment_lengths_mqc.json").read_text())
    assert plot["plot_type"] == "linegraph" and sorted(plot["data"]) == sorted(ids)
    assert plot["data"]["P1_N"]["167"] == pytest.approx(40 / 84, abs=1e-6)


def test_cli_writes_tables(known_bam, tmp_path, capsys):
    out = tmp_path / "cli"
    code = cli_main(["qc", "--bam", str(known_bam), "--out", str(out), "--sample-type", "normal"])
    assert code == 0
    table = pd.read_csv(out / "S1.qc.tsv", sep="\t")  # sample ID from the read group's SM
    assert table.loc[0, "sample_type"] == "normal" and table.loc[0, "fragment_mode"] == 167
    assert "S1: 186 reads" in capsys.readouterr().out


def test_cli_bad_bam_reports_error(tmp_path, capsys):
    bam = _unsorted_bam(tmp_path / "unsorted.bam")
    assert cli_main(["qc", "--bam", str(bam), "--out", str(tmp_path / "o")]) == 1
    assert "is not coordinate-sorted" in capsys.readouterr().err


def test_cli_rejects_unsafe_sample_id(known_bam, tmp_path):
    assert cli_main(["qc", "--bam", str(known_bam), "--out", str(tmp_path),
                     "--sample-id", "../x"]) == 1
    assert not any(tmp_path.glob("*.qc.tsv"))


def test_counter_free_histogram_of_known_bam_equals_pysam_reference(known_bam):
    """The pass's histogram equals a plain pysam re-count with the documented filters."""
    reference = Counter()
    with pysam.AlignmentFile(str(known_bam)) as handle:
        for read in handle:
            if (read.is_read1 and read.is_proper_pair and not read.is_duplicate
                    and not read.is_secondary and not read.is_supplementary
                    and read.mapping_quality >= 30):
                reference[abs(read.template_length)] += 1
    _, hist = sample_qc(known_bam, sample_id="S1")
    assert {k: int(v) for k, v in enumerate(hist) if v} == dict(reference)
