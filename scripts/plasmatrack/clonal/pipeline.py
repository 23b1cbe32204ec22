"""The clonal stage end to end: published tables in, clones, prevalences, trees and events out.

``run_pipeline`` serves the Snakemake rule and ``plasmatrack clones --tracked ...``;
``run_pyclone`` serves ``plasmatrack clones --pyclone-tsv ...``. Both call the same model."""

from __future__ import annotations

import copy
import os
import time
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np
import pandas as pd

from ..consequence_terms import is_protein_altering
from ..errors import InputError
from ..io import write_tsv
from ..qc.identity_exclusion import read_left_out
from .ccf import variant_ccf
from .cluster import ClusterResult, ClusterSettings, fit_clusters
from .events import EventSettings, clone_events, ttf_days_of
from .inputs import (
    InputSettings,
    PatientInput,
    load_cns_files,
    patient_inputs,
    read_segments,
    read_snv_tf,
    read_tracked,
    read_tumour_fraction,
)
from .pyclone_io import read_pyclone_tables, results_table, to_mutation_data, write_results
from .resolution import LIMITED_ABOVE, resolution_label, resolvable_ccf_difference
from .tree import build_tree

VARIANT_COLUMNS = ["patient_id", "chrom", "pos", "ref", "alt", "gene", "cluster_id",
                   "cluster_probability",
                   # added columns
                   "protein_change", "mutation_id", "multiplicity", "tumour_copy_number",
                   "cluster_size", "cluster_label", "flags",
                   # from the transcript model (variants stage, issue 24)
                   "consequence", "transcript", "hgvs_c", "hgvs_p"]
_MODEL_COLUMNS = ("consequence", "transcript", "hgvs_c", "hgvs_p")
PREVALENCE_COLUMNS = ["patient_id", "cluster_id", "sample_id", "timepoint_days", "prevalence",
                      "prevalence_lower", "prevalence_upper",
                      "prevalence_std", "prevalence_mode", "estimable", "tumour_fraction",
                      "tumour_content_source",
                      "clone_cfdna_fraction", "n_variants", "label"]
TREE_COLUMNS = ["patient_id", "cluster_id", "parent_cluster_id",
                "n_variants", "label", "sum_rule_ok", "node_ok", "n_valid_trees",
                "resolvable_ccf_difference", "clonal_resolution", "note"]
EVENT_COLUMNS = ["patient_id", "cluster_id", "event", "sample_id", "timepoint_days",
                 "timepoint_label", "reference_sample_id", "reference_timepoint_days",
                 "prevalence_before", "prevalence_after", "genes", "label", "description"]
CCF_COLUMNS = ["patient_id", "sample_id", "timepoint_days", "chrom", "pos", "ref", "alt", "gene",
               "protein_change", "cluster_id", "ref_count", "alt_count", "vaf", "tumour_content",
               "tumour_copy_number", "major_copy_number", "mutation_copy_number",
               "mutation_copy_number_lower", "mutation_copy_number_upper", "multiplicity",
               "multiplicity_probability", "ccf_raw", "ccf", "ccf_lower", "ccf_upper"]
SELECTION_COLUMNS = ["patient_id", "k", "precision", "loglik", "n_parameters", "bic", "chosen"]


@dataclass
class ClonalSettings:
    inputs: InputSettings = field(default_factory=InputSettings)
    cluster: ClusterSettings = field(default_factory=ClusterSettings)
    events: EventSettings = field(default_factory=EventSettings)
    tree_tolerance: float = 0.02
    # A prevalence whose 95% interval is wider than this says nothing about the clone in that
    # draw (e.g. TF 0.003): it is written, but marked not estimable. Events still read it: their
    # interval tests keep an uncertain draw from making an event, and a baseline where a clone
    # is not seen at low TF is still the reference an emerging clone is measured against.
    estimable_max_width: float = 0.5
    normalise_to_trunk: bool = True
    # A patient whose resolvable CCF difference (resolution.py) is above this is "limited".
    resolution_limit: float = LIMITED_ABOVE

    @classmethod
    def from_config(cls, section: dict | None) -> "ClonalSettings":
        """From the ``clonal`` config section (flat keys, see the schema; events under
        ``events``)."""
        section = dict(section or {})
        ev = dict(section.pop("events", {}) or {})

        def pick(kind, values):
            names = {f.name for f in fields(kind)}
            return kind(**{k: v for k, v in values.items() if k in names})

        precision = section.get("precision", "auto")
        if isinstance(precision, str) and precision != "auto":
            raise InputError(f"config: key 'clonal.precision': {precision!r} is not 'auto' or a "
                             "positive number")
        settings = cls(pick(InputSettings, section), pick(ClusterSettings, section),
                       pick(EventSettings, ev))
        if "tree_tolerance" in section:
            settings.tree_tolerance = float(section["tree_tolerance"])
        if "normalise_to_trunk" in section:
            settings.normalise_to_trunk = bool(section["normalise_to_trunk"])
        if "estimable_max_width" in section:
            settings.estimable_max_width = float(section["estimable_max_width"])
        if "resolution_limit" in section:
            settings.resolution_limit = float(section["resolution_limit"])
        return settings


