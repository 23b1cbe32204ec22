"""A panel-of-normals member that fails sample identity, or is contaminated, is left out of the
copy-number reference (issue 22): the contract (``qc.identity_exclusion.reference_left_out``),
the reference build (``cnv.reference_pool``) on code-written coverage, and the QC summary's reason."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from plasmatrack.cnv import reference
from plasmatrack.cnv.call import PoolMember
from plasmatrack.cnv.reference_pool import (make_pool_reference, read_pool_table,
                                            reference_members)
from plasmatrack.errors import InputError
from plasmatrack.qc.identity_checks import append_identity
from plasmatrack.qc.identity_exclusion import (REFERENCE_LEFT_OUT, read_reference_left_out,
                                               reference_left_out)


def _identity(rows) -> pd.DataFrame:
    """rows: (sample, sample_type, identity_ok, best_match, reason)"""
    return pd.DataFrame([{"sample_id": s, "patient_id": s[:2], "sample_type": t,
                          "identity_ok": ok, "identity_status": "pass" if ok else "fail",
                          "best_match": b, "contamination": 0.001, "identity_reason": r}
                         for s, t, ok, b, r in rows])


CONTAMINATED = "contamination 0.034 > max_contamination 0.01 (best fit: P3_D1)"
TABLE = _identity([("P1_N", "normal", True, "P1_D1", ""),
                   ("P2_N", "normal", False, "P3_D1", "does not match its patient's P2_D1"),
                   ("P3_N", "normal", True, "P3_D1", CONTAMINATED),
                   ("P2_D1", "plasma", False, "P9_D1", "matches P9_D1 of patient P9")])


def test_contract_leaves_out_failed_and_contaminated_samples(tmp_path):
    assert reference_left_out(TABLE) == {
        "P2_N": f"{REFERENCE_LEFT_OUT} (failed identity)",
        "P3_N": f"{REFERENCE_LEFT_OUT} (contamination > max_contamination)",
        "P2_D1": f"{REFERENCE_LEFT_OUT} (failed identity)"}
    path = tmp_path / "identity_samples.tsv"
    TABLE.to_csv(path, sep="\t", index=False)
    assert read_reference_left_out(path) == reference_left_out(TABLE)
    assert read_reference_left_out(None) == {}
    TABLE.drop(columns="identity_reason").to_csv(path, sep="\t", index=False)
    with pytest.raises(InputError, match="lacks column.*identity_reason"):
        read_reference_left_out(path)


def test_qc_summary_says_which_reference_members_are_left_out():
    summary = TABLE[["sample_id", "patient_id", "sample_type"]].assign(qc_pass=True,
                                                                       qc_reason="")
    out = append_identity(summary, TABLE, reference_pool=["P1_N", "P2_N", "P3_N"])
    reason = out.set_index("sample_id")["qc_reason"]
    assert reason["P2_N"] == f"does not match its patient's P2_D1; {REFERENCE_LEFT_OUT}"
    assert reason["P3_N"] == f"{CONTAMINATED}; {REFERENCE_LEFT_OUT}"
    assert reason["P1_N"] == ""
    # a sample outside the pool is not said to leave it
    assert REFERENCE_LEFT_OUT not in reason["P2_D1"]
    assert not out.set_index("sample_id").loc[["P2_N", "P3_N", "P2_D1"], "qc_pass"].any()
    # without a pool (identity alone) the reasons are as before
    plain = append_identity(summary, TABLE).set_index("sample_id")["qc_reason"]
    assert plain["P2_N"] == "does not match its patient's P2_D1"


N_BINS, AMP = 240, slice(100, 124)  # target bins on one contig; AMP1: 24 of them


def _coverage(tmp_path, rng, bias, name, amp_log2=0.0):
    """A sample's target and (empty) antitarget coverage: the panel's shared capture bias,
    sampling noise and, in AMP1, the tumour's gain (log2)."""
    starts = 1_000 + np.arange(N_BINS) * 1_000
    log2 = 6.0 + bias + rng.normal(0, 0.05, N_BINS)
    log2[AMP] += amp_log2
    table = pd.DataFrame({"chromosome": "chrA", "start": starts, "end": starts + 200,
                          "gene": ["AMP1" if AMP.start <= i < AMP.stop else f"G{i // 8}"
                                   for i in range(N_BINS)],
                          "depth": 2.0 ** log2, "log2": log2})
    target, anti = tmp_path / f"{name}.t.cnn", tmp_path / f"{name}.a.cnn"
    table.to_csv(target, sep="\t", index=False)
    anti.write_text("")
    return str(target), str(anti)


def _amplification(target_cnn, ref_path) -> float:
    """Median log2 of AMP1 over the other bins of a sample fixed against ``ref_path``."""
    ref, _ = reference.read_reference(ref_path)
    fixed = reference.fix_sample(target_cnn, target_cnn.replace(".t.", ".a."), ref,
                                 do_gc=False, do_edge=False, do_rmask=False)
    log2 = fixed.data["log2"].to_numpy()
    amp = (fixed.data["gene"] == "AMP1").to_numpy()
    return float(np.median(log2[amp]) - np.median(log2[~amp]))


def test_a_swapped_normal_is_left_out_of_the_reference(tmp_path):
    """The tube labelled N2 holds another patient's plasma (TF 0.4, AMP1 at 10 copies: log2
    5.2/2 = 1.38): in the reference it would hide part of the tumour sample's amplification."""
    from plasmatrack.cnv.pipeline import make_reference

    rng = np.random.default_rng(3)
    fasta = tmp_path / "genome.fa"
    fasta.write_text(">chrA\n" + "".join(rng.choice(list("ACGT"), 250_000)) + "\n")
    bias = rng.normal(0, 0.3, N_BINS)
    gain = np.log2(5.2 / 2)
    cov = {name: _coverage(tmp_path, rng, bias, name, amp) for name, amp in
           (("N0", 0.0), ("other_plasma", gain), ("T", gain))}
    # a small cohort's panel: two normals, one of them the swapped tube
    pool = (PoolMember("N0", *cov["N0"]), PoolMember("N2", *cov["other_plasma"]))
    identity = tmp_path / "identity_samples.tsv"
    _identity([("N0", "normal", True, "N0_D1", ""),
               ("N2", "normal", False, "X_D1", "does not match its patient's N2_D1")]).to_csv(
        identity, sep="\t", index=False)
    level = {}
    for name, ident in (("checked", identity), ("unchecked", None)):
        used = make_pool_reference(pool, ident, tmp_path / f"{name}.pool.tsv")
        make_reference([m.target_cnn for m in used], [m.antitarget_cnn for m in used],
                       str(fasta), "", "", str(tmp_path / f"{name}.cnn"), shrink=False)
        level[name] = _amplification(cov["T"][0], tmp_path / f"{name}.cnn")
    checked = read_pool_table(tmp_path / "checked.pool.tsv")
    assert checked["sample_id"].tolist() == ["N0", "N2"]
    assert reference_members(checked) == ["N0"]
    assert checked["note"].tolist() == ["", f"{REFERENCE_LEFT_OUT} (failed identity)"]
    assert reference_members(read_pool_table(tmp_path / "unchecked.pool.tsv")) == ["N0", "N2"]
    assert level["checked"] == pytest.approx(gain, abs=0.1)
    # pooled with the swapped tube, part of the gain goes into the reference (CNVkit's robust
    # average over the members and a neutral row: 1.19 against 1.36 here, unshrunk)
    assert level["unchecked"] < level["checked"] - 0.1
