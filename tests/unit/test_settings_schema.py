"""The settings dataclasses and the config schema give every setting the same default.

The schema (workflow/schemas/config.schema.yaml) is the source of the defaults: a run's config
is filled from it. The dataclasses repeat the defaults so that the library, the CLI and the tests
can build settings without a config; this test fails when the two drift apart."""

import dataclasses
import importlib

import pytest

from plasmatrack.config import schema_default

# (module, class) -> {field: dotted config key}. Fields not listed are not config settings
# (model internals such as ClusterSettings.max_iter, or set by the CLI only).
SETTINGS = {
    ("plasmatrack.cnv.tumour_fraction", "HmmSettings"): {
        name: f"cnv.hmm.{name}"
        for name in ("min_copy", "max_copy", "amp_state", "switch_prob", "prior_decay", "df",
                     "tf_starts", "ploidy_starts", "max_iter", "use_weights", "noise_model",
                     "bin_classes")
    },
    ("plasmatrack.cnv.tumour_fraction", "DetectionSettings"): {
        "min_llr": "cnv.detection.min_llr",
        "min_altered_fraction": "cnv.detection.min_altered_fraction",
    },
    ("plasmatrack.cnv.call", "CallSettings"): {
        "segment_method": "cnv.segment_method",
        "segment_threshold": "cnv.segment_threshold",
        "bias": "cnv.bias_correction",
    },
    ("plasmatrack.cnv.summary", "SummarySettings"): {
        "margin": "cnv.detection.margin",
        "alpha": "cnv.detection.alpha",
        "her2_gene": "her2_gene",
    },
    ("plasmatrack.cnv.genes", "GeneSettings"): {
        name: f"cnv.genes.{name}" for name in ("z_min", "min_excess", "pcn_threshold",
                                               "min_tf_for_cn")
    },
    ("plasmatrack.mrd.settings", "MrdSettings"): {
        name: f"mrd.{name}"
        for name in ("tumour_variants", "min_mapping_quality", "min_base_quality", "max_p_value",
                     "min_informative_molecules", "max_prior_shape", "exclude_control_vaf",
                     "outlier_max_p", "outlier_max_fraction", "n_simulations",
                     "max_control_samples", "seed")
    },
    ("plasmatrack.variants.pileup", "ReadFilterSettings"): {
        name: f"variants.{name}" for name in ("min_mapping_quality", "min_base_quality",
                                              "flag_filter", "require_proper_pair")
    },
    ("plasmatrack.variants.collisions", "CollisionSettings"): {
        "collision_correction": "variants.duplicates.collision_correction",
    },
    ("plasmatrack.variants.discover", "DiscoverySettings"): {
        name: f"variants.discovery.{name}"
        for name in ("max_p_value", "min_alt_fragments", "min_vaf", "indels", "max_indel_length")
    },
    ("plasmatrack.variants.background", "BackgroundSettings"): {
        "prior_strength": "variants.background.prior_strength",
        "blacklist_min_rate": "variants.background.blacklist_min_rate",
        "blacklist_min_fraction": "variants.background.blacklist_min_fraction",
        "exclude_control_vaf": "variants.background.exclude_control_vaf",
        "max_p_value": "variants.detection.max_p_value",
        "control_specificity": "variants.detection.control_specificity",
    },
    ("plasmatrack.variants.classify", "CallSettings"): {
        "min_power": "variants.detection.min_power",
        "reference_vaf": "variants.detection.reference_vaf",
        **{name: f"variants.classification.{name}"
           for name in ("germline_min_vaf", "min_normal_depth", "chip_min_vaf",
                        "strand_bias_max_p", "min_strand_fraction", "chip_genes")},
    },
    ("plasmatrack.variants.maf", "MafSettings"): {
        name: f"variants.maf.{name}" for name in ("center", "ncbi_build")
    },
    ("plasmatrack.clonal.inputs", "InputSettings"): {
        name: f"clonal.{name}"
        for name in ("tumour_content", "copy_number", "copy_number_table",
                     "min_tf_for_copy_number", "max_copy_number", "require_detected",
                     "copy_number_outlier_p")
    },
    ("plasmatrack.clonal.cluster", "ClusterSettings"): {
        name: f"clonal.{name}"
        for name in ("max_clusters", "restarts", "seed", "precision", "grid_points",
                     "criterion", "penalty", "min_cluster_size", "min_cluster_fraction",
                     "outlier_p")
    },
    ("plasmatrack.clonal.events", "EventSettings"): {
        name: f"clonal.events.{name}"
        for name in ("present_min", "absent_max", "min_change", "progression_window_days")
    },
    ("plasmatrack.clonal.pipeline", "ClonalSettings"): {
        name: f"clonal.{name}"
        for name in ("normalise_to_trunk", "estimable_max_width", "resolution_limit",
                     "tree_tolerance")
    },
    ("plasmatrack.cohort.settings", "CohortSettings"): {
        name: f"cohort.{name}"
        for name in ("baseline_window_days", "on_treatment_window_days", "metric",
                     "sensitivity_metrics", "cutpoint", "min_prop", "permutations", "maxstat_p",
                     "seed", "log_offset", "tf_log_offset", "covariates", "endpoints",
                     "landmark_months", "response_metric", "response_ratio",
                     "progression_ratio", "min_tf_for_tumour_cn", "min_events_per_term",
                     "min_group_size")
    },
    ("plasmatrack.stats.survival", "SurvivalSettings"): {
        name: f"cohort.{name}"
        for name in ("min_prop", "permutations", "seed", "maxstat_p", "min_events_per_term",
                     "min_group_size")
    },
    ("plasmatrack.qc.identity", "IdentitySettings"): {
        name: f"qc.identity.{name}"
        for name in ("fingerprint_sites", "min_depth", "hom_max_fraction",
                     "discovery_min_fraction", "min_informative_sites", "min_relatedness",
                     "max_contamination", "min_mapping_quality", "min_base_quality")
    },
    ("plasmatrack.report.pages", "ReportSettings"): {
        "her2_gene": "her2_gene",
        **{name: f"report.{name}"
           for name in ("pcn_threshold", "tumour_cn_threshold", "max_bins_per_draw",
                        "max_individual_fragment_profiles", "table_page_size",
                        "hidden_variant_categories")},
    },
    ("plasmatrack.umi.settings", "UmiSettings"): {
        name: f"umi.{name}"
        for name in ("mode", "source", "read_structures", "umi_length", "max_edits", "min_reads",
                     "require_both_strands", "error_rate_pre_umi", "error_rate_post_umi",
                     "min_input_base_quality", "max_base_quality", "min_consensus_base_quality",
                     "min_mapping_quality", "duplex_one_strand_bases")
    },
}


