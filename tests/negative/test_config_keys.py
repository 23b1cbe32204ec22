"""Config keys the schema does not know are errors at every level, with the nearest key named:
a misspelt key would otherwise be ignored and the run would go ahead without the setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from plasmatrack.cli import main
from plasmatrack.config import load_config
from plasmatrack.errors import InputError

BASE = ("samples: samples.tsv\nclinical: clinical.tsv\nreference: {fasta: genome.fa}\n"
        "genes: genes.bed\n")


def _config(cohort: Path, extra: str) -> Path:
    path = cohort / "bad.yaml"
    path.write_text(BASE + extra)
    return path


def test_unknown_top_level_key_names_the_nearest(mini_cohort):
    cfg = _config(mini_cohort, "varients: {threads: 2}\n")
    with pytest.raises(InputError) as info:
        load_config(cfg)
    assert (f"{cfg}: key 'varients' is not a known setting (did you mean 'variants'?)"
            in str(info.value))


def test_unknown_key_without_a_near_one(mini_cohort):
    # (This test used `umi`, a section since issue 20.)
    cfg = _config(mini_cohort, "methylation: {min_family_size: 3}\n")
    with pytest.raises(InputError) as info:
        load_config(cfg)
    assert str(info.value).strip() == f"{cfg}: key 'methylation' is not a known setting"


def test_unknown_nested_keys_are_all_listed(mini_cohort):
    cfg = _config(mini_cohort, "cnv:\n  bin_sise: 50000\n  hmm: {max_cpy: 6}\n"
                               "clonal:\n  events: {present_mn: 0.1}\nqc: {threads: many}\n")
    with pytest.raises(InputError) as info:
        load_config(cfg)
    text = str(info.value)
    assert f"{cfg}: key 'cnv.bin_sise' is not a known setting (did you mean 'cnv.bin_size'?)" \
        in text
    assert (f"{cfg}: key 'cnv.hmm.max_cpy' is not a known setting "
            "(did you mean 'cnv.hmm.max_copy'?)") in text
    assert (f"{cfg}: key 'clonal.events.present_mn' is not a known setting "
            "(did you mean 'clonal.events.present_min'?)") in text
    assert f"{cfg}: key 'qc.threads': 'many' is not of type 'integer'" in text


def test_validate_command_reports_the_unknown_key(mini_cohort, capsys):
    cfg = _config(mini_cohort, "variants:\n  discovery: {min_vaff: 0.001}\n")
    assert main(["validate", "--config", str(cfg), "--no-file-check"]) == 1
    assert ("key 'variants.discovery.min_vaff' is not a known setting "
            "(did you mean 'variants.discovery.min_vaf'?)") in capsys.readouterr().err


def test_list_valued_paths_are_resolved_against_the_config_folder(mini_cohort):
    cfg = _config(mini_cohort, "cnv: {exclude: [panel.bed, /abs/blacklist.bed]}\n"
                               "clonal: {copy_number_table: segments.tsv}\n")
    config = load_config(cfg)
    assert config["cnv"]["exclude"] == [str(mini_cohort / "panel.bed"), "/abs/blacklist.bed"]
    assert config["clonal"]["copy_number_table"] == str(mini_cohort / "segments.tsv")
