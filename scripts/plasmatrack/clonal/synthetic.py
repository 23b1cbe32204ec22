"""Stage-level test data: the clonal stage's input tables drawn from a simulator cohort's truth.

Fragment counts for every truth variant and plasma draw are binomial around the truth
``expected_vaf`` at a chosen depth (plus a background error rate), giving a
``tracked_variants.tsv``-shaped table; tumour fractions come from ``truth/samples.tsv`` (optionally
perturbed, to see how errors in TF propagate) and copy numbers from ``truth/segments.tsv``. This
isolates the clonal model from the upstream stages; the end-to-end test runs the real pipeline.

Also: the accuracy measures used in tests, the benchmark and the docs (adjusted Rand index per
patient, prevalence error of each truth clone, emerging resistance clone found)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from ..io import read_tsv, write_tsv


def tracked_from_truth(truth_dir: str | os.PathLike, seed: int = 0, depth: float = 800.0,
                       error_rate: float = 2e-4, min_alt_detected: int = 3) -> pd.DataFrame:
    """A tracked_variants-like table (plasma draws, every truth variant) from truth/variants.tsv."""
    rng = np.random.default_rng(seed)
    truth = read_tsv(Path(truth_dir) / "variants.tsv", dtype={"sample_id": str,
                                                             "patient_id": str, "chrom": str})
    t = truth[truth["sample_type"] == "plasma"].reset_index(drop=True)
    n = len(t)
    dp = rng.poisson(depth, size=n).astype(int)
    p = np.clip(t["expected_vaf"].to_numpy(float) * (1 - error_rate)
                + (1 - t["expected_vaf"].to_numpy(float)) * error_rate, 0, 1)
    alt = rng.binomial(dp, p)
    out = pd.DataFrame({
        "patient_id": t["patient_id"], "sample_id": t["sample_id"], "sample_type": "plasma",
        "timepoint_days": t["timepoint_days"], "chrom": t["chrom"], "pos": t["pos"],
        "ref": t["ref"], "alt": t["alt"], "gene": t["gene"].fillna(""),
        "ref_count": dp - alt, "alt_count": alt, "depth": dp,
        "vaf": np.where(dp > 0, alt / np.maximum(dp, 1), np.nan),
        "background_rate": error_rate,
        "status": np.where(alt >= min_alt_detected, "detected", "not_detected"),
        "category": t["category"], "protein_change": t["protein_change"],
    })
    return out


def tracked_with_sites(truth_dir: str | os.PathLike, seed: int = 0, depth: float = 800.0
                       ) -> pd.DataFrame:
    """:func:`tracked_from_truth` with the truth's ``variant_type`` and a ``site_id``
    (chrom:pos:ref>alt), as the variants stage's SNV tumour fraction expects."""
    tracked = tracked_from_truth(truth_dir, seed=seed, depth=depth)
    types = read_tsv(Path(truth_dir) / "variants.tsv", dtype={"chrom": str})
    types = types.drop_duplicates(["chrom", "pos"])[["chrom", "pos", "variant_type"]]
    tracked = tracked.merge(types, on=["chrom", "pos"], how="left")
    tracked["site_id"] = (tracked["chrom"].astype(str) + ":" + tracked["pos"].astype(str) + ":"
                          + tracked["ref"] + ">" + tracked["alt"])
    return tracked


def tumour_fraction_from_truth(truth_dir: str | os.PathLike, relative_error: float = 0.0,
                               seed: int = 0) -> pd.DataFrame:
    """tumour_fraction.tsv-like rows (plasma) from truth/samples.tsv, each TF multiplied by
    exp(N(0, relative_error)) to mimic estimation error."""
    rng = np.random.default_rng(seed)
    s = read_tsv(Path(truth_dir) / "samples.tsv")
    s = s[s["sample_type"] == "plasma"].reset_index(drop=True)
    tf = s["tumour_fraction"].to_numpy(float) * np.exp(rng.normal(0, relative_error, len(s)))
    return pd.DataFrame({"sample_id": s["sample_id"], "patient_id": s["patient_id"],
                         "timepoint_days": s["timepoint_days"],
                         "tumour_fraction": np.clip(tf, 0, 1),
                         "ploidy": s["ploidy"], "tf_detected": True})


def write_stage_inputs(cohort: str | os.PathLike, out: str | os.PathLike, seed: int = 0,
                       depth: float = 800.0, tf_relative_error: float = 0.0) -> dict[str, Path]:
    """Write tracked.tsv and tumour_fraction.tsv for a simulated cohort into ``out``."""
    truth = Path(cohort) / "truth"
    out = Path(out)
    paths = {"tracked": out / "tracked_variants.tsv", "tf": out / "tumour_fraction.tsv",
             "segments": truth / "segments.tsv"}
    write_tsv(tracked_from_truth(truth, seed, depth), paths["tracked"])
    write_tsv(tumour_fraction_from_truth(truth, tf_relative_error, seed), paths["tf"])
    return paths