# Known differences, each with what keeps it: (class, field) -> (dataclass default, schema default).
# ClusterSettings.seed: runs use the schema's 1 (the rule via the config, `plasmatrack clones`
# via its --seed default); the dataclass's 0 is what library calls without settings use
# (run_pyclone in tests/real, benchmarks/accuracy_clonal.py via ClonalSettings.from_config), so
# aligning it would change their clusterings.
KNOWN_DIFFERENCES = {("ClusterSettings", "seed"): (0, 1)}


def _plain(value):
    """Tuples as lists, so a dataclass's tuple compares with the schema's YAML list."""
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    return value


def _field_default(cls, name):
    field = {f.name: f for f in dataclasses.fields(cls)}[name]
    if field.default is not dataclasses.MISSING:
        return field.default
    return field.default_factory()


CASES = [(module, cls, name, key) for (module, cls), mapping in SETTINGS.items()
         for name, key in mapping.items()]


@pytest.mark.parametrize("module,cls,name,key", CASES,
                         ids=[f"{c}.{n}" for _, c, n, _ in CASES])
def test_dataclass_default_is_the_schema_default(module, cls, name, key):
    settings = getattr(importlib.import_module(module), cls)
    pair = (_plain(_field_default(settings, name)), _plain(schema_default(key)))
    if (cls, name) in KNOWN_DIFFERENCES:
        assert pair == KNOWN_DIFFERENCES[cls, name], f"{cls}.{name}: update KNOWN_DIFFERENCES"
    else:
        assert pair[0] == pair[1], f"{cls}.{name} defaults differ from the schema's {key}"


def test_every_mapped_key_is_a_field():
    for (module, cls), mapping in SETTINGS.items():
        settings = getattr(importlib.import_module(module), cls)
        names = {f.name for f in dataclasses.fields(settings)}
        assert set(mapping) <= names, f"{cls}: no field(s) {sorted(set(mapping) - names)}"


def test_schema_default_names_unknown_keys():
    with pytest.raises(KeyError, match="cnv.hmm.no_such_key"):
        schema_default("cnv.hmm.no_such_key")
    with pytest.raises(KeyError, match="has no default"):
        schema_default("samples")


# (module, class) -> the config section its from_config reads ("" = the whole config).
FROM_CONFIG = {
    ("plasmatrack.cnv.tumour_fraction", "HmmSettings"): "cnv.hmm",
    ("plasmatrack.cnv.genes", "GeneSettings"): "cnv.genes",
    ("plasmatrack.variants.pileup", "ReadFilterSettings"): "variants",
    ("plasmatrack.variants.discover", "DiscoverySettings"): "variants",
    ("plasmatrack.variants.background", "BackgroundSettings"): "variants",
    ("plasmatrack.variants.classify", "CallSettings"): "variants",
    ("plasmatrack.clonal.pipeline", "ClonalSettings"): "clonal",
    ("plasmatrack.cohort.settings", "CohortSettings"): "cohort",
    ("plasmatrack.report.pages", "ReportSettings"): "",
    ("plasmatrack.umi.settings", "UmiSettings"): "umi",
    ("plasmatrack.qc.identity", "IdentitySettings"): "qc.identity",
}


def _defaults_config() -> dict:
    """A config of the schema's defaults (the four keys only a user can name made up)."""
    from plasmatrack.config import prepare_config

    config = {"samples": "s.tsv", "clinical": "c.tsv", "reference": {"fasta": "g.fa"},
              "genes": "g.bed"}
    return prepare_config(config, "/", source="test")


def _section(config: dict, dotted: str) -> dict:
    for part in filter(None, dotted.split(".")):
        config = config[part]
    return config


@pytest.mark.parametrize("module,cls", sorted(FROM_CONFIG), ids=[c for _, c in sorted(FROM_CONFIG)])
def test_from_config_of_the_schema_defaults_is_the_default(module, cls):
    settings = getattr(importlib.import_module(module), cls)
    built = settings.from_config(_section(_defaults_config(), FROM_CONFIG[module, cls]))
    expected = settings()
    if cls == "ClonalSettings":  # KNOWN_DIFFERENCES: the cluster seed
        expected.cluster.seed = schema_default("clonal.seed")
    assert built == expected
    assert settings.from_config({}) == settings()
