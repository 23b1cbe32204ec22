"""Rule umi_extract: inline UMIs cut out of a sample's reads into the read names (before
alignment)."""
import dataclasses
import logging

from plasmatrack.umi import UmiSettings
from plasmatrack.umi.pipeline import run_extract

sm = snakemake  # noqa: F821
logging.basicConfig(filename=sm.log[0], level=logging.INFO, format="%(asctime)s %(message)s")
settings = dataclasses.replace(UmiSettings.from_config(dict(sm.params.settings)),
                               mode=sm.params.mode)
counts = run_extract(sm.input.r1, sm.input.r2, sm.output.r1, sm.output.r2, settings)
logging.info("%s", counts)
