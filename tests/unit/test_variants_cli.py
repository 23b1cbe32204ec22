"""``plasmatrack track`` end to end on code-built BAMs: table, VCF, background from controls."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pysam
import pytest

from plasmatrack.cli import main
from plasmatrack.variants import synthetic as syn


def _alt(base: str) -> str:
    return "ACGT"[("ACGT".index(base) + 1) % 4]


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("track")
    genome = syn.random_genome({"chr1": 12_000}, seed=21)
    fasta = syn.write_fasta(root / "genome.fa", genome)
    g = genome["chr1"]
    sites = [(2001, g[2000], _alt(g[2000])),  # present at 3%
             (4001, g[4000], _alt(g[4000])),  # absent
             (6001, g[6000], _alt(g[6000])),  # noisy site: 2% errors in every sample
             (8001, g[8000:8002], g[8000])]  # deletion at 5%
    rng = np.random.default_rng(8)

    def sample(name, present: bool, n=800, noise=True):
        frags = []
        for i, (pos, ref, alt) in enumerate(sites):
            n_alt = 0
            if present and i == 0:
                n_alt = 24
            if present and i == 3:
                n_alt = 40
            if i == 2 and noise:
                n_alt = 16
            frags += syn.site_fragments(genome, "chr1", pos, ref, alt, n - n_alt, n_alt, rng,
                                        prefix=f"{name}_{i}_")
        return syn.write_bam(root / f"{name}.bam", genome, frags, sample=name)

    tumour = sample("T1", True)
    controls = [sample(f"C{k}", False) for k in range(4)]
    normal = sample("N1", False)
    table = root / "sites.tsv"
    pd.DataFrame(sites, columns=["pos", "ref", "alt"]).assign(
        chrom="chr1")[["chrom", "pos", "ref", "alt"]].to_csv(table, sep="\t", index=False)
    return {"root": root, "fasta": fasta, "tumour": tumour, "controls": controls,
            "normal": normal, "sites": table}


def test_track_with_controls_and_normal(setup, capsys):
    out = setup["root"] / "out"
    code = main(["track", "--bam", str(setup["tumour"]), "--sites", str(setup["sites"]),
                 "--out", str(out), "--reference", str(setup["fasta"]),
                 "--controls", *map(str, setup["controls"]), "--normal", str(setup["normal"]),
                 "--patient", "P9"])
    assert code == 0
    assert "T1: 4 sites, 2 detected" in capsys.readouterr().out
    table = pd.read_csv(out / "tracked.tsv", sep="\t", dtype={"patient_id": str})
    tumour = table[table["sample_id"] == "T1"].set_index("pos")
    assert list(table.columns[:20]) == [
        "patient_id", "sample_id", "sample_type", "timepoint_days", "chrom", "pos", "ref", "alt",
        "gene", "ref_count", "alt_count", "depth", "vaf", "vaf_lower", "vaf_upper",
        "background_rate", "p_value", "status", "category", "filters"]
    assert tumour.loc[2001, "status"] == "detected"
    assert tumour.loc[2001, "alt_count"] == 24 and tumour.loc[2001, "depth"] == 800
    assert tumour.loc[2001, "vaf_lower"] < 0.03 < tumour.loc[2001, "vaf_upper"]
    assert tumour.loc[4001, "status"] == "not_detected"
    assert tumour.loc[8001, "status"] == "detected" and tumour.loc[8001, "alt_count"] == 40
    # The noisy site is at 2% in every control: blacklisted, artifact, not detected.
    assert tumour.loc[6001, "category"] == "artifact"
    assert "blacklisted" in tumour.loc[6001, "filters"]
    assert tumour.loc[6001, "background_rate"] == pytest.approx(0.02, rel=0.1)
    assert tumour.loc[6001, "status"] != "detected"
    assert set(table["sample_type"]) == {"plasma", "normal"}
    assert (table["patient_id"] == "P9").all()

    with pysam.VariantFile(str(out / "tracked.vcf.gz")) as vcf:
        assert list(vcf.header.samples) == ["T1", "N1"]
        records = list(vcf.fetch("chr1"))  # the index works
        assert [r.pos for r in records] == [2001, 4001, 6001, 8001]
        first = records[0]
        assert first.samples["T1"]["AD"] == (776, 24)
        assert first.samples["T1"]["ST"] == "detected"
        assert first.samples["T1"]["GT"] == (0, 1)
        assert first.samples["N1"]["GT"] == (0, 0)
        assert list(records[2].filter) == ["artifact", "blacklisted"]
        assert list(first.filter) == ["PASS"]


def test_track_flat_background_and_bad_input(setup, tmp_path, capsys):
    out = tmp_path / "flat"
    assert main(["track", "--bam", str(setup["tumour"]), "--sites", str(setup["sites"]),
                 "--out", str(out), "--max-p-value", "1e-4"]) == 0
    table = pd.read_csv(out / "tracked.tsv", sep="\t")
    assert (table["detection_threshold"] == 1e-4).all()
    # Without controls the noisy site cannot be told from a variant: it is detected.
    assert table.set_index("pos").loc[6001, "status"] == "detected"
    bad = tmp_path / "bad.tsv"
    bad.write_text("chrom\tposition\tref\talt\nchr1\t5\tA\tC\n")
    assert main(["track", "--bam", str(setup["tumour"]), "--sites", str(bad),
                 "--out", str(tmp_path / "x")]) == 1
    assert "missing column(s) pos" in capsys.readouterr().err
