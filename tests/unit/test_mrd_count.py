"""The residual-disease counting rule's function (``mrd.pipeline.run_mrd_count_patient``): one job
per patient writes a folder of per-sample counts, each what counting that sample alone gives;
controls at every patient's sites, the others at their own."""

from __future__ import annotations

import pandas as pd
import pytest

from plasmatrack.errors import InputError
from plasmatrack.io import read_tsv
from plasmatrack.mrd.pipeline import count_molecules, run_mrd_count_patient
from plasmatrack.mrd.settings import MrdSettings
from plasmatrack.variants import synthetic as syn


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    root = tmp_path_factory.mktemp("mrd_count")
    genome = syn.random_genome({"chr1": 6000}, seed=8)
    g = genome["chr1"]
    snvs = [(p, g[p - 1], "ACGT"[("ACGT".index(g[p - 1]) + 1) % 4]) for p in (1001, 3001, 5001)]
    sites = pd.DataFrame({"patient_id": ["P1", "P1", "P2"], "chrom": "chr1",
                          "pos": [s[0] for s in snvs], "ref": [s[1] for s in snvs],
                          "alt": [s[2] for s in snvs], "site_id": ["a", "b", "c"]})
    sites.to_csv(root / "sites.tsv", sep="\t", index=False)
    bams = {name: str(syn.write_snv_panel_bam(root / f"{name}.bam", genome, "chr1",
                                              [(*s, vaf) for s in snvs], depth=300, seed=k,
                                              sample=name))
            for k, (name, vaf) in enumerate((("P1_N", 0.0), ("P1_D1", 0.05)))}
    return root, sites, bams


def test_patient_folder_holds_each_samples_own_counts(cohort, tmp_path):
    root, sites, bams = cohort
    settings = MrdSettings()
    out = tmp_path / "P1" / "counts"
    run_mrd_count_patient(bams, root / "sites.tsv", out, settings, "P1", controls={"P1_N"})
    assert sorted(p.name for p in out.iterdir()) == ["P1_D1.counts.tsv", "P1_N.counts.tsv"]
    control, draw = (read_tsv(out / f"{s}.counts.tsv") for s in ("P1_N", "P1_D1"))
    assert control["pos"].tolist() == [1001, 3001, 5001]  # a control: every patient's sites
    assert draw["pos"].tolist() == [1001, 3001]  # its own patient's sites only
    alone = count_molecules(bams["P1_D1"], sites[sites["patient_id"] == "P1"], settings)
    assert draw["depth"].tolist() == alone["depth"].tolist()
    assert draw["mutant"].tolist() == alone["mutant"].tolist()
    assert draw["mutant"].sum() > 0 and control["mutant"].sum() < draw["mutant"].sum()


def test_a_sample_id_unfit_for_a_path_is_refused(cohort, tmp_path):
    root, _sites, bams = cohort
    with pytest.raises(InputError, match="sample ID '../x'"):
        run_mrd_count_patient({"../x": bams["P1_N"]}, root / "sites.tsv", tmp_path, MrdSettings(),
                              "P1")
