"""``plasmatrack simulate --umi``: the UMI library checked against the reads themselves (names,
strand swap, error counts recounted against the reference) and its truth tables; PCR error
sharing inside families; and the default cohort byte-identical to the simulator before UMIs."""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from plasmatrack.errors import InputError
from plasmatrack.simulate import SimulateSettings, simulate_cohort
from plasmatrack.simulate.umi import (MOLECULE_COLUMNS, READ_COLUMNS, SUMMARY_COLUMNS,
                                      UmiSimSettings, plan_reads)

DUPLEX = SimulateSettings(seed=5, patients=1, draws=1, read_pairs=16_000, umi="duplex")
_COMP = bytes.maketrans(b"ACGTN", b"TGCAN")

# Decompressed-content SHA-256 (first 16 hex digits) of every file of
# `plasmatrack simulate --seed 3 --patients 1 --draws 2 --read-pairs 3000`. Taken at 7957871 (before
# UMI mode) and retaken once, when issue 24 deliberately changed the default cohort (annotation.gff3,
# protein-changing hotspot alts: config.yaml, hotspots.tsv, the reference, 16 bases of reads;
# docs/simulator.md); .complete and every other file kept the 7957871 digests. The UMI, swap and
# contamination options, unset, must leave all of it unchanged.
DEFAULT_DIGESTS = {
    ".complete": "b666a3bed9943ac7", "annotation.gff3": "5033d7cbd3b17c28",
    "clinical.tsv": "3f97d5181d127a56", "config.yaml": "4d63300f3703781e",
    "exons.bed": "2bf8348f3f6d2684", "fastq/P01_D1_R1.fastq.gz": "a1efe783b2d88483",
    "fastq/P01_D1_R2.fastq.gz": "bb1e38df8623f247", "fastq/P01_D2_R1.fastq.gz": "3efd776ebd56f9b7",
    "fastq/P01_D2_R2.fastq.gz": "15667c9fe7d211f9", "fastq/P01_N_R1.fastq.gz": "95c94d998c8e9a5f",
    "fastq/P01_N_R2.fastq.gz": "59f79aadf348e305", "genes.bed": "73dbf005bb46331a",
    "hotspots.tsv": "d33a4b6ffec32001", "panel.bed": "09e71385e246516d",
    "reference/genome.fa": "6a991334f93b66f6", "samples.tsv": "a9ac02bdc03506ea",
    "truth/clones.tsv": "f81ea876aa16f683", "truth/noisy_sites.tsv": "24a72ea7d457c84a",
    "truth/patients.tsv": "54b9e9cb559aa9bd", "truth/samples.tsv": "5868c02e964972a5",
    "truth/segments.tsv": "0b6a91803069183b", "truth/variants.tsv": "86c5e6848be5f0fd",
}


def _quiet(*_args):
    pass


def _digest(path: Path) -> str:
    data = gzip.open(path).read() if path.suffix == ".gz" else path.read_bytes()
    return hashlib.sha256(data).hexdigest()[:16]


def test_default_cohort_is_byte_identical_to_before_umi_mode(tmp_path):
    out = simulate_cohort(tmp_path / "c", SimulateSettings(seed=3, patients=1, draws=2,
                                                           read_pairs=3000), log=_quiet)
    files = {str(p.relative_to(out)): _digest(p) for p in sorted(out.rglob("*")) if p.is_file()}
    assert files == DEFAULT_DIGESTS


@pytest.fixture(scope="module")
def duplex(tmp_path_factory) -> Path:
    return simulate_cohort(tmp_path_factory.mktemp("umi") / "c", DUPLEX, log=_quiet)


def _genome(cohort: Path) -> dict[str, bytes]:
    seqs: dict[str, list[bytes]] = {}
    for line in open(cohort / "reference" / "genome.fa", "rb"):
        line = line.rstrip(b"\n")
        if line.startswith(b">"):
            name = line[1:].decode()
            seqs[name] = []
        else:
            seqs[name].append(line)
    return {k: b"".join(v) for k, v in seqs.items()}


