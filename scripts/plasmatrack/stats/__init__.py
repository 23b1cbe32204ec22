"""Assay-agnostic statistics, used by several stages and by the standalone commands.

Modules: ``binomial`` (the Wilson interval of a proportion), ``maxstat`` (maximally selected
log-rank statistics), ``survival`` (Kaplan-Meier, log-rank, cut-points, Cox, rank tests across
response categories, and the tables they produce)."""
