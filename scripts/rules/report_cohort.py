"""Rule report_cohort: the cohort HTML page (+ its TSVs) from the stage tables of the run."""
import logging

from plasmatrack.report.pages import ReportSettings, build_cohort_page
from plasmatrack.report.sources import Sources, StageData

sm = snakemake  # noqa: F821
logging.basicConfig(filename=sm.log[0], level=logging.INFO, format="%(asctime)s %(message)s")
sources = Sources.from_named_inputs(dict(sm.input.items()), truth=sm.params.truth,
                                    config=dict(sm.params.config))
page = build_cohort_page(StageData(sources), sm.output.html,
                         ReportSettings.from_config(sm.params.config))
logging.info("wrote %s from tables %s", page, sorted(sources.tables))