def _marker_rank(r, pc: str, gene: str) -> int:
    """Which variants name a clone first: hotspots, then protein-altering changes, then other
    named protein changes (synonymous), then gene-only, then bare positions."""
    if pc and "hotspot" in str(getattr(r, "source", "")):
        return 0
    if pc:
        return 1 if is_protein_altering(getattr(r, "consequence", "")) else 2
    return 3 if gene else 4


def cluster_markers(ann: pd.DataFrame, labels: np.ndarray, k: int):
    """Per cluster: a label naming the variants that mark it ("PIK3CA H1047R", hotspots first,
    then protein changes of the transcript model) and the comma-joined genes."""
    label, genes = {}, {}
    for cid in range(k):
        members = ann[labels == cid]
        items = []
        for r in members.itertuples():
            gene = str(r.gene) if isinstance(r.gene, str) and r.gene else ""
            pc = r.protein_change if isinstance(r.protein_change, str) and r.protein_change else ""
            text = f"{gene} {pc}".strip() if pc else (
                f"{gene} {r.chrom}:{int(r.pos)} {r.ref}>{r.alt}".strip())
            items.append((_marker_rank(r, pc, gene), text))
        items.sort(key=lambda x: x[0])
        shown = [t for _, t in items[:2]]
        more = len(items) - len(shown)
        label[cid] = " + ".join(shown) + (f" (+{more} more)" if more > 0 else "")
        genes[cid] = ",".join(sorted({str(g) for g in members["gene"] if isinstance(g, str) and g}))
    return label, genes


