"""The ``cohort`` config section as a typed object, and the names its keys may take."""

from __future__ import annotations

from dataclasses import dataclass, fields

from ..config import settings_kwargs
from ..errors import InputError
from ..stats.survival import SurvivalSettings, parse_cutpoint

METRICS: dict[str, str] = {
    "altered_copies": "max(PCN - 2, 0) + 2 x ERBB2 mutant VAF (ERBB2-altered copies per diploid "
                      "genome equivalent in plasma)",
    "excess_copies": "max(PCN - 2, 0) (excess ERBB2 copies in plasma)",
    "tumour_copy_number": "TF-adjusted ERBB2 tumour copy number 2 + (PCN - 2) / TF",
    "tumour_fraction": "tumour fraction of the draw",
    "mutation_vaf": "ERBB2 mutant allele fraction",
}
PRIMARY_METRIC = "altered_copies"
ENDPOINTS = {"ttf": ("ttf_months", "ttf_event"), "os": ("os_months", "os_event")}
PRIMARY_ENDPOINT = "ttf"  # time to treatment failure: the study's question (and the cut's)


@dataclass(frozen=True)
class CohortSettings:
    """The ``cohort`` config section (defaults as in the schema). Windows are inclusive day
    ranges; None = unbounded."""

    baseline_window_days: tuple[int | None, int | None] = (-90, 0)
    on_treatment_window_days: tuple[int | None, int | None] = (1, 90)
    metric: str = PRIMARY_METRIC
    sensitivity_metrics: tuple[str, ...] = ("excess_copies", "tumour_copy_number",
                                            "tumour_fraction", "mutation_vaf")
    cutpoint: str | float = "median"
    min_prop: float = 0.1
    permutations: int = 2000
    maxstat_p: str = "gauss"
    seed: int = 1
    log_offset: float = 0.01
    tf_log_offset: float = 0.001
    covariates: tuple[str, ...] = ()
    endpoints: tuple[str, ...] = ("ttf", "os")
    landmark_months: float = 3.0
    response_metric: str = "tumour_fraction"
    response_ratio: float = 0.5
    progression_ratio: float = 2.0
    min_tf_for_tumour_cn: float = 0.03
    min_events_per_term: int = 10
    min_group_size: int = 5

    @classmethod
    def from_config(cls, section: dict | None) -> "CohortSettings":
        section = dict(section or {})
        settings_kwargs(cls, section, "cohort")  # unknown keys: an error naming the nearest
        for key in ("baseline_window_days", "on_treatment_window_days", "sensitivity_metrics",
                    "covariates", "endpoints"):
            if key in section and section[key] is not None:
                section[key] = tuple(section[key])
        if "cutpoint" in section:
            section["cutpoint"] = parse_cutpoint(section["cutpoint"])
        settings = cls(**section)
        settings.check()
        return settings

    def check(self) -> None:
        """What the config schema cannot check: the metric and cut-point also come from
        ``plasmatrack burden --metric/--cutpoint``, which never pass the schema, and a
        permutation p needs permutations (two keys together)."""
        problems = []
        if self.metric not in METRICS:
            problems.append(f"config 'cohort': unknown metric {self.metric!r} "
                            f"(one of: {', '.join(METRICS)})")
        if self.maxstat_p == "permutation" and self.permutations < 1:
            problems.append("config 'cohort': maxstat_p = permutation needs permutations >= 1")
        if problems:
            raise InputError(problems)

    @property
    def survival(self) -> SurvivalSettings:
        """The settings of the statistics (:mod:`plasmatrack.stats.survival`)."""
        return SurvivalSettings.from_config({f.name: getattr(self, f.name) for f in fields(self)})
