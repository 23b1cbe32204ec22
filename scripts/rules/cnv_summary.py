"""Rule cnv_summary: detection calibrated on the tumour-free samples; TF, gene and ERBB2 tables."""
import logging

from plasmatrack.cnv.genes import GeneSettings
from plasmatrack.cnv.pipeline import samples_frame, summarise
from plasmatrack.cnv.tumour_fraction import DetectionThresholds

sm = snakemake  # noqa: F821
logging.basicConfig(filename=sm.log[0], level=logging.INFO, format="%(asctime)s %(message)s")
samples = samples_frame(list(sm.params.samples))
ids = list(samples["sample_id"])
detection = dict(sm.params.detection)
summarise(
    samples, dict(zip(ids, sm.input.fits)), dict(zip(ids, sm.input.gene_stats)),
    list(sm.params.tumour_free),
    DetectionThresholds(min_llr=detection["min_llr"],
                        min_altered_fraction=detection["min_altered_fraction"],
                        source="config cnv.detection"),
    detection["margin"], GeneSettings.from_config(dict(sm.params.genes)), sm.params.her2_gene,
    sm.output.tumour_fraction, sm.output.genes, sm.output.erbb2, sm.output.detection,
    floor_joint=DetectionThresholds(min_llr=detection["min_llr_joint"],
                                    min_altered_fraction=detection["min_altered_fraction"],
                                    source="config cnv.detection (joint)"),
    alpha=float(detection["alpha"]),
)