def analyse_patient(pin: PatientInput, settings: ClonalSettings,
                    ttf_days: float | None = None) -> dict[str, pd.DataFrame]:
    """Clusters, prevalences, tree, events, CCFs and model selection of one patient."""
    pid = pin.patient_id
    empty = {name: pd.DataFrame(columns=cols) for name, cols in (
        ("variants", VARIANT_COLUMNS), ("prevalence", PREVALENCE_COLUMNS), ("tree", TREE_COLUMNS),
        ("events", EVENT_COLUMNS), ("ccf", CCF_COLUMNS), ("selection", SELECTION_COLUMNS))}
    excluded = _excluded_rows(pin)
    if pin.data is None:
        empty["variants"] = excluded
        return empty
    data = pin.data
    result = fit_clusters(data, settings.cluster)
    if settings.normalise_to_trunk:
        data, result, note = _normalise_to_trunk(pin, data, result, settings)
        if note:
            pin.notes.append(note)
    ann = data.annotations
    label, genes = cluster_markers(ann, result.labels, result.k)
    variants = pd.DataFrame({
        "patient_id": pid, "chrom": ann["chrom"], "pos": ann["pos"].astype(int),
        "ref": ann["ref"], "alt": ann["alt"], "gene": ann["gene"],
        "cluster_id": result.labels, "cluster_probability": result.probability,
        "protein_change": ann["protein_change"], "mutation_id": ann["mutation_id"],
        "multiplicity": result.multiplicity, "tumour_copy_number": data.tumour_cn[:, 0],
        "cluster_size": result.sizes[result.labels],
        "cluster_label": [label[c] for c in result.labels], "flags": result.flags,
        **_model_columns(ann),
    })
    if not excluded.empty:
        variants = pd.concat([variants, excluded], ignore_index=True)
    variants = variants[VARIANT_COLUMNS]
    prevalence = _prevalence_rows(pin, result, label, settings.estimable_max_width)
    tree = build_tree(result.prevalence, result.prevalence_std, result.informative,
                      settings.tree_tolerance, sample_names=data.sample_ids)
    delta, resolution, resolution_note = patient_resolution(data, result, settings.cluster,
                                                            settings.resolution_limit)
    tree_rows = pd.DataFrame({
        "patient_id": pid, "cluster_id": np.arange(result.k),
        "parent_cluster_id": pd.array([p for p in tree.parents], dtype="Int64"),
        "n_variants": result.sizes, "label": [label[c] for c in range(result.k)],
        "sum_rule_ok": tree.valid, "node_ok": tree.node_ok, "n_valid_trees": tree.n_valid_trees,
        "resolvable_ccf_difference": delta, "clonal_resolution": resolution,
        "note": "; ".join([tree.note] + result.notes + pin.notes
                          + ([resolution_note] if resolution_note else [])),
    })
    events = clone_events(prevalence, label, genes, ttf_days, settings.events)
    events.insert(0, "patient_id", pid)
    ccf = variant_ccf(data, grid_points=max(settings.cluster.grid_points, 101),
                      precision=result.precision)
    ccf = ccf.merge(ann, on="mutation_id", how="left")
    ccf["patient_id"] = pid
    ccf["timepoint_days"] = ccf["sample_id"].map(pin.timepoints)
    ccf["cluster_id"] = ccf["mutation_id"].map(dict(zip(ann["mutation_id"], result.labels)))
    selection = result.selection.assign(patient_id=pid)
    return {"variants": variants, "prevalence": prevalence, "tree": tree_rows[TREE_COLUMNS],
            "events": events[EVENT_COLUMNS], "ccf": ccf[CCF_COLUMNS],
            "selection": selection[SELECTION_COLUMNS]}


def patient_resolution(data, result: ClusterResult, cluster: ClusterSettings,
                       limit: float = LIMITED_ABOVE) -> tuple[float, str, str]:
    """The patient's resolvable CCF difference (``resolution.resolvable_ccf_difference``, with the
    fitted precision and the stage's criterion), "resolved" / "limited", and for a limited
    patient a note saying what its clusters can and cannot show."""
    delta = resolvable_ccf_difference(data, result.informative, result.precision,
                                      cluster.criterion, cluster.penalty)
    label = resolution_label(delta, limit)
    if label == "resolved":
        return delta, label, ""
    what = "one cluster does not mean one clone" if result.k == 1 else \
        "clones closer than that are merged"
    need = ("no CCF difference can be told apart" if not np.isfinite(delta) else
            f"clones must differ by about {delta:.2f} in CCF in every draw to be told apart")
    return delta, label, (f"limited clonal resolution: at these depths and tumour fractions "
                          f"{need} ({what})")


def _normalise_to_trunk(pin: PatientInput, data, result: ClusterResult,
                        settings: ClonalSettings):
    """Rescale each draw's tumour content so that the trunk reads CCF 1, and refit.

    The tumour fraction of a draw comes from another estimator (SNV or copy number) and is off
    by 10-30% at panel depths; every CCF of the draw inherits that error. The trunk (cluster 0,
    the highest mean prevalence, holding at least two variants) is present in every tumour cell
    by definition, so where its most likely prevalence (posterior mode; the mean of a cluster at
    the top of the grid is pulled below 1) is below 1 the draw's tumour content is multiplied by
    it and the clusters are refitted.
    A tumour fraction that is too low cannot be seen this way (CCFs are capped at 1) and is left
    as it is."""
    if result.k == 0 or result.sizes[0] < 2:
        return data, result, ""
    scale = np.ones(len(data.sample_ids))
    low = result.informative & (result.prevalence_mode[0] < 0.995)
    if not low.any():
        return data, result, ""
    scale[low] = np.clip(result.prevalence_mode[0, low], 0.05, 1.0)
    data = copy.copy(data)
    data.tumour_content = data.tumour_content * scale[None, :]
    refit = fit_clusters(data, settings.cluster)
    changed = ", ".join(f"{s} x{f:.2f}" for s, f, lo in zip(data.sample_ids, scale, low) if lo)
    return data, refit, f"tumour content rescaled so that the trunk reads CCF 1 ({changed})"


