"""Clonal evolution from serial plasma: cancer cell fractions, a beta-binomial mixture over variant
trajectories, clone trees under the sum rule, and clone events through treatment.

Modules: ``ccf`` (expected VAF, likelihood grids, per-variant CCF and multiplicity), ``cluster``
(the mixture model and the choice of the number of clusters), ``tree`` (sum-rule trees),
``events`` (emerging / expanding / declining / cleared), ``inputs`` (pipeline tables in),
``pyclone_io`` (PyClone / PyClone-VI formats), ``pipeline`` (one function per run)."""
