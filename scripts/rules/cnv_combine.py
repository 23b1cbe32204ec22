"""Rule cnv_combine: the published tumour fraction, combining copy number, SNVs and BAF."""
import logging

from plasmatrack.cnv.combine_io import combine_tumour_fractions

sm = snakemake  # noqa: F821
logging.basicConfig(filename=sm.log[0], level=logging.INFO, format="%(asctime)s %(message)s")
states = dict(zip(sm.params.plasma_ids, sm.input.states)) if "states" in sm.input.keys() else None
combine_tumour_fractions(
    sm.input.cn, sm.output.tumour_fraction, sm.output.baf,
    snv_path=sm.input.get("snv"), tracked_path=sm.input.get("tracked"), state_paths=states,
    alpha=float(sm.params.alpha), methods=tuple(sm.params.methods),
    snv_copy_number=bool(sm.params.snv_copy_number),
    cluster_ratio=float(sm.params.snv_tf["cluster_ratio"]),
    min_depth=int(sm.params.snv_tf["min_depth"]),
)
