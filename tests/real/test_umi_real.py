"""UMI grouping and consensus on real public data (../shared/data; figures from each folder's
README): UMI-tools' own chr19 test outputs, MAGERI's spike-in amplicon and ConsensusCruncher's
duplex subsamples."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pysam
import pytest

from plasmatrack.umi.settings import UmiSettings
from plasmatrack.umi.stream import MoleculeStream, five_prime
from plasmatrack.umi.umis import UmiProblems

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
pytestmark = pytest.mark.real


def _need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"real data {path} is absent (see ../shared/data/README.md)")
    return path


def _molecule_of_each_read(bam: Path, settings: UmiSettings) -> dict[tuple[str, int], int]:
    """(read name, 5' end) -> molecule id (the chr19 names repeat at different positions)."""
    assignment = {}
    with pysam.AlignmentFile(str(bam)) as handle:
        for molecule in MoleculeStream(settings, UmiProblems(str(bam))).run(handle):
            for templates in molecule.strands.values():
                for template in templates:
                    assignment[template.name, five_prime(template.reads[0])] = molecule.id
    return assignment


@pytest.mark.parametrize("bam,source", [("chr19_tag.bam", "tag"), ("chr19.bam", "read_name")])
@pytest.mark.parametrize("max_edits,molecules", [(1, 728), (2, 672)])
def test_umitools_chr19_directional_molecules(bam, source, max_edits, molecules):
    path = _need(DATA / "umitools-chr19" / bam)
    settings = UmiSettings(mode="single", source=source, max_edits=max_edits)
    assignment = _molecule_of_each_read(path, settings)
    assert len(assignment) == 55_197
    assert len(set(assignment.values())) == molecules


def test_umitools_chr19_partition_is_umitools_group_dir():
    reference = pd.read_csv(_need(DATA / "umitools-chr19" / "expected" / "group_dir_py3.tsv"),
                            sep="\t")
    settings = UmiSettings(mode="single", source="tag", max_edits=1)
    assignment = _molecule_of_each_read(DATA / "umitools-chr19" / "chr19_tag.bam", settings)
    reference["ours"] = [assignment[key] for key in zip(reference.read_id, reference.position)]
    # Identical partitions: each UMI-tools group is one of ours and each of ours one of theirs.
    assert reference.groupby("unique_id").ours.nunique().max() == 1
    assert reference.groupby("ours").unique_id.nunique().max() == 1
    assert reference.unique_id.nunique() == reference.ours.nunique() == 728
