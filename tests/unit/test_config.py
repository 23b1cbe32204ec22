"""The shipped example config and sheets follow the contract."""

from pathlib import Path

from plasmatrack.config import load_config, load_schema
from plasmatrack.sheets import load_clinical, load_samples

REPO = Path(__file__).resolve().parents[2]


def test_example_config_validates():
    config = load_config(REPO / "config" / "config.yaml")
    assert config["samples"] == str(REPO / "config" / "samples.tsv")
    samples = load_samples(config["samples"], check_files=False)
    assert set(samples["sample_type"]) == {"plasma", "normal"}
    clinical = load_clinical(config["clinical"], patients=set(samples["patient_id"]))
    assert clinical.warnings == []
    assert clinical.table.loc[0, "ttf_months"] == 4.3


def test_every_schema_key_is_described():
    def walk(node, path):
        for name, sub in node.get("properties", {}).items():
            assert "description" in sub, f"config key {path + name} has no description"
            if sub.get("type") == "object":
                walk(sub, path + name + ".")
            else:
                assert "default" in sub or path + name in (
                    "samples", "clinical", "reference.fasta", "genes"), path + name
    walk(load_schema(), "")


def test_atomic_write_permissions_and_no_partial_file(tmp_path):
    import os

    import pytest

    from plasmatrack.io import atomic_open

    target = tmp_path / "out.tsv"
    with atomic_open(target) as handle:
        handle.write("a\n")
    mask = os.umask(0)
    os.umask(mask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~mask
    with pytest.raises(RuntimeError):
        with atomic_open(target) as handle:
            handle.write("partial")
            raise RuntimeError("crash mid-write")
    assert target.read_text() == "a\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.tsv"]
    # a writer killed by SIGKILL leaves its temporary file; the next successful write of the
    # same output removes it (and leaves other outputs' temporaries alone)
    (tmp_path / ".out.tsv.k1ll3d_x.tmp").write_text("partial")
    (tmp_path / ".other.tsv.abcdefgh.tmp").write_text("someone else's")
    with atomic_open(target) as handle:
        handle.write("b\n")
    assert target.read_text() == "b\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".other.tsv.abcdefgh.tmp", "out.tsv"]
