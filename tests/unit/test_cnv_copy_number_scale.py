"""The copy-number scale chosen by the allele fractions (cnv/copy_number_scale.py, issue 18).

A generator written here, not either pipeline simulator: a tumour with allele-specific copy
numbers per chromosome, heterozygous germline SNPs read in a matched normal and in plasma draws
(binomial counts at the mixing formula's B-allele fraction, the phase random), truncal somatic
SNVs before a genome doubling on 2 of 4 copies and after it on 1. The copy-number path handed to
the scale choice is the truth's, shifted by one (true 4 / 3 / 2 labelled 3 / 2 / 1, what the HMM
did to capturesim seed 2 CS04) or halved; depth ratios cannot tell these apart, the alleles can."""

import numpy as np
import pandas as pd
import pytest

from plasmatrack.cnv.combine_io import drop_rescaled_cn
from plasmatrack.cnv.copy_number_scale import choose_scale, dna_share, relabel
from plasmatrack.cnv.snv_copy_number import (PatientCopyNumber, patient_tumour_fraction,
                                             with_site_ids)

CHROM_LEN = 1_000_000
BG = 2e-4


def _tracked(rng, tumour: list[tuple[int, int]], cells: dict[str, float], snvs: list[tuple],
             n_het: int = 40, depth: int = 400) -> pd.DataFrame:
    """tracked_variants rows: ``tumour`` is (major, minor) per chromosome chr1..; ``snvs`` are
    (chromosome index, multiplicity)."""
    rows = []
    for k, (major, minor) in enumerate(tumour):
        chrom = f"chr{k + 1}"
        for pos in np.sort(rng.choice(np.arange(1, CHROM_LEN), n_het, replace=False)):
            on_major = rng.random() < 0.5
            for sample, c in {"N": 0.0, **cells}.items():
                b = (c * major + 1 - c) / (c * (major + minor) + 2 * (1 - c))
                n = int(rng.poisson(depth))
                alt = int(rng.binomial(n, b if on_major else 1 - b))
                rows.append(_row(sample, chrom, int(pos), alt, n, "germline"))
    for i, (k, m) in enumerate(snvs):
        major, minor = tumour[k]
        for sample, c in {"N": 0.0, **cells}.items():
            vaf = c * m / (c * (major + minor) + 2 * (1 - c)) + BG
            n = int(rng.poisson(depth))
            rows.append(_row(sample, f"chr{k + 1}", 500_000 + i, int(rng.binomial(n, vaf)), n,
                             "somatic"))
    return pd.DataFrame(rows)


def _row(sample, chrom, pos, alt, n, category) -> dict:
    return {"patient_id": "P1", "sample_id": sample,
            "sample_type": "normal" if sample == "N" else "plasma", "timepoint_days": 0,
            "chrom": chrom, "pos": pos, "ref": "A", "alt": "T", "ref_count": n - alt,
            "alt_count": alt, "depth": n, "background_rate": BG, "variant_type": "snv",
            "category": category, "filters": "", "status": "detected" if alt >= 5 else
            "not_detected"}


def _states(copies: list[int]) -> pd.DataFrame:
    """An hmm_states table: 20 bins per chromosome at the given path copy numbers."""
    rows = []
    for k, c in enumerate(copies):
        for j in range(20):
            rows.append({"chromosome": f"chr{k + 1}", "start": j * 50_000,
                         "end": (j + 1) * 50_000, "state": c, "amp": False})
    return pd.DataFrame(rows)


# A genome-doubled tumour: 4 copies (2 + 2) on chr1-3, an LOH before the doubling (4 + 0) on
# chr4, 3 (2 + 1) on chr5, 2 (1 + 1) on chr6. With a single imbalanced segment the hets cannot
# tell its minor copy number from the TF (3 + 0 at a low TF reads like 2 + 1 at a higher one),
# so no scale can be read from them: two imbalanced states are the least the choice needs.
DOUBLED = [(2, 2)] * 3 + [(4, 0), (2, 1), (1, 1)]
DOUBLED_SNVS = [(0, 2), (1, 2), (2, 2), (3, 4), (0, 1), (1, 1), (4, 1), (5, 1)]
CELLS = {"D1": 0.15, "D2": 0.3}


