"""Sample identity on real reads (../shared/data/ctdnatools-mrd): two plasma draws of one patient
(T1, T2) and three healthy donors (N1-N3), all restricted to one 627-bp target of chr14 (hg19).
The target holds one common SNP, chr14:106328066 (A/G; the data has no FASTA, so A, the allele
of T1, T2 and N1, is written as ref): the two draws and N1 are homozygous A, N2 and N3
heterozygous. Contamination is made by mixing real reads of T2 and N2 with ``samtools view -s``
and ``samtools merge``, independently of both simulators."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pysam
import pytest

from plasmatrack.qc.identity import IdentitySettings
from plasmatrack.qc.identity_pipeline import IdentityPaths, run_fingerprint, run_identity

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "ctdnatools-mrd" / "data"
pytestmark = pytest.mark.real
SITE = ("chr14", 106328066, "A", "G", "ctdnatools-mrd")


@pytest.fixture(scope="module")
def sites(tmp_path_factory) -> Path:
    if not (DATA / "T1.bam").exists():
        pytest.skip(f"real data {DATA} is absent (see ../shared/data/README.md)")
    path = tmp_path_factory.mktemp("sites") / "sites.tsv"
    pd.DataFrame([SITE], columns=["chrom", "pos", "ref", "alt", "source"]).to_csv(
        path, sep="\t", index=False)
    return path


def _fingerprint(bam: Path, sites: Path, out: Path) -> pd.Series:
    return run_fingerprint(bam, sites, out, IdentitySettings()).iloc[0]


def test_real_genotypes_at_the_common_snp(sites, tmp_path):
    counts = {s: _fingerprint(DATA / f"{s}.bam", sites, tmp_path / f"{s}.tsv")
              for s in ("T1", "T2", "N1", "N2", "N3")}
    # fragment counts (overlapping mates once): T1 205/1, T2 343/0, N1 158/0, N2 46/58, N3 24/38
    assert [(int(c.ref_count), int(c.alt_count)) for c in counts.values()] == \
        [(205, 1), (343, 0), (158, 0), (46, 58), (24, 38)]


def _mix(host: Path, donor: Path, fraction: float, out: Path, sites: Path) -> float:
    """Mixed BAM at ``out``; returns the donor's share of the fragments at the site."""
    n_host = int(pysam.view("-c", "-F", "0x900", str(host)))
    n_donor = int(pysam.view("-c", "-F", "0x900", str(donor)))
    parts = []
    for bam, keep, tag in ((host, 1 - fraction, "h"), (donor, fraction * n_host / n_donor, "d")):
        part = out.with_name(f"{out.stem}.{tag}.bam")
        pysam.view("-b", "-s", f"7{str(keep)[1:]}", "-o", str(part), str(bam), catch_stdout=False)
        pysam.index(str(part))
        parts.append(part)
    pysam.merge("-f", "-c", "-p", str(out), *map(str, parts))
    pysam.index(str(out))
    depth = [float(_fingerprint(p, sites, p.with_suffix(".tsv"))["depth"]) for p in parts]
    return depth[1] / sum(depth)


@pytest.mark.parametrize("fraction", [0.05, 0.10])
def test_real_reads_mixed_in_are_estimated(sites, tmp_path, fraction):
    mixed = tmp_path / "T2_mixed.bam"
    truth = _mix(DATA / "T2.bam", DATA / "N2.bam", fraction, mixed, sites)
    sheet = pd.DataFrame({"sample_id": ["T1", "T2", "N2"], "patient_id": ["T", "T", "N2"],
                          "sample_type": ["plasma", "plasma", "plasma"]})
    bams = [DATA / "T1.bam", mixed, DATA / "N2.bam"]
    fps = [tmp_path / f"{s}.fp.tsv" for s in sheet["sample_id"]]
    for bam, fp in zip(bams, fps):
        run_fingerprint(bam, sites, fp, IdentitySettings())
    # one site cannot decide identity (min_informative_sites 10): every sample is undetermined,
    # kept, and says why; contamination is still measured at the host's homozygous site
    settings = IdentitySettings()
    _, samples = run_identity(sheet, IdentityPaths(fps, sites, tmp_path / "pairs.tsv",
                                                   tmp_path / "samples.tsv"), settings)
    by_id = samples.set_index("sample_id")
    assert (samples["identity_status"] == "undetermined").all()
    assert samples["identity_ok"].all()
    mixed_row = by_id.loc["T2"]
    # measured: truth 0.058 -> 0.070, truth 0.111 -> 0.111 (343 fragments at the site);
    # binomial error of one site at ~340 fragments: N2's allele is ~56 % of its share
    depth = int(pd.read_csv(fps[1], sep="\t")["depth"].iat[0])
    sd = np.sqrt(truth * 0.56 * depth) / (0.56 * depth)
    assert mixed_row["contamination"] == pytest.approx(truth, abs=max(0.01, 3 * sd))
    assert mixed_row["contamination_source"] in ("N2", "population")  # one donor: same fit
    assert mixed_row["contamination"] > settings.max_contamination
    # T1's host site needs the other draw (the mixed T2) to look homozygous within 3 %:
    # at 5-10 % of N2 it does not, so T1's contamination is not measurable (NaN), not flagged
    assert not by_id.at["T1", "contamination"] > settings.max_contamination


def test_qc_command_counts_the_fingerprint_in_the_qc_job(sites, tmp_path):
    # The rule qc_sample and `plasmatrack qc --fingerprint-sites` count the fingerprint in the
    # QC job: the same counts as the fingerprint alone, and the QC row as without it.
    from plasmatrack.cli import main as cli_main

    with_fp, alone = tmp_path / "with", tmp_path / "alone"
    assert cli_main(["qc", "--bam", str(DATA / "N2.bam"), "--out", str(with_fp),
                     "--sample-id", "N2", "--fingerprint-sites", str(sites)]) == 0
    assert cli_main(["qc", "--bam", str(DATA / "N2.bam"), "--out", str(alone),
                     "--sample-id", "N2"]) == 0
    fp = pd.read_csv(with_fp / "N2.fingerprint.tsv", sep="\t")
    assert (int(fp.at[0, "ref_count"]), int(fp.at[0, "alt_count"])) == (46, 58)
    assert fp.equals(_fingerprint(DATA / "N2.bam", sites, tmp_path / "N2.tsv").to_frame().T
                     .astype(fp.dtypes.to_dict()).reset_index(drop=True))
    assert (with_fp / "N2.qc.tsv").read_text() == (alone / "N2.qc.tsv").read_text()
    assert not (alone / "N2.fingerprint.tsv").exists()
    assert cli_main(["qc", "--bam", str(DATA / "N2.bam"), "--out", str(alone),
                     "--sample-id", "N2", "--fingerprint-sites", str(tmp_path / "no.tsv")]) == 1
