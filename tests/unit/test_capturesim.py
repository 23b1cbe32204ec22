"""capturesim, the independent capture-panel simulator: what it writes holds the numbers its
truth tables claim, the folder is valid plasmatrack input, and one seed gives one cohort."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from plasmatrack.capturesim import write_cohort
from plasmatrack.capturesim.reads import pileup

SMALL = dict(seed=9, patients=2, draws=3, fragments=60_000, contig_mb=0.6)


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    return write_cohort(tmp_path_factory.mktemp("capsim") / "cohort", keep_reads=True, **SMALL)


def _global(cohort, chrom: pd.Series, pos: pd.Series) -> np.ndarray:
    """Global 0-based positions of 1-based (chrom, pos) pairs."""
    g = cohort.context["genome"]
    return g.offsets[[g.names.index(c) for c in chrom]] + pos.to_numpy() - 1


def _allele_counts(cohort, sid: str, table: pd.DataFrame) -> pd.DataFrame:
    """Reads per site with the ref, the alt and any other base, from the kept reads."""
    frags, kept = cohort.kept[sid]
    sites = _global(cohort, table["chrom"], table["pos"])
    order = np.argsort(sites)
    table, sites = table.iloc[order].reset_index(drop=True), sites[order]
    idx, base = pileup(frags, kept, sites)
    ref = np.array(["ACGT".index(b) for b in table["ref"]])
    alt = np.array(["ACGT".index(b) for b in table["alt"]])
    out = table.copy()
    out["ref_n"] = np.bincount(idx[base == ref[idx]], minlength=len(table))
    out["alt_n"] = np.bincount(idx[base == alt[idx]], minlength=len(table))
    out["depth"] = np.bincount(idx, minlength=len(table))
    return out


def _draws(cohort) -> pd.DataFrame:
    return cohort.truth["draws"]


def test_off_target_fraction_of_reads_matches_truth(cohort):
    """Read pairs whose fragment touches no target of panel.bed: the truth's off-target share
    (within 0.03; fragments touching a target by < 40 bp are off-target to the model)."""
    panel = pd.read_csv(cohort.out / "panel.bed", sep="\t", header=None,
                        names=["chrom", "start", "end", "name"])
    g = cohort.context["genome"]
    t0 = g.offsets[[g.names.index(c) for c in panel.chrom]] + panel.start.to_numpy()
    t1 = t0 + (panel.end - panel.start).to_numpy()
    order = np.argsort(t0)
    t0, t1 = t0[order], t1[order]
    for row in _draws(cohort).itertuples():
        frags, kept = cohort.kept[row.sample_id]
        mol = kept.arrays()[0]
        s, e = frags.start[mol], frags.start[mol] + frags.length[mol]
        i = np.searchsorted(t0, e) - 1
        touch = np.zeros(len(s), dtype=bool)
        for k in range(4):
            j = np.maximum(i - k, 0)
            touch |= (i - k >= 0) & (t0[j] < e) & (t1[j] > s)
        assert abs((~touch).mean() - row.off_target_fraction) < 0.03, row.sample_id


def test_normal_heterozygous_snps_read_half_alt(cohort):
    germ = cohort.truth["germline"]
    for pid in ("CS01", "CS02"):
        het = germ[(germ.patient_id == pid) & (germ.genotype == "het")]
        counts = _allele_counts(cohort, f"{pid}_N", het)
        af = counts.alt_n.sum() / (counts.alt_n.sum() + counts.ref_n.sum())
        assert counts.depth.sum() > 1_000
        assert abs(af - 0.5) < 0.02, (pid, af)
        hom_sites = germ[(germ.patient_id == pid) & (germ.genotype == "hom")]
        hom = _allele_counts(cohort, f"{pid}_N", hom_sites)
        assert hom.alt_n.sum() / hom.depth.sum() > 0.99


def test_loh_segments_shift_allele_fractions_as_the_tumour_fraction_says(cohort):
    """In LOH segments (minor copy number 0) the reads of the retained haplotype's alleles make
    (TF*CN + 1 - TF) / (TF*CN + 2(1 - TF)) of a plasma draw (pooled over the segments, weighted
    by reads); in the normal one half."""
    germ, seg, draws = cohort.truth["germline"], cohort.truth["segments"], _draws(cohort)
    plasma = draws[(draws.sample_type == "plasma") & (draws.tumour_fraction >= 0.1)]
    checked = 0
    for row in plasma.itertuples():
        het = germ[(germ.patient_id == row.patient_id) & (germ.genotype == "het")]
        loh = seg[(seg.patient_id == row.patient_id) & (seg.minor_cn == 0) & (seg.total_cn > 0)]
        tally = {"plasma": [0, 0, 0.0], "normal": [0, 0, 0.0]}  # retained reads, reads, expected
        for s in loh.itertuples():
            sites = het[(het.chrom == s.chrom) & (het.pos > s.start) & (het.pos <= s.end)]
            tf, cn = row.tumour_fraction, s.total_cn
            for kind, sid, expected in (
                    ("plasma", row.sample_id, (tf * cn + 1 - tf) / (tf * cn + 2 * (1 - tf))),
                    ("normal", f"{row.patient_id}_N", 0.5)):
                c = _allele_counts(cohort, sid, sites)
                on_a = int(np.where(c.haplotype == "A", c.alt_n, c.ref_n).sum())
                on_b = int(np.where(c.haplotype == "B", c.alt_n, c.ref_n).sum())
                # The retained haplotype is the one with more reads in the plasma draw.
                if kind == "plasma":
                    keep_a = on_a >= on_b
                t = tally[kind]
                t[0] += on_a if keep_a else on_b
                t[1] += on_a + on_b
                t[2] += expected * (on_a + on_b)
        if tally["plasma"][1] < 250:
            continue
        for kind, (kept, total, expected) in tally.items():
            assert abs(kept / total - expected / total) < 0.06, (row.sample_id, kind, kept / total,
                                                                expected / total, total)
        checked += 1
    assert checked >= 1, "no draw of TF >= 0.1 with LOH and enough reads (change the seed)"


def test_somatic_alt_reads_follow_expected_vaf_and_vanish_at_tf0(cohort):
    draws, vaf = _draws(cohort), cohort.truth["snv_vaf"]
    tf0 = draws[(draws.sample_type == "plasma") & (draws.tumour_fraction == 0)]
    assert len(tf0) >= 1, "every cohort has a tumour-free plasma draw"
    for sid in list(tf0.sample_id) + [s for s in draws.sample_id if s.endswith("_N")]:
        c = _allele_counts(cohort, sid, vaf[vaf.sample_id == sid])
        # Substitution errors: ~0.2% per base, a third of them to the alt base.
        assert c.alt_n.sum() <= 0.002 * c.depth.sum() + 3, (sid, c.alt_n.sum(), c.depth.sum())
    top = draws.sort_values("tumour_fraction").iloc[-1]
    c = _allele_counts(cohort, top.sample_id, vaf[vaf.sample_id == top.sample_id])
    expected = (c.expected_vaf * c.depth).sum() / c.depth.sum()
    observed = c.alt_n.sum() / c.depth.sum()
    assert c.depth.sum() > 300
    assert abs(observed - expected) < 0.25 * expected + 0.01, (observed, expected)


def test_truth_tables_describe_the_design(cohort):
    draws, seg, snvs = _draws(cohort), cohort.truth["segments"], cohort.truth["snvs"]
    g = cohort.context["genome"]
    for pid, s in seg.groupby("patient_id"):
        assert (s.end - s.start).sum() == g.total  # segments tile the genome
        assert (s.major_cn + s.minor_cn == s.total_cn).all() and (s.major_cn >= s.minor_cn).all()
    focal = draws[draws.archetype == "focal_erbb2"]
    assert (focal.altered_fraction < 0.02).all() and focal.erbb2_tumour_cn.between(6, 25).all()
    assert (draws[draws.archetype == "wgd"].tumour_ploidy > 3).all()
    assert snvs.groupby("patient_id").size().between(10, 30).all()
    assert (snvs.multiplicity <= snvs.haplotype_cn).all() and snvs.ccf.between(0, 1).all()
    plasma = draws[draws.sample_type == "plasma"]
    assert plasma.normal_fragment_mode.between(160, 175).all()
    assert plasma.tumour_fragment_mode.between(136, 154).all()
    normals = draws[draws.sample_type == "normal"]
    assert (normals.normal_fragment_mean > 220).all() and (normals.tumour_fraction == 0).all()
    assert draws.off_target_fraction.between(0.15, 0.5).all()
    assert draws.gc_bias_strength.between(1.5, 4).all()


def test_cohort_folder_is_valid_plasmatrack_input(cohort):
    from plasmatrack.commands.validate import run
    from plasmatrack.config import load_config
    from plasmatrack.sheets import load_samples

    config = load_config(cohort.out / "config.yaml")
    assert config["her2_gene"] == "ERBB2" and not config.get("truth")
    samples = load_samples(config["samples"])
    assert (samples.sample_type == "plasma").sum() == 6 and samples.patient_id.nunique() == 2
    assert run(argparse.Namespace(config=str(cohort.out / "config.yaml"), no_file_check=False)) == 0


def test_fastq_pairs_are_paired_and_well_formed(cohort):
    import gzip

    sid = _draws(cohort).sample_id.iloc[1]
    with gzip.open(cohort.out / "fastq" / f"{sid}_R1.fastq.gz", "rt") as f1, \
            gzip.open(cohort.out / "fastq" / f"{sid}_R2.fastq.gz", "rt") as f2:
        lines1, lines2 = f1.read().splitlines(), f2.read().splitlines()
    assert len(lines1) == len(lines2) and len(lines1) % 4 == 0
    names = lines1[0::4]
    assert names == lines2[0::4] and len(set(names)) == len(names)
    assert all(" " not in n and n.startswith(f"@{sid}:") for n in names[:100])
    seqs, quals = lines1[1::4], lines1[3::4]
    assert all(len(s) == len(q) <= 100 for s, q in zip(seqs[:2000], quals[:2000]))
    assert set("".join(quals[:2000])) <= set("#-8F")


def test_same_seed_same_bytes(tmp_path: Path):
    tiny = dict(patients=1, draws=1, fragments=2_000, contig_mb=0.5)
    a = write_cohort(tmp_path / "a", seed=11, **tiny).out
    b = write_cohort(tmp_path / "b", seed=11, **tiny).out
    c = write_cohort(tmp_path / "c", seed=12, **tiny).out
    files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert len(files) > 10
    for rel in files:
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel
    fq = Path("fastq") / "CS01_D1_R1.fastq.gz"
    assert (a / fq).read_bytes() != (c / fq).read_bytes()