def _truth_dna(cells: float) -> float:
    ploidy = np.mean([a + b for a, b in DOUBLED])
    return float(dna_share(cells, ploidy))


def _identity(states: pd.DataFrame) -> PatientCopyNumber:
    from plasmatrack.cnv.baf import segments_from_states
    return PatientCopyNumber(segments_from_states(states).assign(minor_copy=np.nan))


@pytest.mark.parametrize("path, label", [([3, 3, 3, 3, 2, 1], "1C+1"),
                                         ([2, 2, 2, 2, 2, 1], None)])
def test_a_shifted_path_is_relabelled_and_the_snvs_read_the_dna_share(path, label):
    tracked = with_site_ids(_tracked(np.random.default_rng(3), DOUBLED, CELLS, DOUBLED_SNVS))
    states = _states(path)
    choice = choose_scale(tracked, states, "D2", _identity(states))
    if label:
        assert choice.label == label and not choice.keeps_depth_tf
        assert choice.score - choice.identity_score > 3.3
    else:
        # true 4 / 3 / 2 as 2 / 2 / 1 is no exact relabelling: the hets must reject it for a
        # doubled one (whose depth TF in genome copies is the same)
        assert choice.factor == 2 and choice.keeps_depth_tf
    out = patient_tumour_fraction(tracked, choice.copy_number).set_index("sample_id")
    for sample, cells in CELLS.items():
        assert out.loc[sample, "tumour_fraction_snv"] == pytest.approx(_truth_dna(cells),
                                                                       abs=0.03)


def test_the_path_is_kept_when_the_alleles_do_not_demand_another_scale():
    # A near-diploid tumour with its path right: one LOH, one gain, one loss.
    tumour = [(1, 1), (1, 1), (2, 0), (2, 1), (1, 0), (1, 1)]
    snvs = [(0, 1), (1, 1), (3, 1), (4, 1), (5, 1)]
    for seed in (1, 2):
        tracked = with_site_ids(_tracked(np.random.default_rng(seed), tumour, CELLS, snvs))
        states = _states([a + b for a, b in tumour])
        choice = choose_scale(tracked, states, "D2", _identity(states))
        assert choice.label == "1C+0", seed


def test_relabel_keeps_amplification_bins_and_refuses_copy_number_zero():
    states = _states([1, 2]).assign(amp=lambda d: d.index == 0)
    assert relabel(states, 1, -1) is None  # a copy-number-1 bin would become 0
    shifted = relabel(states, 2, 1)
    assert shifted.loc[0, "state"] == 1 and (shifted.loc[1:19, "state"] == 3).all()
    assert (shifted.loc[20:, "state"] == 5).all()


def test_a_shifted_path_leaves_the_copy_number_tf_out_with_a_warning():
    cn = pd.DataFrame({"sample_id": ["A1", "AN", "B1"], "patient_id": ["A", "A", "B"],
                       "sample_type": ["plasma", "normal", "plasma"],
                       "tf_cn_informative": [True, True, True], "warning": ["", "", "x"]})

    class Choice:
        label, keeps_depth_tf = "1C+1", False

    class Kept:
        label, keeps_depth_tf = "2C+0", True

    out = drop_rescaled_cn(cn, {"A": Choice(), "B": Kept()}).set_index("sample_id")
    assert out.loc["A1", "tf_cn_informative"] == False  # noqa: E712
    assert "1C+1" in out.loc["A1", "warning"]
    assert out.loc["AN", "tf_cn_informative"] and out.loc["B1", "tf_cn_informative"]
    assert out.loc["B1", "warning"] == "x"