def _excluded_rows(pin: PatientInput) -> pd.DataFrame:
    ex = pin.excluded
    if ex is None or ex.empty:
        return pd.DataFrame(columns=VARIANT_COLUMNS)
    return pd.DataFrame({
        "patient_id": pin.patient_id, "chrom": ex["chrom"], "pos": ex["pos"].astype(int),
        "ref": ex["ref"], "alt": ex["alt"], "gene": ex["gene"], "cluster_id": pd.NA,
        "cluster_probability": np.nan, "protein_change": ex["protein_change"],
        "mutation_id": ex["mutation_id"], "multiplicity": pd.NA, "tumour_copy_number": np.nan,
        "cluster_size": pd.NA, "cluster_label": "", "flags": ex["flags"],
        **_model_columns(ex),
    })[VARIANT_COLUMNS]


def _model_columns(ann: pd.DataFrame) -> dict:
    """The transcript model's columns of the annotations ('' where the input had none)."""
    return {c: (ann[c].to_numpy() if c in ann else "") for c in _MODEL_COLUMNS}


def _prevalence_rows(pin: PatientInput, result: ClusterResult, label: dict,
                     max_width: float = 0.5) -> pd.DataFrame:
    data = pin.data
    rows = []
    for k in range(result.k):
        for d, sid in enumerate(data.sample_ids):
            t = float(data.tumour_content[0, d])
            ok = bool(result.informative[d])
            rows.append({
                "patient_id": pin.patient_id, "cluster_id": k, "sample_id": sid,
                "timepoint_days": pin.timepoints.get(sid),
                "prevalence": result.prevalence[k, d] if ok else np.nan,
                "prevalence_lower": result.prevalence_lower[k, d] if ok else np.nan,
                "prevalence_upper": result.prevalence_upper[k, d] if ok else np.nan,
                "prevalence_std": result.prevalence_std[k, d] if ok else np.nan,
                "prevalence_mode": result.prevalence_mode[k, d] if ok else np.nan,
                "estimable": ok and bool(result.prevalence_upper[k, d]
                                         - result.prevalence_lower[k, d] <= max_width),
                "tumour_fraction": t,
                "tumour_content_source": pin.tumour_content_source.get(sid, ""),
                "clone_cfdna_fraction": t * result.prevalence[k, d] if ok else np.nan,
                "n_variants": int(result.sizes[k]), "label": label[k],
            })
    return pd.DataFrame(rows, columns=PREVALENCE_COLUMNS)


def run_pipeline(tracked: str | os.PathLike, tumour_fraction: str | os.PathLike | None,
                 outputs: dict[str, str | os.PathLike], snv_tf: str | os.PathLike | None = None,
                 cns: dict[str, str | os.PathLike] | None = None,
                 clinical: pd.DataFrame | None = None,
                 settings: ClonalSettings | None = None,
                 identity: str | os.PathLike | None = None) -> dict[str, pd.DataFrame]:
    """Run the stage on the published tables and write ``outputs`` (keys: variants, prevalence,
    tree, events, and optionally ccf, selection). ``cns``: plasma sample -> its .cns.
    ``identity``: identity_samples.tsv; draws that failed identity are not fitted (docs/qc.md)."""
    settings = settings or ClonalSettings()
    left_out = read_left_out(identity)
    tracked_df = read_tracked(tracked)
    tf = read_tumour_fraction(tumour_fraction) if tumour_fraction else None
    snv = read_snv_tf(snv_tf) if snv_tf else None
    if settings.inputs.tumour_content == "snv" and snv is None:
        raise InputError("clonal.tumour_content is 'snv' but no SNV tumour-fraction table given")
    if settings.inputs.tumour_content == "cnv" and tf is None:
        raise InputError("clonal.tumour_content is 'cnv' but no tumour_fraction.tsv given")
    segments = load_cns_files(cns or {}) if settings.inputs.copy_number == "segments" else {}
    cn_table = None
    if settings.inputs.copy_number == "table":
        if not settings.inputs.copy_number_table:
            raise InputError("clonal.copy_number is 'table' but clonal.copy_number_table is "
                             "not set")
        cn_table = read_segments(settings.inputs.copy_number_table)
    parts: dict[str, list[pd.DataFrame]] = {k: [] for k in
                                            ("variants", "prevalence", "tree", "events", "ccf",
                                             "selection")}
    for pin in patient_inputs(tracked_df, tf, snv, segments, settings.inputs, cn_table,
                              left_out):
        res = analyse_patient(pin, settings, ttf_days_of(clinical, pin.patient_id))
        for key, df in res.items():
            parts[key].append(df)
    tables = {k: _concat(v, cols) for (k, v), cols in zip(parts.items(), (
        VARIANT_COLUMNS, PREVALENCE_COLUMNS, TREE_COLUMNS, EVENT_COLUMNS, CCF_COLUMNS,
        SELECTION_COLUMNS))}
    for key, path in outputs.items():
        if path:
            write_tsv(tables[key], path)
    return tables


