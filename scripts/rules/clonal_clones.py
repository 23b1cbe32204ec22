"""Rule clonal_clones: clusters, clone prevalences, trees and events for every patient."""
import logging

from plasmatrack.clonal.pipeline import ClonalSettings, read_clinical_table, run_pipeline

sm = snakemake  # noqa: F821
logging.basicConfig(filename=sm.log[0], level=logging.INFO, format="%(asctime)s %(message)s")
tables = run_pipeline(
    sm.input.tracked, sm.input.tumour_fraction, dict(sm.output), snv_tf=sm.input.snv_tf,
    cns=dict(zip(sm.params.cns_samples, sm.input.cns)),
    clinical=read_clinical_table(sm.input.clinical),
    settings=ClonalSettings.from_config(sm.params.settings),
)
for note in tables["tree"].drop_duplicates("patient_id")[["patient_id", "note"]].itertuples():
    logging.info("%s: %s", note.patient_id, note.note)
logging.info("%d clusters, %d events", len(tables["tree"]), len(tables["events"]))