def _fastq(path: Path) -> tuple[list[str], list[bytes]]:
    lines = gzip.open(path).read().split(b"\n")
    return [n[1:].decode() for n in lines[0::4] if n], lines[1::4][:len(lines) // 4]


@pytest.fixture(scope="module")
def sample(duplex):
    sid = "P01_D1"
    names1, r1 = _fastq(duplex / "fastq" / f"{sid}_R1.fastq.gz")
    names2, r2 = _fastq(duplex / "fastq" / f"{sid}_R2.fastq.gz")
    reads = pd.read_csv(duplex / "truth" / "umi" / f"{sid}.reads.tsv.gz", sep="\t",
                        keep_default_na=False)
    mols = pd.read_csv(duplex / "truth" / "umi" / f"{sid}.molecules.tsv.gz", sep="\t",
                       keep_default_na=False)
    return dict(names=(names1, names2), r1=r1, r2=r2, reads=reads, mols=mols)


def test_truth_tables_have_declared_columns(duplex, sample):
    assert list(sample["reads"].columns) == READ_COLUMNS
    assert list(sample["mols"].columns) == MOLECULE_COLUMNS
    summary = pd.read_csv(duplex / "truth" / "umi_samples.tsv", sep="\t")
    assert list(summary.columns) == SUMMARY_COLUMNS
    assert sorted(summary["sample_id"]) == ["P01_D1", "P01_N"]
    assert "umi:\n" in (duplex / "config.yaml").read_text()
    assert json.loads((duplex / ".complete").read_text())["umi"] == "duplex"


def test_read_names_carry_the_observed_umi_bcl_convert_style(sample):
    names1, names2 = sample["names"]
    reads = sample["reads"]
    assert names1 == names2 and len(names1) == len(reads)
    prefix = [n.rsplit(":", 1)[0] for n in names1]
    umi = [n.rsplit(":", 1)[1] for n in names1]
    assert prefix == list(reads["read_name"])
    assert umi == list(reads["umi_observed"])
    assert all(len(u) == 17 and u[8] == "+" for u in umi)


def test_duplex_strands_swap_umi_halves_and_reads(sample):
    reads, mols = sample["reads"], sample["mols"].set_index("molecule")
    m = mols.loc[reads["molecule"]]
    a = (reads["strand"] == "A").to_numpy()
    expect = np.where(a, m["umi_a"] + "+" + m["umi_b"], m["umi_b"] + "+" + m["umi_a"])
    assert (reads["umi_true"].to_numpy() == expect).all()
    # per molecule, the strand sizes in the molecule table are the reads of each strand
    counts = reads.groupby(["molecule", "strand"]).size().unstack(fill_value=0)
    assert (counts["A"] == mols.loc[counts.index, "reads_a"]).all()
    assert (counts["B"] == mols.loc[counts.index, "reads_b"]).all()
    assert (mols["reads_a"] + mols["reads_b"]).sum() == len(reads)


def _mismatches(read: bytes, ref: bytes) -> int:
    return sum(x != y for x, y in zip(read, ref))


def test_error_counts_and_strand_of_read1_match_the_reference(duplex, sample):
    """Read 1 of strand A starts at the fragment start (top strand), of strand B at its end
    (bottom strand); mismatches against the reference equal the truth's PCR + sequencing errors
    on reads away from truth variants."""
    genome = _genome(duplex)
    variants = pd.read_csv(duplex / "truth" / "variants.tsv", sep="\t")
    reads, mols = sample["reads"], sample["mols"].set_index("molecule")
    agree = checked = 0
    for i in range(0, len(reads), 7):
        row = reads.iloc[i]
        mol = mols.loc[row["molecule"]]
        near = variants[(variants["chrom"] == mol["chrom"])
                        & (variants["pos"] > mol["start"] - 60) & (variants["pos"] < mol["end"] + 60)]
        if len(near) or mol["end"] - mol["start"] < 100:
            continue
        seq = genome[mol["chrom"]]
        top = seq[mol["start"]:mol["start"] + 100]
        bot = seq[mol["end"] - 100:mol["end"]].translate(_COMP)[::-1]
        r1, r2 = sample["r1"][i], sample["r2"][i]
        first, second = (top, bot) if row["strand"] == "A" else (bot, top)
        found = _mismatches(r1, first) + _mismatches(r2, second)
        checked += 1
        agree += found == row["pcr_errors"] + row["seq_errors"]
    assert checked > 500
    assert agree == checked


def test_raw_and_umi_error_rates_are_about_1e3(duplex):
    s = pd.read_csv(duplex / "truth" / "umi_samples.tsv", sep="\t")
    raw = (s["seq_errors"] + s["pcr_errors"]).sum() / s["bases"].sum()
    assert 5e-4 < raw < 5e-3
    umi_rate = s["umi_errors"].sum() / s["umi_bases"].sum()
    n = s["umi_bases"].sum()
    assert abs(umi_rate - 1e-3) < 4 * np.sqrt(1e-3 / n)
    assert (s["pcr_errors"] > 0).all() and (s["pcr_errors"] < s["seq_errors"] / 20).all()


def test_family_sizes_are_overdispersed_with_the_asked_mean(sample):
    mols = sample["mols"]
    sizes = np.concatenate([mols["reads_a"], mols["reads_b"]])
    assert sizes.mean() == pytest.approx(4.0, rel=0.02)  # all strands, sequenced or not
    assert sizes.var() / sizes.mean() > 2  # negative binomial, not Poisson
    both = ((mols["reads_a"] > 0) & (mols["reads_b"] > 0)).sum()
    seen = ((mols["reads_a"] + mols["reads_b"]) > 0).sum()
    assert 0.6 < both / seen < 0.95


def test_early_pcr_errors_are_shared_by_part_of_a_family_and_never_across_strands():
    rng = np.random.default_rng(11)
    settings = UmiSimSettings(mode="duplex", family_size=20.0, pcr_error_rate=2e-4)
    lengths = np.full(400, 160)
    plan = plan_reads(rng, settings, 16_000, lengths)
    family = plan.molecule * 2 + plan.flip
    size = np.bincount(family, minlength=800)
    ev = pd.DataFrame(dict(family=family[plan.pcr_read], offset=plan.pcr_offset,
                           shift=plan.pcr_shift))
    carriers = ev.groupby(["family", "offset", "shift"]).size().rename("n").reset_index()
    share = carriers["n"] / size[carriers["family"]]
    big = size[carriers["family"]] >= 16
    # cycle-c errors reach ~2^-c of a family: most are private, cycle-1/2 ones reach a quarter
    # to a half (or more, by chance)
    assert (share[big] <= 0.1).mean() > 0.5
    assert (share[big] >= 0.25).sum() >= 5
    # a shared error of one strand's copies is not on the other strand of that molecule (0.3
    # such pairs expected by chance here)
    shared = carriers[carriers["n"] >= 2]
    other = shared.assign(family=shared["family"] ^ 1)
    assert len(other.merge(shared, on=["family", "offset", "shift"])) <= 2
    # per-base PCR error per read ~ rate * (cycles / 2) (the copies on a read's path)
    per_base = len(plan.pcr_read) / (family.size * 160)
    assert per_base == pytest.approx(2e-4 * 10 / 2, rel=0.15)


def test_single_mode_gives_each_strand_its_own_umi(tmp_path):
    params = SimulateSettings(seed=2, patients=1, draws=1, read_pairs=3000, umi="single",
                              umi_length=12)
    out = simulate_cohort(tmp_path / "c", params, log=_quiet)
    reads = pd.read_csv(out / "truth" / "umi" / "P01_D1.reads.tsv.gz", sep="\t",
                        keep_default_na=False)
    mols = pd.read_csv(out / "truth" / "umi" / "P01_D1.molecules.tsv.gz", sep="\t",
                       keep_default_na=False).set_index("molecule")
    m = mols.loc[reads["molecule"]]
    expect = np.where(reads["strand"] == "A", m["umi_a"], m["umi_b"])
    assert (reads["umi_true"].to_numpy() == expect).all()
    names, _ = _fastq(out / "fastq" / "P01_D1_R1.fastq.gz")
    assert all(len(n.rsplit(":", 1)[1]) == 12 for n in names)


def test_bad_umi_options_and_a_changed_umi_mode_are_refused(tmp_path, duplex):
    with pytest.raises(InputError, match="--umi-length"):
        simulate_cohort(tmp_path / "x", SimulateSettings(umi="duplex", umi_length=2),
                        log=_quiet)
    with pytest.raises(InputError, match="--umi must be"):
        simulate_cohort(tmp_path / "y", SimulateSettings(umi="triplex"), log=_quiet)
    with pytest.raises(InputError, match="umi='duplex' \\(asked 'single'\\)"):
        simulate_cohort(duplex, SimulateSettings(**{**DUPLEX.__dict__, "umi": "single"}),
                        log=_quiet)
