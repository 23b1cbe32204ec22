"""The end-collision correction (variants/collisions.py) on real plasma reads: ctDNAtools' example
BAMs (../shared/data/ctdnatools-mrd; no duplicate flags as shipped), duplicates marked here as
the align rule does (fixmate -m, sort, markdup). At these depths (100-500 fragments per site)
distinct cfDNA molecules rarely share both ends, so the correction must stay small and keep the
patient's alt fragments."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pysam
import pytest

from plasmatrack.variants.collisions import correct_counts
from plasmatrack.variants.pileup import ReadFilterSettings, count_sites

pytestmark = pytest.mark.real

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "ctdnatools-mrd" / "data"


@pytest.fixture(scope="module")
def marked(tmp_path_factory):
    if not (DATA / "T1.bam").is_file():
        pytest.skip(f"real data {DATA} is absent (see ../shared/data/README.md)")
    root = tmp_path_factory.mktemp("collisions_real")
    out = {}
    for sample in ("T1", "T2", "N1"):
        by_name, fixed, srt = (root / f"{sample}.{k}.bam" for k in ("name", "fix", "sort"))
        pysam.collate("-o", str(by_name), str(DATA / f"{sample}.bam"), str(root / sample))
        pysam.fixmate("-m", str(by_name), str(fixed))
        pysam.sort("-o", str(srt), str(fixed))
        out[sample] = root / f"{sample}.bam"
        pysam.markdup(str(srt), str(out[sample]))
        pysam.index(str(out[sample]))
    mutations = pd.read_csv(DATA / "mutations.tsv", sep="\t")
    sites = pd.DataFrame({"chrom": mutations["CHROM"], "pos": mutations["POS"],
                          "ref": mutations["REF"], "alt": mutations["ALT"],
                          "variant_type": "snv"})
    return out, sites


def test_correction_is_small_at_real_panel_depth_and_keeps_the_signal(marked):
    bams, sites = marked
    filters = ReadFilterSettings()
    t1 = count_sites(bams["T1"], sites, filters)
    assert t1["alt_count"].sum() == 12  # 13 alt reads before marking (README), one a duplicate
    for sample, (low, high) in {"T1": (1.005, 1.02), "T2": (1.015, 1.04),
                                "N1": (1.003, 1.02)}.items():
        counts = count_sites(bams[sample], sites, filters, end_collisions=True)
        corrected = correct_counts(counts)
        # more fragments per site (T2: median 482) -> more shared ends -> a larger factor
        assert low <= corrected["collision_factor"].median() <= high, sample
        assert (corrected["depth"] == counts["depth"]).all()
        assert corrected["alt_count"].sum() == counts["alt_count"].sum()