def evaluate(truth_dir: str | os.PathLike, variants: pd.DataFrame, prevalence: pd.DataFrame,
             events: pd.DataFrame) -> dict:
    """Accuracy of the clonal tables against the simulator truth.

    Returns per-patient ARI (clusters vs truth clone_id over the clustered somatic variants), the
    prevalence error of every truth clone and draw (truth prevalence vs the prevalence of the
    cluster holding most of the clone's variants; draws where it is not estimable are skipped)
    and, per patient, whether the resistance clone has its own cluster with an ``emerging``
    event."""
    from sklearn.metrics import adjusted_rand_score

    truth_dir = Path(truth_dir)
    tv = read_tsv(truth_dir / "variants.tsv", dtype={"patient_id": str, "chrom": str})
    tv = tv[(tv["category"] == "somatic")].drop_duplicates(["patient_id", "chrom", "pos", "ref",
                                                              "alt"])
    clones = read_tsv(truth_dir / "clones.tsv", dtype={"patient_id": str, "sample_id": str})
    v = variants.dropna(subset=["cluster_id"]).merge(
        tv[["patient_id", "chrom", "pos", "ref", "alt", "clone_id"]],
        on=["patient_id", "chrom", "pos", "ref", "alt"], how="left")
    ari, ari_ident, errors, resistance = {}, {}, {}, {}
    errors = []
    for pid, g in v.groupby("patient_id"):
        ari[pid] = adjusted_rand_score(g["clone_id"].astype(str), g["cluster_id"].astype(int))
        merged = g["clone_id"].map(_identifiable_clones(clones[clones["patient_id"] == pid]))
        ari_ident[pid] = adjusted_rand_score(merged.astype(str), g["cluster_id"].astype(int))
        for clone, members in g.groupby("clone_id"):
            cid = int(members["cluster_id"].astype(int).mode().iloc[0])
            tc = clones[(clones["patient_id"] == pid) & (clones["clone_id"] == clone)]
            pr = prevalence[(prevalence["patient_id"] == pid) & (prevalence["cluster_id"] == cid)]
            m = tc.merge(pr, on="sample_id", suffixes=("_truth", ""))
            m = m[m["estimable"].astype(bool)]
            for r in m.itertuples():
                errors.append({"patient_id": pid, "clone_id": clone, "cluster_id": cid,
                               "sample_id": r.sample_id, "role": r.role,
                               "truth": r.prevalence_truth, "estimate": r.prevalence,
                               "abs_error": abs(r.prevalence - r.prevalence_truth)})
        res = clones[(clones["patient_id"] == pid) & (clones["role"] == "resistance")]
        for clone in res["clone_id"].unique():
            members = g[g["clone_id"] == clone]
            if members.empty:
                resistance[(pid, clone)] = False
                continue
            cid = int(members["cluster_id"].astype(int).mode().iloc[0])
            others = g[(g["cluster_id"].astype(int) == cid) & (g["clone_id"] != clone)]
            ev = events[(events["patient_id"] == pid) & (events["cluster_id"] == cid)
                        & (events["event"] == "emerging")]
            resistance[(pid, clone)] = others.empty and not ev.empty
    err = pd.DataFrame(errors)
    return {"ari": ari, "mean_ari": float(np.mean(list(ari.values()))) if ari else float("nan"),
            "ari_identifiable": ari_ident,
            "prevalence_errors": err,
            "max_prevalence_error": float(err["abs_error"].max()) if len(err) else float("nan"),
            "resistance_found": resistance}


IDENTICAL = 0.1


def _identifiable_clones(clones: pd.DataFrame) -> dict[str, str]:
    """clone_id -> representative clone_id, merging clones whose trajectories stay within
    IDENTICAL of each other at every draw (transitively)."""
    traj = clones.pivot_table(index="clone_id", columns="sample_id", values="prevalence")
    ids = list(traj.index)
    parent = {c: c for c in ids}

    def root(c):
        while parent[c] != c:
            c = parent[c]
        return c

    for i, a in enumerate(ids):
        for b in ids[i + 1:]:
            if (traj.loc[a] - traj.loc[b]).abs().max() < IDENTICAL:
                parent[root(b)] = root(a)
    return {c: root(c) for c in ids}


def truth_partition_gain(data, labels: np.ndarray, settings=None,
                         precision: float = 1000.0) -> dict:
    """Is a one-cluster answer the data's or the search's fault? EM is started from the two
    largest truth clones (``labels``: one clone id per variant of ``data``) on the stage's own
    likelihood table, and its log-likelihood gain over one cluster is set against BIC's price
    for the second cluster (half the BIC penalty difference, in nats). A gain below the price
    means even the true split does not pay for itself on these counts."""
    from .cluster import ClusterSettings, _Model

    model = _Model(data, settings or ClusterSettings())
    L = model.table(precision)
    pooled = L.sum(axis=1)
    best = model.mult.segment_argmax(pooled.max(axis=-1) + model.mult.log_prior)
    labels = np.asarray(labels)
    clones = pd.Series(labels).value_counts().index
    fits = {}
    for k in (1, 2):
        start = np.array([L[best[labels == c]].sum(axis=0).argmax(axis=-1) for c in clones[:k]])
        fits[k] = model.em(L, start, precision)
    gain = fits[2].loglik - fits[1].loglik
    bic_gap = model.bic(fits[2], False) - model.bic(fits[1], False)
    return {"n_variants": len(labels), "n_clones": len(clones), "gain": gain,
            "price": (bic_gap + 2 * gain) / 2}
