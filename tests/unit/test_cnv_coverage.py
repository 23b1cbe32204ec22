"""Bins, coverage (with fragment-size selection), panel of normals, fix and the standalone
``plasmatrack cnv`` command on BAMs written in code."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pysam
import pytest

from plasmatrack.cli import main
from plasmatrack.cnv import coverage, reference
from plasmatrack.cnv.segment import repair_overlaps

CONTIGS = {"chrA": 600_000, "chrB": 400_000, "chrC": 400_000}
READ = 50
# Tumour copy number: a 150 kb focal amplification (with the gene AMP1) on chrA and a gain of
# chrB's second half.
TUMOUR_CN = [("chrA", 200_000, 350_000, 10), ("chrB", 200_000, 400_000, 3)]
GENES = [("chrA", 250_000, 280_000, "AMP1"), ("chrC", 100_000, 130_000, "FLAT1")]


def tumour_cn(chrom: str, pos: np.ndarray) -> np.ndarray:
    cn = np.full(len(pos), 2.0)
    for c, s, e, value in TUMOUR_CN:
        if c == chrom:
            cn[(pos >= s) & (pos < e)] = value
    return cn


@pytest.fixture(scope="module")
def design(tmp_path_factory) -> dict:
    """Reference FASTA (GC varying in 20 kb blocks), panel (targets every 20 kb, more in AMP1),
    genes BED."""
    d = tmp_path_factory.mktemp("cnv_design")
    rng = np.random.default_rng(1)
    with open(d / "ref.fa", "w") as fa:
        for name, length in CONTIGS.items():
            fa.write(f">{name}\n")
            seq = []
            for _ in range(length // 20_000):
                gc = rng.uniform(0.35, 0.6)
                p = [(1 - gc) / 2, gc / 2, gc / 2, (1 - gc) / 2]
                seq.append("".join(rng.choice(list("ACGT"), 20_000, p=p)))
            seq = "".join(seq)
            for i in range(0, len(seq), 60):
                fa.write(seq[i:i + 60] + "\n")
    pysam.faidx(str(d / "ref.fa"))
    targets = []
    for name, length in CONTIGS.items():
        for start in range(10_000, length - 10_000, 20_000):
            targets.append((name, start, start + 200))
    targets += [("chrA", s, s + 200) for s in range(252_000, 278_000, 3_000)]
    targets = sorted(set(targets))
    pd.DataFrame(targets).to_csv(d / "panel.bed", sep="\t", header=False, index=False)
    pd.DataFrame(GENES).to_csv(d / "genes.bed", sep="\t", header=False, index=False)
    return {"dir": d, "fasta": str(d / "ref.fa"), "panel": str(d / "panel.bed"),
            "genes": str(d / "genes.bed")}


def write_bam(path: Path, fasta: str, tf: float, seed: int, n_fragments: int = 30_000,
              tumour_length: int = 130, normal_length: int = 170) -> Path:
    """A coordinate-sorted, indexed paired-end BAM: fragments placed with density proportional to
    2 (1 - tf) (normal, ``normal_length`` bp) and tf x CN (tumour, ``tumour_length`` bp), half
    of them on targets (capture), the rest genome-wide."""
    rng = np.random.default_rng(seed)
    targets = pd.read_csv(Path(fasta).parent / "panel.bed", sep="\t", header=None)
    header = {"HD": {"VN": "1.6", "SO": "coordinate"},
              "SQ": [{"SN": n, "LN": l} for n, l in CONTIGS.items()],
              "RG": [{"ID": path.stem, "SM": path.stem}]}
    names = list(CONTIGS)
    total = sum(CONTIGS.values())
    reads = []
    for i in range(n_fragments):
        if i % 2:  # on target
            t = targets.iloc[rng.integers(len(targets))]
            chrom, mid = t[0], int(rng.integers(t[1], t[2]))
        else:
            x = int(rng.integers(total))
            for chrom in names:
                if x < CONTIGS[chrom]:
                    break
                x -= CONTIGS[chrom]
            mid = x
        cn = tumour_cn(chrom, np.array([mid]))[0]
        p_tumour = tf * cn / (tf * cn + 2 * (1 - tf))
        is_tumour = rng.random() < p_tumour
        # rejection sampling makes the density proportional to the local copy number
        if rng.random() > (tf * cn + 2 * (1 - tf)) / (tf * 10 + 2 * (1 - tf)):
            continue
        length = int(rng.normal(tumour_length if is_tumour else normal_length, 8))
        start = max(0, min(mid - length // 2, CONTIGS[chrom] - length - 1))
        reads.append((chrom, start, start + length - READ, length, f"f{i}"))
    with pysam.AlignmentFile(str(path) + ".tmp.bam", "wb", header=header) as out:
        for chrom, s1, s2, length, name in reads:
            ref_id = names.index(chrom)
            for first, pos, mpos in ((True, s1, s2), (False, s2, s1)):
                a = pysam.AlignedSegment()
                a.query_name = name
                a.query_sequence = "A" * READ
                a.flag = 0x1 | 0x2 | (0x40 if first else 0x80) | (0x20 if first else 0x10)
                a.reference_id = ref_id
                a.reference_start = pos
                a.mapping_quality = 60
                a.cigarstring = f"{READ}M"
                a.next_reference_id = ref_id
                a.next_reference_start = mpos
                a.template_length = length if first else -length
                a.query_qualities = pysam.qualitystring_to_array("I" * READ)
                a.set_tag("RG", path.stem)
                out.write(a)
    pysam.sort("-o", str(path), str(path) + ".tmp.bam")
    Path(str(path) + ".tmp.bam").unlink()
    pysam.index(str(path))
    return path


@pytest.fixture(scope="module")
def bams(design) -> dict:
    d = design["dir"]
    out = {f"N{i}": write_bam(d / f"N{i}.bam", design["fasta"], 0.0, seed=10 + i,
                              normal_length=260) for i in range(3)}
    out["T"] = write_bam(d / "T.bam", design["fasta"], 0.4, seed=5)
    return out


@pytest.fixture(scope="module")
def bins(design) -> dict:
    d = design["dir"] / "bins"
    d.mkdir(exist_ok=True)
    paths = {k: str(d / f"{k}.bed") for k in ("targets", "antitargets", "access")}
    counts = coverage.make_bins(design["fasta"], paths["targets"], paths["antitargets"],
                                paths["access"], panel_bed=design["panel"],
                                genes_bed=design["genes"], antitarget_avg_size=20_000)
    return {**paths, "counts": counts}


def test_panel_bins(bins, design):
    targets = coverage.read_bed(bins["targets"], 4)
    anti = coverage.read_bed(bins["antitargets"], 4)
    panel = coverage.read_bed(design["panel"])
    assert bins["counts"]["targets"] == len(targets) == len(panel)
    in_gene = (targets["chromosome"] == "chrA") & targets["start"].between(250_000, 279_800)
    assert set(targets.loc[in_gene, "name"]) == {"AMP1"}
    in_flat = (targets["chromosome"] == "chrC") & targets["start"].between(100_000, 129_800)
    assert set(targets.loc[in_flat, "name"]) == {"FLAT1"}
    assert set(targets.loc[~in_gene & ~in_flat, "name"]) == {"-"}
    assert (anti["name"] == "Antitarget").all() and len(anti) > 40
    # antitargets never overlap a target
    for chrom, sub in anti.groupby("chromosome"):
        t = targets[targets["chromosome"] == chrom]
        for _, a in sub.iterrows():
            assert not ((t["start"] < a["end"]) & (t["end"] > a["start"])).any()


def test_whole_genome_bins(design, tmp_path):
    paths = [tmp_path / f"{k}.bed" for k in ("t", "a")]
    counts = coverage.make_bins(design["fasta"], *paths, panel_bed=None, bin_size=50_000)
    wgs = coverage.read_bed(paths[0], 4)
    assert counts["antitargets"] == 0 and paths[1].read_text() == ""
    sizes = wgs["end"] - wgs["start"]
    assert sizes.median() == pytest.approx(50_000, rel=0.1)
    assert sizes.sum() == pytest.approx(sum(CONTIGS.values()), rel=0.02)


def test_coverage_sees_copy_number_and_size_selection(bams, bins, tmp_path):
    out = {k: tmp_path / f"{k}.cnn" for k in ("t", "a", "ts", "as")}
    coverage.sample_coverage(bams["T"], bins["targets"], bins["antitargets"], out["t"], out["a"],
                             "T")
    coverage.sample_coverage(bams["T"], bins["targets"], bins["antitargets"], out["ts"],
                             out["as"], "T", size_range=(90, 150))
    anti = pd.read_csv(out["a"], sep="\t")
    amp = anti[(anti["chromosome"] == "chrA") & anti["start"].between(200_000, 330_000)]
    flat = anti[anti["chromosome"] == "chrC"]
    # TF 0.4, CN 10: (1.2 + 4) / 2 = 2.6x the depth of diploid DNA
    assert amp["depth"].mean() / flat["depth"].mean() == pytest.approx(2.6, rel=0.15)
    # size selection keeps the tumour's 130 bp fragments and drops the normal 170 bp ones:
    # total depth falls and the amplified share rises
    sel = pd.read_csv(out["as"], sep="\t")
    assert sel["depth"].sum() < 0.6 * anti["depth"].sum()
    amp_sel = sel[(sel["chromosome"] == "chrA") & sel["start"].between(200_000, 330_000)]
    flat_sel = sel[sel["chromosome"] == "chrC"]
    assert amp_sel["depth"].mean() / flat_sel["depth"].mean() > 4.0


def test_flat_reference_warns_and_pooled_reference_normalises(bams, bins, design, tmp_path):
    from plasmatrack.cnv.pipeline import make_reference

    cov = {}
    for name in ("N0", "N1", "N2", "T"):
        cov[name] = (tmp_path / f"{name}.t.cnn", tmp_path / f"{name}.a.cnn")
        coverage.sample_coverage(bams[name], bins["targets"], bins["antitargets"],
                                 *cov[name], name)
    warning = make_reference([], [], design["fasta"], bins["targets"], bins["antitargets"],
                             tmp_path / "flat.cnn")
    assert "flat reference" in warning
    assert reference.read_reference(tmp_path / "flat.cnn")[1] == warning
    # both ways of pooling (config cnv.reference_correction cnvkit / none) keep GC content for
    # the robust correction and give the same copy-number levels
    for pool_corrections in (True, False):
        check_pooled_reference(cov, bins, design, tmp_path, pool_corrections)


def check_pooled_reference(cov, bins, design, tmp_path, pool_corrections):
    from plasmatrack.cnv.pipeline import make_reference, read_cnr

    assert make_reference([str(cov[n][0]) for n in ("N0", "N1", "N2")],
                          [str(cov[n][1]) for n in ("N0", "N1", "N2")], design["fasta"],
                          bins["targets"], bins["antitargets"], tmp_path / "pon.cnn",
                          pool_corrections=pool_corrections) == ""
    ref, _ = reference.read_reference(tmp_path / "pon.cnn")
    assert {"gc", "rmask", "spread"} <= set(ref.data.columns)
    assert ref.data["gc"].between(0.3, 0.65).all()
    fixed = reference.fix_sample(str(cov["T"][0]), str(cov["T"][1]), ref)
    coverage.write_cnn(fixed, tmp_path / "T.cnr", "T")
    cnr = read_cnr(tmp_path / "T.cnr")
    amp = cnr[cnr["gene"] == "AMP1"]
    # Levels relative to copy-number-neutral bins (where log2 0 falls depends on CNVkit's
    # centring and on how much of this 1.4 Mb genome is gained): at TF 0.4, CN 10 reads
    # log2(5.2 / 2) and the CN 3 half of chrB log2(2.4 / 2) above neutral.
    neutral = cnr.loc[(cnr["chromosome"] == "chrA") & (cnr["end"] <= 200_000), "log2"].median()
    gain = cnr.loc[(cnr["chromosome"] == "chrB") & (cnr["start"] >= 200_000), "log2"].median()
    flat = cnr[cnr["chromosome"] == "chrC"]
    assert amp["log2"].mean() - neutral == pytest.approx(np.log2(5.2 / 2), abs=0.2)
    assert gain - neutral == pytest.approx(np.log2(2.4 / 2), abs=0.1)
    assert flat["log2"].median() == pytest.approx(neutral, abs=0.1)


def test_standalone_command_from_bams(bams, design, tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["cnv", "--bam", str(bams["T"]), "--fasta", design["fasta"], "--panel",
                 design["panel"], "--genes", design["genes"], "--bin-size", "20000",
                 "--normal-bam", str(bams["N0"]), str(bams["N1"]), str(bams["N2"]),
                 "--segment-method", "haar", "--her2-gene", "AMP1", "--out", str(out)])
    assert code == 0
    assert "T: tumour fraction" in capsys.readouterr().out
    tf = pd.read_csv(out / "tumour_fraction.tsv", sep="\t").set_index("sample_id")
    assert set(tf.index) == {"T", "N0", "N1", "N2"}
    assert not tf.loc[["N0", "N1", "N2"], "tf_detected"].any()
    erbb2 = pd.read_csv(out / "erbb2.tsv", sep="\t").set_index("sample_id")
    assert erbb2.loc["T", "amplified"] and not erbb2.loc[["N0", "N1", "N2"], "amplified"].any()
    assert erbb2.loc["T", "plasma_copy_number"] == pytest.approx(5.2, rel=0.3)
    for name in ("T.cnr", "T.cns", "T.seg", "T.hmm_states.tsv", "genes.tsv", "detection.tsv"):
        assert (out / name).is_file(), name


def test_standalone_command_from_cnr(bams, design, tmp_path):
    # the .cnr path: analysis only, on a file CNVkit (or the test above) wrote
    first = tmp_path / "first"
    main(["cnv", "--bam", str(bams["T"]), "--fasta", design["fasta"], "--panel",
          design["panel"], "--genes", design["genes"], "--bin-size", "20000",
          "--segment-method", "haar", "--out", str(first)])
    flat = pd.read_csv(first / "tumour_fraction.tsv", sep="\t")
    assert "flat reference" in flat.loc[0, "warning"]
    second = tmp_path / "second"
    assert main(["cnv", "--cnr", str(first / "T.cnr"), "--genes", design["genes"],
                 "--segment-method", "none", "--out", str(second)]) == 0
    again = pd.read_csv(second / "tumour_fraction.tsv", sep="\t")
    assert again.loc[0, "tumour_fraction_fit"] == pytest.approx(flat.loc[0, "tumour_fraction_fit"],
                                                                abs=1e-9)


def test_repair_overlapping_segments():
    bins = pd.DataFrame({"chromosome": ["1"] * 6, "start": [0, 10, 20, 30, 40, 50],
                         "end": [10, 20, 30, 40, 50, 60]})
    segs = pd.DataFrame({"chromosome": ["1", "1", "1"], "start": [0, 0, 40],
                         "end": [20, 40, 60], "log2": [0.0, 1.0, 0.0]})
    fixed = repair_overlaps(segs, bins)
    assert list(fixed["start"]) == [0, 20, 40]
    assert list(fixed["end"]) == [20, 40, 60]

