"""Rule umi_consensus: a sample's aligned reads -> consensus BAM (one read pair per molecule),
its UMI metrics row and family-size histogram."""
import dataclasses
import logging

from plasmatrack.umi import UmiSettings
from plasmatrack.umi.pipeline import ConsensusInputs, run_consensus

sm = snakemake  # noqa: F821
logging.basicConfig(filename=sm.log[0], level=logging.INFO, format="%(asctime)s %(message)s")
settings = dataclasses.replace(UmiSettings.from_config(dict(sm.params.settings)),
                               mode=sm.params.mode)
row = run_consensus(sm.input.bam, sm.output.bam, sm.output.metrics, settings,
                    family_sizes_tsv=sm.output.family_sizes,
                    inputs=ConsensusInputs(reference=sm.input.fasta, panel=sm.input.panel or None),
                    sample_id=sm.wildcards.sample, patient_id=sm.wildcards.patient)
logging.info("%s", row)
