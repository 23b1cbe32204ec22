"""Sample identity and contamination (plasmatrack.qc.identity*) on allele counts drawn here by a
generator written for this test, independently of both simulators: Hardy-Weinberg genotypes at
common SNPs, binomial fragment counts, tumour copy number and LOH in plasma, and contamination
as a share of another individual's fragments."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from plasmatrack.qc.identity import (HET, HOM_ALT, HOM_REF, UNKNOWN, Fingerprints,
                                     IdentitySettings, genotypes, pair_statistics)
from plasmatrack.qc.identity_checks import append_identity, identity_tables

SETTINGS = IdentitySettings()
N_SITES = 300


def _alleles(rng, genotype, depth, tf=0.0, loh=None, contaminant=None, c=0.0):
    """Fragment counts (ref, alt, other) per site. ``loh``: per site 0 (none), 1 (copy-neutral
    LOH keeping the alt allele's haplotype), 2 (keeping the ref one), 3 (one copy lost, alt
    kept), 4 (one copy lost, ref kept), 5 (alt haplotype amplified to 20 copies); the tumour has
    the given tumour fraction."""
    g = genotype / 2.0
    tumour_copies = np.full(len(g), 2.0)
    tumour_alt = g * 2
    if loh is not None:
        het = genotype == 1
        keep_alt = het & np.isin(loh, (1, 3))
        keep_ref = het & np.isin(loh, (2, 4))
        tumour_alt = np.where(keep_alt, 2.0, np.where(keep_ref, 0.0, tumour_alt))
        one = np.isin(loh, (3, 4))
        tumour_copies = np.where(one, 1.0, 2.0)
        tumour_alt = np.where(one, tumour_alt / 2, tumour_alt)
        # 5: the alt haplotype amplified to 20 copies (19 alt + 1 ref at a het site)
        amp = het & (loh == 5)
        tumour_copies = np.where(amp, 20.0, tumour_copies)
        tumour_alt = np.where(amp, 19.0, tumour_alt)
    alt_mass = (1 - tf) * 2 * g + tf * tumour_alt
    frac = alt_mass / ((1 - tf) * 2 + tf * tumour_copies)
    if contaminant is not None:
        frac = (1 - c) * frac + c * contaminant / 2.0
    error = 0.002
    frac = frac * (1 - error) + (1 - frac) * error / 3
    n = rng.poisson(depth, len(g))
    other = rng.binomial(n, 2 * error / 3)
    alt = rng.binomial(n - other, frac)
    return n - other - alt, alt, other


def cohort(seed, patients=5, draws=3, normals=True, depth=80, af=None):
    """A clean cohort: sheet and per-sample counts (dict sample -> (ref, alt, other)), plus the
    genotypes of each patient."""
    rng = np.random.default_rng(seed)
    af = rng.uniform(0.05, 0.5, N_SITES) if af is None else af
    geno = {f"Q{p}": rng.binomial(2, af) for p in range(patients)}
    rows, counts = [], {}
    for patient, g in geno.items():
        if normals:
            rows.append((f"{patient}_N", patient, "normal"))
            counts[rows[-1][0]] = _alleles(rng, g, depth)
        for d in range(draws):
            rows.append((f"{patient}_D{d}", patient, "plasma"))
            counts[rows[-1][0]] = _alleles(rng, g, depth, tf=rng.uniform(0, 0.3))
    sheet = pd.DataFrame(rows, columns=["sample_id", "patient_id", "sample_type"])
    return sheet, counts, geno, rng


def fingerprints(sheet, counts):
    sites = pd.DataFrame({"chrom": "chr1", "pos": np.arange(1, N_SITES + 1) * 1000,
                          "ref": "A", "alt": "G"})
    stack = [np.stack([counts[s][k] for s in sheet["sample_id"]]) for k in range(3)]
    return Fingerprints(sheet, sites, *stack)


def verdicts(sheet, counts):
    return identity_tables(fingerprints(sheet, counts), SETTINGS)


def test_genotype_calls_and_relatedness_formula():
    calls = genotypes(np.array([[50, 25, 1, 5], [5, 30, 45, 2]]),
                      np.array([[0, 25, 49, 5], [45, 30, 5, 2]]), 20, 0.15)
    assert calls.tolist() == [[HOM_REF, HET, HOM_ALT, UNKNOWN], [HOM_ALT, HET, HOM_REF, UNKNOWN]]
    stats = pair_statistics(calls)
    # sites 0-2 informative in both: one shared het, two opposite homozygotes
    assert stats.informative[0, 1] == 3 and stats.shared_hets[0, 1] == 1
    assert stats.ibs0[0, 1] == 2
    assert stats.relatedness[0, 1] == pytest.approx((1 - 2 * 2) / 1)
    assert stats.relatedness[0, 0] == pytest.approx(1.0)


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
@pytest.mark.parametrize("normals", [True, False])
def test_clean_cohorts_raise_no_alarm(seed, normals):
    sheet, counts, _, _ = cohort(seed, normals=normals)
    pairs, samples = verdicts(sheet, counts)
    assert samples["identity_ok"].all(), samples.loc[~samples["identity_ok"], "identity_reason"]
    assert (samples["identity_status"] == "pass").all()
    assert (samples["contamination"] < SETTINGS.max_contamination).all()
    same = pairs[pairs["same_patient_expected"]]
    assert (same["verdict"] == "same_individual").all()
    assert (pairs.loc[~pairs["same_patient_expected"], "relatedness"] < 0.3).all()
    assert (samples["best_match_patient"] == samples["patient_id"]).all()


@pytest.mark.parametrize("seed", [5, 6, 7])
@pytest.mark.parametrize("normals", [True, False])
def test_every_swap_is_detected_and_only_the_swapped_draws_fail(seed, normals):
    sheet, counts, _, rng = cohort(seed, normals=normals)
    a, b = "Q1_D1", f"Q{int(rng.integers(2, 5))}_D2"
    counts[a], counts[b] = counts[b], counts[a]
    _, samples = verdicts(sheet, counts)
    failed = set(samples.loc[~samples["identity_ok"], "sample_id"])
    assert failed == {a, b}
    best = samples.set_index("sample_id")["best_match_patient"]
    assert best[a] == b.split("_")[0] and best[b] == "Q1"
    # the innocent samples' best match is their own patient, not the swapped-in draw
    innocent = samples[~samples["sample_id"].isin([a, b])]
    assert (innocent["best_match_patient"] == innocent["patient_id"]).all()


@pytest.mark.parametrize("seed", [8, 9, 10])
@pytest.mark.parametrize("normals", [True, False])
@pytest.mark.parametrize("level", [0.02, 0.05, 0.10])
def test_contamination_is_flagged_and_estimated_within_one_percent(seed, normals, level):
    sheet, counts, geno, rng = cohort(seed, normals=normals)
    host, donor = "Q0_D1", "Q3"
    counts[host] = _alleles(rng, geno["Q0"], 80, tf=0.1, contaminant=geno[donor], c=level)
    _, samples = verdicts(sheet, counts)
    by_id = samples.set_index("sample_id")
    assert by_id.at[host, "contamination"] == pytest.approx(level, abs=0.01)
    if level >= 0.05:  # at 2 % the donor's few alleles do not always single it out
        assert by_id.at[host, "contamination_source"].startswith(f"{donor}_")
    assert by_id.at[host, "contamination"] > SETTINGS.max_contamination
    assert "max_contamination" in by_id.at[host, "identity_reason"]
    others = by_id.drop(index=host)
    assert (others["contamination"] < SETTINGS.max_contamination).all()
    assert samples["identity_ok"].all()


@pytest.mark.parametrize("seed", [11, 12, 13])
@pytest.mark.parametrize("normals", [True, False])
def test_tumour_fraction_half_with_large_loh_is_not_a_swap_or_contamination(seed, normals):
    sheet, counts, geno, rng = cohort(seed, normals=normals)
    # half of the genome in LOH (copy-neutral and one-copy losses, either allele kept)
    loh = np.where(rng.random(N_SITES) < 0.5, rng.integers(1, 5, N_SITES), 0)
    counts["Q2_D0"] = _alleles(rng, geno["Q2"], 80, tf=0.5, loh=loh)
    _, samples = verdicts(sheet, counts)
    row = samples.set_index("sample_id").loc["Q2_D0"]
    assert row["identity_ok"] and row["identity_status"] == "pass"
    assert row["own_relatedness"] >= 0.8
    assert row["contamination"] < SETTINGS.max_contamination


def test_tumour_fraction_09_loh_in_every_draw_without_normal_is_still_one_individual():
    sheet, counts, geno, rng = cohort(14, normals=False)
    loh = np.where(rng.random(N_SITES) < 0.5, rng.integers(1, 3, N_SITES), 0)
    for d in range(3):
        counts[f"Q1_D{d}"] = _alleles(rng, geno["Q1"], 80, tf=0.9, loh=loh)
    _, samples = verdicts(sheet, counts)
    assert samples["identity_ok"].all()


@pytest.mark.parametrize("seed", [17, 18])
def test_an_amplified_allele_without_normal_is_not_contamination(seed):
    # an ERBB2-like amplicon over 10 % of the sites at TF 0.35 in every draw: the amplified
    # heterozygotes read ~90 % alt in all draws, like homozygotes with 10 % foreign alleles
    sheet, counts, geno, rng = cohort(seed, normals=False)
    amp = np.where(rng.random(N_SITES) < 0.1, 5, 0)
    for d in range(3):
        counts[f"Q1_D{d}"] = _alleles(rng, geno["Q1"], 80, tf=0.35, loh=amp)
    _, samples = verdicts(sheet, counts)
    assert samples["identity_ok"].all()
    assert (samples["contamination"] < SETTINGS.max_contamination).all()


def test_a_patient_with_one_sample_is_undetermined_not_failed():
    sheet, counts, _, _ = cohort(15, normals=False, draws=1)
    _, samples = verdicts(sheet, counts)
    assert (samples["identity_status"] == "undetermined").all()
    assert samples["identity_ok"].all()
    assert samples["identity_reason"].str.contains("no other sample").all()


def test_qc_summary_gets_the_identity_columns_and_the_reason():
    sheet, counts, _, _ = cohort(16)
    counts["Q1_D1"], counts["Q2_D2"] = counts["Q2_D2"], counts["Q1_D1"]
    _, samples = verdicts(sheet, counts)
    summary = sheet.assign(qc_pass=True, qc_reason="")
    summary.loc[0, ["qc_pass", "qc_reason"]] = [False, "duplicate_rate 0.700 > 0.6"]
    out = append_identity(summary, samples)
    assert list(out.columns[-3:]) == ["identity_ok", "best_match", "contamination"]
    assert list(out.columns[:5]) == list(summary.columns)
    by_id = out.set_index("sample_id")
    assert not by_id.at["Q1_D1", "qc_pass"] and not by_id.at["Q1_D1", "identity_ok"]
    assert "does not match its patient's" in by_id.at["Q1_D1", "qc_reason"]
    assert by_id.at["Q0_N", "qc_reason"] == "duplicate_rate 0.700 > 0.6"
    clean = by_id.drop(index=["Q1_D1", "Q2_D2", "Q0_N"])
    assert clean["qc_pass"].all() and (clean["qc_reason"] == "").all()


def test_report_qc_table_shows_the_identity_verdict():
    from plasmatrack.report.pages import qc_table

    sheet, counts, _, _ = cohort(19)
    counts["Q1_D1"], counts["Q2_D2"] = counts["Q2_D2"], counts["Q1_D1"]
    _, samples = verdicts(sheet, counts)
    summary = append_identity(sheet.assign(qc_pass=True, qc_reason=""), samples)
    shown, fail = qc_table(summary)
    by_id = shown.set_index("sample_id")
    assert by_id.at["Q1_D1", "identity"] == "FAIL" and by_id.at["Q0_D1", "identity"] == "ok"
    assert by_id.at["Q1_D1", "best match"].startswith("Q2_")
    assert "does not match" in by_id.at["Q1_D1", "reason"]
    assert set(shown.loc[fail.to_numpy(), "sample_id"]) == {"Q1_D1", "Q2_D2"}


def test_cohort_report_draws_the_relatedness_heatmap():
    from plasmatrack.report.cohort_figures import relatedness_heatmap

    sheet, counts, _, _ = cohort(20, patients=3, draws=2)
    counts["Q0_D1"], counts["Q2_D0"] = counts["Q2_D0"], counts["Q0_D1"]
    pairs, _ = verdicts(sheet, counts)
    fig = relatedness_heatmap(pairs)
    z = np.array(fig.data[0].z, dtype=float)
    order = list(fig.data[0].x)
    assert order == sorted(sheet["sample_id"])  # patients in order, their samples together
    i, j = order.index("Q0_D1"), order.index("Q2_N")
    assert z[i, j] == pytest.approx(1.0) and z[i, order.index("Q0_N")] < 0
    assert "disagree" in fig.layout.title.text and not fig.layout.title.text.startswith("0")
    assert relatedness_heatmap(None) is None


def test_numeric_contig_names_stay_text(tmp_path):
    # hs37d5-style contigs ("14", not "chr14"): sites and fingerprints must still line up
    from plasmatrack.qc.identity_pipeline import read_sites_table

    path = tmp_path / "sites.tsv"
    path.write_text("chrom\tpos\tref\talt\tsource\n14\t100\tA\tG\tx\n")
    sites = read_sites_table(path)
    assert sites["chrom"].tolist() == ["14"] and sites["pos"].tolist() == [100]


def _library_mix(rng, host_counts, donor_geno, donor_depth, c):
    """``host_counts`` with a share ``c`` (of all fragments at the sites) of fragments added
    from a donor library whose depth per site follows ``donor_depth`` (another coverage
    profile: its tumour's copy number, its capture); returns the counts and the true share."""
    extra = c / (1 - c) * sum(host_counts[:3]).sum() / donor_depth.sum() * donor_depth
    d_ref, d_alt, d_other = _alleles(rng, donor_geno, extra)
    mixed = tuple(h + d for h, d in zip(host_counts, (d_ref, d_alt, d_other)))
    donor = (d_ref + d_alt).sum()
    return mixed, donor / (mixed[0] + mixed[1]).sum()


@pytest.mark.parametrize("seed", [20, 21, 22])
@pytest.mark.parametrize("normals", [True, False])
@pytest.mark.parametrize("level", [0.02, 0.05, 0.10])
def test_contamination_from_a_library_with_another_coverage_profile(seed, normals, level):
    """Libraries mixed after capture (index hopping, a pooled-library mix-up, or BAMs merged
    as benchmarks/accuracy_identity.py does): the donor's fragments follow its own depth per
    site (log-normal, SD 0.7 in log: 0.5-2x between sites, as in the capture cohorts), not the
    host's. Assuming the host's profile erred by ~10 % of the level on aligned cohorts."""
    sheet, counts, geno, rng = cohort(seed, normals=normals)
    host, donor = "Q0_D1", "Q3_D0"
    profile = np.exp(rng.normal(0, 0.7, N_SITES))
    counts[donor] = _alleles(rng, geno["Q3"], 80 * profile)
    counts[host], truth = _library_mix(rng, _alleles(rng, geno["Q0"], 80, tf=0.1),
                                       geno["Q3"], profile, level)
    _, samples = verdicts(sheet, counts)
    by_id = samples.set_index("sample_id")
    assert by_id.at[host, "contamination"] == pytest.approx(truth, abs=0.01)
    if level >= 0.05:  # at 2 % the donor's few dozen alleles leave ~15 % sampling error
        assert by_id.at[host, "contamination"] == pytest.approx(truth, rel=0.1)
        assert by_id.at[host, "contamination_source"] == donor
    others = by_id.drop(index=host)
    assert (others["contamination"] < SETTINGS.max_contamination).all()


@pytest.mark.parametrize("normals", [True, False])
def test_a_third_allele_of_the_host_is_not_read_as_sequencing_error(normals):
    """At a multi-allelic SNP the host may carry a base neither listed allele has (the site
    was discovered in another individual): half its fragments show 'other'. Such sites are
    not homozygous sites of the host, and the error rate is pooled over the others, so they
    do not offset the estimate (per-site errors subtracted ~20 fragments at each)."""
    sheet, counts, geno, rng = cohort(23, normals=normals)
    host = "Q0_D1"
    counts[host] = _alleles(rng, geno["Q0"], 80, tf=0.1, contaminant=geno["Q3"], c=0.05)
    third = np.flatnonzero(geno["Q0"] == 0)[:8]  # hom-ref by the listed alleles
    for sample in sheet.loc[sheet["patient_id"] == "Q0", "sample_id"]:
        ref, alt, other = (np.array(x) for x in counts[sample])
        moved = ref[third] // 2
        ref[third] -= moved
        other[third] += moved
        counts[sample] = (ref, alt, other)
    _, samples = verdicts(sheet, counts)
    assert samples.set_index("sample_id").at[host, "contamination"] == pytest.approx(
        0.05, abs=0.01)
