"""Rule mrd_call: the pooled residual-disease call of every plasma draw (mrd_calls.tsv)."""
import pandas as pd

from plasmatrack.mrd.pipeline import run_mrd_call
from plasmatrack.mrd.settings import MrdSettings

sm = snakemake  # noqa: F821
run_mrd_call(
    sm.input.sites,
    dict(zip(sm.params.samples, sm.params.count_files)),  # in the counts folders
    pd.DataFrame(list(sm.params.draws)),
    MrdSettings.from_config(dict(sm.params.settings)),
    sm.output.calls,
    identity=sm.input.identity or None,  # identity_samples.tsv when identity runs
)
