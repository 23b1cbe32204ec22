"""Fragment lengths per bin and the genome-copy tumour fraction (plasmatrack.cnv.fragments)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pysam
import pytest

from plasmatrack.cnv import fragments
from plasmatrack.errors import InputError

READ = 50


def _pair(out, name, pos, length, mapq=60, flag_extra=0, proper=True):
    for first in (True, False):
        a = pysam.AlignedSegment()
        a.query_name = name
        a.query_sequence = "A" * READ
        a.flag = (0x1 | (0x2 if proper else 0) | (0x40 if first else 0x80)
                  | (0x20 if first else 0x10) | (flag_extra if first else 0))
        a.reference_id = 0
        a.reference_start = pos if first else pos + length - READ
        a.mapping_quality = mapq
        a.cigarstring = f"{READ}M"
        a.next_reference_id = 0
        a.next_reference_start = pos + length - READ if first else pos
        a.template_length = length if first else -length
        a.query_qualities = pysam.qualitystring_to_array("I" * READ)
        out.write(a)


def test_bin_fragment_lengths_counts_each_usable_fragment_once(tmp_path: Path):
    header = {"HD": {"VN": "1.6", "SO": "coordinate"}, "SQ": [{"SN": "chr1", "LN": 10_000}]}
    raw = tmp_path / "raw.bam"
    with pysam.AlignmentFile(str(raw), "wb", header=header) as out:
        _pair(out, "a", 100, 150)            # bin 0
        _pair(out, "b", 900, 170)            # bin 0 (leftmost base counts, not the midpoint)
        _pair(out, "c", 1500, 160)           # bin 1
        _pair(out, "dup", 1600, 140, flag_extra=0x400)   # duplicate: not counted
        _pair(out, "lowq", 1700, 140, mapq=5)            # below min_mapq
        _pair(out, "improper", 1800, 320, proper=False)  # counted: a dinucleosome
        _pair(out, "orphan", 1900, 140, flag_extra=0x8)  # mate unmapped: no length
        _pair(out, "huge", 2100, 1500)                   # longer than MAX_FRAGMENT
        _pair(out, "d", 5000, 200)           # outside every bin
    bam = tmp_path / "s.bam"
    pysam.sort("-o", str(bam), str(raw))
    pysam.index(str(bam))
    bins = pd.DataFrame({"chromosome": ["chr1", "chr1", "chr2"], "start": [0, 1000, 0],
                         "end": [1000, 3000, 500]})
    table = fragments.bin_fragment_lengths(bam, bins, min_mapq=20)
    assert table["fragments"].tolist() == [2, 2, 0]
    assert table["length_sum"].tolist() == [320.0, 480.0, 0.0]
    assert table["length_sumsq"].tolist() == [150.0 ** 2 + 170.0 ** 2, 160.0 ** 2 + 320.0 ** 2,
                                              0.0]
    with pytest.raises(InputError, match="cannot read"):
        fragments.bin_fragment_lengths(tmp_path / "missing.bam", bins)


def simulated_draws(tfs, l_normal=167.0, l_tumour=150.0, n_bins=300, depth=300, seed=0,
                    copies=None):
    """Draws of one tumour as the pipeline sees them: per bin, fragments in proportion to
    fragment counts (a genome copy of tumour DNA gives k = l_normal / l_tumour times more),
    lengths drawn per source; states from a fixed copy-number profile; the HMM's TF on the
    fragment scale."""
    rng = np.random.default_rng(seed)
    k = l_normal / l_tumour
    if copies is None:
        copies = np.repeat([2, 1, 2, 3, 4, 2], n_bins // 6)
    draws, truth = [], []
    for t in tfs:
        t_frag = fragments.fragment_fraction(t, k)
        phi = fragments.tumour_share(t_frag, copies)
        density = (t_frag * copies + 2 * (1 - t_frag)) / 2
        n = rng.poisson(depth * density)
        n_t = rng.binomial(n, phi)
        s = np.zeros(len(n))
        s2 = np.zeros(len(n))
        for i in range(len(n)):
            lens = np.concatenate([rng.normal(l_tumour, 25, n_t[i]),
                                   rng.normal(l_normal, 30, n[i] - n_t[i])])
            s[i], s2[i] = lens.sum(), (lens ** 2).sum()
        starts = np.arange(len(n)) * 100_000
        lengths = pd.DataFrame({"chromosome": "chr1", "start": starts, "end": starts + 100_000,
                                "fragments": n, "length_sum": s, "length_sumsq": s2})
        states = pd.DataFrame({"chromosome": "chr1", "start": starts, "state": copies,
                               "amp": False})
        draws.append((lengths, states, t_frag))
        truth.append(t)
    return draws, truth, k


def test_length_shift_gives_the_ratio_and_the_genome_copy_fraction():
    draws, truth, k = simulated_draws([0.05, 0.1, 0.2, 0.4])
    shift = fragments.estimate_shift(draws)
    assert shift.applied
    assert abs(shift.shift - 17.0) < 3 * shift.shift_se
    assert shift.shift_se < 2.0
    assert shift.normal_length == pytest.approx(167.0, abs=1.0)
    assert shift.ratio == pytest.approx(k, abs=0.02)
    assert shift.ratio_lower < k < shift.ratio_upper
    for (_, _, t_frag), t in zip(draws, truth):
        assert fragments.genome_fraction(t_frag, shift.ratio) == pytest.approx(t, abs=0.005)
    # uncorrected, the fragment-scale TF at 0.4 is off by more than the accuracy goal (0.02)
    assert draws[-1][2] - truth[-1] > 0.025


def test_no_correction_without_a_copy_number_contrast_or_a_significant_shift():
    flat, _, _ = simulated_draws([0.3])
    flat = [(lengths, states.assign(state=2), t) for lengths, states, t in flat]
    shift = fragments.estimate_shift(flat)
    assert not shift.applied and shift.ratio == 1.0
    assert shift.reason == "no tumour copy-number contrast"
    # equal lengths: the fitted shift is noise, within 2 SE, so no correction
    same, _, _ = simulated_draws([0.3], l_tumour=167.0, seed=3)
    shift = fragments.estimate_shift(same)
    assert not shift.applied and shift.ratio == 1.0 and "below 2 SE" in shift.reason
    assert fragments.estimate_shift([]) is fragments.NO_SHIFT
    columns = fragments.genome_copy_columns(
        {"tumour_fraction_fit": 0.2, "tf_lower": 0.15, "tf_upper": 0.25}, fragments.NO_SHIFT)
    assert (columns["tumour_fraction_genome"], columns["tf_lower_genome"],
            columns["tf_upper_genome"]) == (0.2, 0.15, 0.25)


def test_genome_and_fragment_scales_invert_and_the_interval_takes_k_in():
    t = np.array([0.0, 0.01, 0.05, 0.2, 0.4, 1.0])
    assert np.allclose(fragments.genome_fraction(fragments.fragment_fraction(t, 1.117), 1.117), t)
    assert fragments.fragment_fraction(0.4, 1.117) == pytest.approx(0.4268, abs=1e-4)
    shift = fragments.LengthShift(15.0, 1.0, 165.0, 1.1, 1.08, 1.12, True)
    cols = fragments.genome_copy_columns(
        {"tumour_fraction_fit": 0.4, "tf_lower": 0.36, "tf_upper": 0.44}, shift)
    assert cols["tf_lower_genome"] == pytest.approx(0.36 / (0.36 + 1.12 * 0.64))
    assert cols["tf_upper_genome"] == pytest.approx(0.44 / (0.44 + 1.08 * 0.56))
    assert cols["tf_lower_genome"] < cols["tumour_fraction_genome"] < cols["tf_upper_genome"]


def test_fit_and_summary_report_genome_copies_and_keep_genes_on_the_fragment_scale(tmp_path):
    """Two draws of one tumour as read depth sees them (fragment scale, k = 167 / 150): the
    cohort table reports TF in genome copies, while a 4-copy gene's tumour copy number, read
    off depth ratios, stays at 4."""
    from plasmatrack.cnv.genes import GeneSettings, gene_stats
    from plasmatrack.cnv.pipeline import (fit_samples, samples_frame, split_patient,
                                          summarise)
    from plasmatrack.cnv.tumour_fraction import DetectionSettings
    from plasmatrack.cnv.summary import SummaryOutputs, SummarySettings
    from plasmatrack.io import write_tsv

    rng = np.random.default_rng(4)
    truth = {"A": 0.2, "B": 0.4}
    copies = np.repeat([2, 1, 2, 3, 2, 2], 100)
    copies[300:340] = 4  # the gene G4 lies here
    draws, _, k = simulated_draws(list(truth.values()), depth=400, seed=2, copies=copies)
    cnrs, lengths, infos = {}, {}, {}
    for sid, (table, states, _) in zip(truth, draws):
        t = fragments.fragment_fraction(truth[sid], k)
        phi_ploidy = copies.mean()
        mu = np.log2((2 * (1 - t) + copies * t) / (2 * (1 - t) + phi_ploidy * t))
        y = mu + rng.normal(0, 0.03, len(copies))
        cnrs[sid] = pd.DataFrame({"chromosome": "chr1", "start": table["start"],
                                  "end": table["end"], "gene": "Antitarget",
                                  "log2": y - np.median(y), "weight": 1.0})
        lengths[sid] = table
        infos[sid] = {"sample_id": sid}
    fits = fit_samples(cnrs, infos, ["A", "B"], [], None, "hmm:test", tmp_path / "fits.tsv",
                       tmp_path / "states.tsv", lengths)
    fits = fits.set_index("sample_id")
    assert fits["fragment_length_ratio"].iloc[0] == pytest.approx(k, abs=0.03)
    for sid, t in truth.items():
        assert fits.loc[sid, "tumour_fraction_genome"] == pytest.approx(t, abs=0.015)
        assert fits.loc[sid, "tumour_fraction_fit"] == pytest.approx(
            fragments.fragment_fraction(t, k), abs=0.015)
    genes_bed = tmp_path / "genes.bed"
    genes_bed.write_text("chr1\t30000000\t34000000\tG4\n")
    paths = {}
    for sid in truth:
        paths[sid] = (tmp_path / f"{sid}.tf.tsv", tmp_path / f"{sid}.gs.tsv")
        split_patient(tmp_path / "fits.tsv", tmp_path / "states.tsv", sid, paths[sid][0],
                      tmp_path / f"{sid}.states.tsv")
        bins = cnrs[sid][["chromosome", "start", "end", "log2", "weight"]].assign(
            bin_class="antitarget")
        stats = gene_stats(bins, pd.DataFrame({"chromosome": ["chr1"], "start": [30_000_000],
                                               "end": [34_000_000], "name": ["G4"]}))
        write_tsv(stats.assign(sample_id=sid), paths[sid][1])
    rows = [{"sample_id": s, "patient_id": "P1", "sample_type": "plasma",
             "timepoint_days": i * 30} for i, s in enumerate(truth)]
    tf, genes = summarise(samples_frame(rows), {s: str(p[0]) for s, p in paths.items()},
                          {s: str(p[1]) for s, p in paths.items()}, [],
                          SummarySettings(floor=DetectionSettings(min_llr=5.0), margin=1.5,
                                          genes=GeneSettings(), her2_gene="G4"),
                          SummaryOutputs(tmp_path / "tf.tsv", tmp_path / "genes.tsv",
                                         tmp_path / "g4.tsv"))
    tf = tf.set_index("sample_id")
    genes = genes.set_index("sample_id")
    for sid, t in truth.items():
        assert tf.loc[sid, "tf_detected"]
        assert tf.loc[sid, "tumour_fraction"] == pytest.approx(
            fits.loc[sid, "tumour_fraction_genome"], abs=1e-5)
        assert tf.loc[sid, "tumour_fraction"] == pytest.approx(t, abs=0.015)
        # the interval is the fit's, converted with k's 95% interval, so it is wider
        assert (tf.loc[sid, "tf_upper"] - tf.loc[sid, "tf_lower"]
                > fragments.genome_fraction(fits.loc[sid, "tf_upper"], k)
                - fragments.genome_fraction(fits.loc[sid, "tf_lower"], k))
        assert tf.loc[sid, "tf_lower"] < tf.loc[sid, "tumour_fraction"] < tf.loc[sid, "tf_upper"]
        assert tf.loc[sid, "fragment_length_ratio"] == pytest.approx(
            fits.loc[sid, "fragment_length_ratio"], abs=1e-5)
        assert genes.loc[sid, "tumour_copy_number"] == pytest.approx(4.0, abs=0.15)
