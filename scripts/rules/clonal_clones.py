"""Rule clonal_clones: clusters, clone prevalences, trees and events for every patient."""
import logging

from plasmatrack.clonal.pipeline import ClonalSettings, read_clinical_table, run_pipeline

sm = snakemake  # noqa: F821
logging.basicConfig(filename=sm.log[0], level=logging.INFO, format="%(asctime)s %(message)s")
inputs = dict(sm.input.items())
if "tumour_fraction" not in inputs:
    logging.warning("no copy-number stage in this run: tumour content from SNVs only")
tables = run_pipeline(
    inputs["tracked"], inputs.get("tumour_fraction"), dict(sm.output), snv_tf=inputs["snv_tf"],
    cns=dict(zip(sm.params.cns_samples, inputs.get("cns", []))),
    clinical=read_clinical_table(sm.input.clinical),
    settings=ClonalSettings.from_config(sm.params.settings),
    identity=inputs.get("identity"),  # identity_samples.tsv when identity runs
)
for note in tables["tree"].drop_duplicates("patient_id")[["patient_id", "note"]].itertuples():
    logging.info("%s: %s", note.patient_id, note.note)
logging.info("%d clusters, %d events", len(tables["tree"]), len(tables["events"]))
