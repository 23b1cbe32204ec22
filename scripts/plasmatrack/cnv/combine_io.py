"""The published tumour fraction (rule ``cnv_combine``, ``plasmatrack cnv-combine``): reads the
copy-number table, the SNV table and the tracked variants, gathers the BAF evidence and writes
the combined table (the method: :mod:`.combine`, docs/cnv.md "Combined tumour fraction")."""

from __future__ import annotations

import logging

import pandas as pd

from ..io import read_tsv, write_tsv

log = logging.getLogger(__name__)


def baf_draws(cn: pd.DataFrame, tracked: pd.DataFrame, states: dict[str, pd.DataFrame],
              source: str = "tracked_variants.tsv") -> pd.DataFrame:
    """BAF tumour fractions of every patient's plasma draws (``baf.DRAW_COLUMNS`` plus
    ``tf_baf_p_value``). Each patient's segments come from the copy-number states of its draw
    with the largest copy-number LLR (the one whose path is best supported)."""
    from .baf import DRAW_COLUMNS, baf_tumour_fraction
    from .combine import baf_p_value

    parts = []
    plasma = cn[cn["sample_type"].astype(str) == "plasma"]
    for patient, rows in plasma.groupby("patient_id", sort=True):
        mine = tracked[tracked["patient_id"].astype(str) == str(patient)]
        with_states = rows[rows["sample_id"].isin(states)]
        if mine.empty or with_states.empty:
            continue
        reference = str(with_states.loc[with_states["llr"].astype(float).idxmax(), "sample_id"])
        draws, _ = baf_tumour_fraction(mine, {reference: states[reference]}, reference,
                                       source=source)
        parts.append(draws)
    table = (pd.concat(parts, ignore_index=True) if parts
             else pd.DataFrame(columns=DRAW_COLUMNS))
    table["tf_baf_p_value"] = [baf_p_value(float(v)) for v in table["llr_baf"]]
    return table


def combine_tumour_fractions(cn_path: str, out_tf: str, out_baf: str, snv_path: str | None = None,
                             tracked_path: str | None = None,
                             state_paths: dict[str, str] | None = None, alpha: float = 0.01,
                             methods: tuple[str, ...] = ("cn", "snv")
                             ) -> pd.DataFrame:
    """Rule ``cnv_combine``: the published ``tumour_fraction.tsv`` (one combined estimate per
    sample, the per-method columns beside it) and the BAF table, from the copy-number table, the
    SNV table and the tracked variants (``cnv/combine.py`` for the method)."""
    from .combine import combine_draws

    cn = read_tsv(cn_path)
    snv = read_tsv(snv_path) if snv_path and "snv" in methods else None
    baf = None
    if tracked_path and state_paths:  # reported always; combined only when in ``methods``
        states = {s: read_tsv(p, dtype={"chromosome": str}) for s, p in state_paths.items()}
        tracked = read_tsv(tracked_path, dtype={"sample_id": str, "patient_id": str,
                                                "chrom": str}, low_memory=False)
        baf = baf_draws(cn, tracked, states, source=str(tracked_path))
    table = combine_draws(cn, snv, baf, alpha, tuple(methods))
    write_tsv(baf if baf is not None else pd.DataFrame(columns=["sample_id"]), out_baf)
    write_tsv(table, out_tf)
    n_det = int(table["tf_detected"].sum())
    log.info("combined tumour fraction: %d of %d samples detected (alpha %g, methods %s)",
             n_det, len(table), alpha, "+".join(methods))
    return table
