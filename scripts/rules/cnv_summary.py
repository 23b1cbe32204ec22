"""Rule cnv_summary: detection calibrated on the tumour-free samples; TF, gene and ERBB2 tables."""
import logging

from plasmatrack.cnv.pipeline import samples_frame, summarise
from plasmatrack.cnv.summary import SummaryOutputs, SummarySettings

sm = snakemake  # noqa: F821
logging.basicConfig(filename=sm.log[0], level=logging.INFO, format="%(asctime)s %(message)s")
samples = samples_frame(list(sm.params.samples))
ids = list(samples["sample_id"])
summarise(
    samples, dict(zip(ids, sm.input.fits)), dict(zip(ids, sm.input.gene_stats)),
    list(sm.params.tumour_free),
    SummarySettings.from_config({"detection": dict(sm.params.detection),
                                 "genes": dict(sm.params.genes)}, her2_gene=sm.params.her2_gene),
    SummaryOutputs(tumour_fraction=sm.output.tumour_fraction, genes=sm.output.genes,
                   erbb2=sm.output.erbb2, detection=sm.output.detection),
    identity=sm.input.identity or None,
)