def _concat(frames: list[pd.DataFrame], columns: list[str]) -> pd.DataFrame:
    frames = [f for f in frames if not f.empty]
    if not frames:
        return pd.DataFrame(columns=columns)
    return pd.concat(frames, ignore_index=True)[columns]


def run_pyclone(paths: list[str | os.PathLike], out_dir: str | os.PathLike,
                settings: ClusterSettings | None = None, tree_tolerance: float = 0.02,
                resolution_limit: float = LIMITED_ABOVE) -> dict:
    """Cluster a PyClone / PyClone-VI input and write, in ``out_dir``: ``pyclone_vi_results.tsv``
    (PyClone-VI's results format), ``cluster_prevalence.tsv``, ``tree.tsv``, ``ccf.tsv`` and
    ``model_selection.tsv``. Returns the tables and the run time (s)."""
    start = time.perf_counter()
    table = read_pyclone_tables(paths)
    data, notes = to_mutation_data(table)
    settings = settings or ClusterSettings()
    result = fit_clusters(data, settings)
    out = Path(out_dir)
    pyclone = results_table(data, result)
    prev = pd.DataFrame([
        {"cluster_id": k, "sample_id": s, "prevalence": result.prevalence[k, d],
         "prevalence_lower": result.prevalence_lower[k, d],
         "prevalence_upper": result.prevalence_upper[k, d],
         "prevalence_std": result.prevalence_std[k, d], "n_variants": int(result.sizes[k])}
        for k in range(result.k) for d, s in enumerate(data.sample_ids)])
    tree = build_tree(result.prevalence, result.prevalence_std, result.informative,
                      tree_tolerance, sample_names=data.sample_ids)
    delta, resolution, resolution_note = patient_resolution(data, result, settings,
                                                            resolution_limit)
    tree_df = pd.DataFrame({
        "cluster_id": np.arange(result.k),
        "parent_cluster_id": pd.array(tree.parents, dtype="Int64"),
        "n_variants": result.sizes, "sum_rule_ok": tree.valid, "node_ok": tree.node_ok,
        "resolvable_ccf_difference": delta, "clonal_resolution": resolution,
        "note": "; ".join([tree.note] + result.notes + notes
                          + ([resolution_note] if resolution_note else []))})
    ccf = variant_ccf(data, grid_points=max(settings.grid_points, 101), precision=result.precision)
    ccf["cluster_id"] = ccf["mutation_id"].map(dict(zip(data.mutation_ids, result.labels)))
    elapsed = time.perf_counter() - start
    write_results(pyclone, out / "pyclone_vi_results.tsv")
    write_tsv(prev, out / "cluster_prevalence.tsv")
    write_tsv(tree_df, out / "tree.tsv")
    write_tsv(ccf, out / "ccf.tsv")
    write_tsv(result.selection, out / "model_selection.tsv")
    return {"data": data, "result": result, "results": pyclone, "prevalence": prev,
            "tree": tree, "seconds": elapsed, "notes": notes, "resolution": resolution,
            "resolvable_ccf_difference": delta}


def read_clinical_table(path: str | os.PathLike | None) -> pd.DataFrame | None:
    """The clinical sheet (validated) for progression labels; None when not given."""
    if not path:
        return None
    from ..sheets import load_clinical

    return load_clinical(path).table

