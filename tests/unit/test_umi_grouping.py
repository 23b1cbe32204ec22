"""UMI settings, read structures, UMI parsing and directional adjacency on small cases."""

from __future__ import annotations

import pytest

from plasmatrack.errors import InputError
from plasmatrack.umi import UmiSettings
from plasmatrack.umi.grouping import directional_groups
from plasmatrack.umi.readstructure import ReadStructure
from plasmatrack.umi.umis import UmiProblems, split_halves, umi_from_name


def test_settings_from_config_and_their_checks():
    settings = UmiSettings.from_config({"mode": "duplex", "source": "inline",
                                        "read_structures": ["8M2S+T", "8M2S+T"]})
    assert settings.duplex and settings.read_structures == ("8M2S+T", "8M2S+T")
    assert not UmiSettings().enabled
    with pytest.raises(InputError, match="needs two read structures"):
        UmiSettings(mode="single", source="inline")
    with pytest.raises(InputError, match="umi.mode 'triplex'"):
        UmiSettings(mode="triplex")
    with pytest.raises(InputError, match="'max_edit' -> 'max_edits'"):
        UmiSettings.from_config({"max_edit": 2})


def test_read_structure_split():
    structure = ReadStructure.parse("3M2S+T")
    assert structure.fixed_length == 5
    assert structure.split("ACGTTGGCC") == ("ACG", [(5, 9)])
    assert ReadStructure.parse("+T").split("ACGT") == ("", [(0, 4)])
    with pytest.raises(InputError, match="only the last segment may be"):
        ReadStructure.parse("+M8T")


@pytest.mark.parametrize("name,umi", [
    ("A00:1:FC:1:1101:1000:2000:ACGTACGT+TTGGCCAA", "ACGTACGT+TTGGCCAA"),
    ("HWI:196:C9:5:1101:14475:2044|GTTC", "GT+TC"),
    ("SRR2057595.665063_CGCCG", "CGCCG"),
    ("A00:1:FC:1:1101:1000:2000", None),
])
def test_umi_from_name(name, umi):
    assert umi_from_name(name) == umi


def test_problems_are_counted_by_kind():
    problems = UmiProblems("x.bam")
    assert problems.check("ACGT+ACGT", "r1", duplex=True)
    assert not problems.check("ACGT+ACG", "r2", duplex=True)
    assert not problems.check("ACNT+ACGT", "r3", duplex=True)
    assert not problems.check("ACGTACGT", "r4", duplex=True)
    assert not problems.check(None, "r5", duplex=False)
    assert split_halves("AC-GT") == ("AC", "GT")
    with pytest.raises(InputError) as err:
        problems.raise_if_any(10)
    assert "x.bam: 1 of 10 reads: UMIs of the wrong length (first: r2 (ACGT+ACG: 7 bases, " \
        "expected 8))" in str(err.value)
    assert len(err.value.problems) == 5


def test_directional_adjacency():
    # a -> b when within one mismatch and count(a) >= 2 count(b) - 1: ATTG (456) takes ATTA
    # (72), ATTT (2) and TTTG (90); TTTT (2) joins through ATTT or TTTG; AGTG (1) through ATTG;
    # AGTT (1) through AGTG or ATTT. GGGG (5) is far from everything.
    counts = {"ATTG": 456, "ATTA": 72, "ATTT": 2, "TTTG": 90, "TTTT": 2, "AGTG": 1, "AGTT": 1,
              "GGGG": 5}
    groups = directional_groups(counts, 1)
    assert groups == [["ATTG", "TTTG", "ATTA", "ATTT", "TTTT", "AGTG", "AGTT"], ["GGGG"]]
    # Equal counts join both ways; without edits every UMI is its own molecule.
    assert directional_groups({"AAAA": 1, "AAAT": 1}, 1) == [["AAAA", "AAAT"]]
    assert len(directional_groups(counts, 0)) == 8
    # Two close UMIs of similar counts stay apart (10 < 2 * 8 - 1).
    assert len(directional_groups({"AAAA": 10, "AAAT": 8}, 1)) == 2
    # Between equal counts the UMI seen first is the root (UMI-tools' stable sort).
    assert directional_groups({"AAAC": 1, "AAAA": 1, "TTTT": 9}, 1)[1] == ["AAAC", "AAAA"]
    assert directional_groups({"AAAA": 1, "AAAC": 1, "TTTT": 9}, 1)[1] == ["AAAA", "AAAC"]
