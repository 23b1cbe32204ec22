"""ids_regex: the wildcard constraint naming a set of sample IDs (issue 25: a plain alternation of
7,000 IDs made planning a 1,000-patient cohort slow). It must match exactly the set, inside a
Snakemake output pattern too, where the ID is followed by more text."""

import random
import re

from plasmatrack.ids import ids_regex, is_valid_id


def _random_ids(rng: random.Random, n: int) -> set[str]:
    alphabet = "AB01._-"
    ids = set()
    while len(ids) < n:
        value = rng.choice("AB01") + "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 6)))
        if is_valid_id(value):
            ids.add(value)
    return ids


def test_matches_exactly_the_set_including_prefixes_of_each_other():
    rng = random.Random(7)
    ids = _random_ids(rng, 300)
    chosen = set(rng.sample(sorted(ids), 150))
    pattern = re.compile(ids_regex(chosen))
    for value in ids | {"", "A", "B0", "0_", "AB01._-x"}:
        assert bool(pattern.fullmatch(value)) == (value in chosen), value


def test_inside_a_path_pattern_the_id_ends_where_the_suffix_starts():
    # "P1-D1" is a prefix of "P1-D10"; "S.x" contains a dot like the ".bam" that follows.
    chosen = {"P1-D1", "P1-D10", "S.x"}
    pattern = re.compile(rf"results/align/(?P<patient>[^/]+)/(?P<sample>{ids_regex(chosen)})\.bam$")
    for sample in ("P1-D1", "P1-D10", "S.x"):
        match = pattern.match(f"results/align/P1/{sample}.bam")
        assert match and match.group("sample") == sample
    for sample in ("P1-D", "P1-D100", "S", "S.x.consensus", "P1-D1.consensus"):
        assert not pattern.match(f"results/align/P1/{sample}.bam"), sample


def test_empty_set_matches_nothing():
    pattern = re.compile(ids_regex([]))
    assert not any(pattern.fullmatch(v) for v in ("", "x", "(?!x)x"))


def test_pattern_grows_with_the_ids_not_their_count_squared():
    ids = [f"P{p:04d}_D{d}" for p in range(1000) for d in range(7)]
    text = ids_regex(ids)
    assert len(text) < sum(len(i) for i in ids)  # shared prefixes are written once
    pattern = re.compile(text)
    assert all(pattern.fullmatch(i) for i in ids[::97])
    assert not pattern.fullmatch("P1000_D0") and not pattern.fullmatch("P0999_D7")
