"""``plasmatrack clones``: cluster somatic variants into clones and follow them over time.

Two inputs:
  --pyclone-tsv IN.tsv [IN2.tsv ...]   PyClone-VI input (or older PyClone per-sample files);
                                       writes PyClone-VI's results table too
  --tracked tracked_variants.tsv       the pipeline's tables (with --tumour-fraction and/or
                                       --snv-tf, optionally --cns-dir and --clinical)"""

from __future__ import annotations

import argparse
from pathlib import Path

from .. import tables


def _precision(text: str):
    if text == "auto":
        return "auto"
    if text in ("inf", "binomial"):
        return float("inf")
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("precision must be > 0, 'auto' or 'binomial'")
    return value


def configure_parser(parser: argparse.ArgumentParser) -> None:
    src = parser.add_argument_group("input (one of)")
    src.add_argument("--pyclone-tsv", nargs="+", metavar="TSV",
                     help="PyClone-VI input TSV(s): mutation_id, sample_id, ref_counts, "
                          "alt_counts, normal_cn, major_cn, minor_cn[, tumour_content]")
    src.add_argument("--tracked", help=tables.TRACKED_VARIANTS.path)
    pipe = parser.add_argument_group("pipeline tables (with --tracked)")
    pipe.add_argument("--tumour-fraction",
                      help=f"{tables.TUMOUR_FRACTION_CN.path} (the copy-number TF the "
                           "pipeline gives the stage)")
    pipe.add_argument("--snv-tf", help=tables.SNV_TUMOUR_FRACTION.path)
    pipe.add_argument("--cns-dir", help="folder with <patient>/<sample>.cns (results/cnv)")
    pipe.add_argument("--clinical", help="clinical sheet (names the progression draw)")
    pipe.add_argument("--identity", help=f"{tables.IDENTITY_SAMPLES.path}: draws that failed "
                      "sample identity are not fitted; the tree notes name them")
    pipe.add_argument("--tumour-content", choices=["max", "auto", "snv", "cnv"], default="max",
                      help="tumour fraction per draw: the larger of the SNV and copy-number "
                           "estimates (default), auto (SNV, else copy number), snv or cnv")
    pipe.add_argument("--copy-number", choices=["segments", "table", "neutral"], default=None,
                      help="local copy number source (default: segments with --cns-dir, "
                           "else neutral)")
    pipe.add_argument("--copy-number-table", help="segments table for --copy-number table")
    model = parser.add_argument_group("model")
    model.add_argument("--max-clusters", type=int, default=10)
    model.add_argument("--restarts", type=int, default=5)
    model.add_argument("--seed", type=int, default=1)
    model.add_argument("--precision", type=_precision, default="auto",
                       help="beta-binomial precision: 'auto' (maximum likelihood), a number, or "
                            "'binomial'")
    model.add_argument("--grid-points", type=int, default=101)
    model.add_argument("--resolution-limit", type=float, default=0.5,
                       help="a patient whose resolvable CCF difference is above this is "
                            "reported as 'limited' (default 0.5; docs/clonal.md)")
    parser.add_argument("--out", required=True, help="output folder")


def run(args: argparse.Namespace) -> int:
    from ..errors import InputError
    from ..clonal.cluster import ClusterSettings
    from ..clonal.pipeline import ClonalSettings, read_clinical_table, run_pipeline, run_pyclone

    if bool(args.pyclone_tsv) == bool(args.tracked):
        raise InputError("give exactly one of --pyclone-tsv and --tracked")
    cluster = ClusterSettings(max_clusters=args.max_clusters, restarts=args.restarts,
                              seed=args.seed, precision=args.precision,
                              grid_points=args.grid_points)
    out = Path(args.out)
    if args.pyclone_tsv:
        res = run_pyclone(args.pyclone_tsv, out, cluster,
                          resolution_limit=args.resolution_limit)
        r = res["result"]
        print(f"ok: {len(res['data'].mutation_ids)} mutations x {len(res['data'].sample_ids)} "
              f"samples -> {r.k} clusters in {res['seconds']:.1f} s; {res['tree'].note}; "
              f"clonal resolution {res['resolution']} (resolvable CCF difference "
              f"{res['resolvable_ccf_difference']:.2f})")
        print(f"wrote {out / 'pyclone_vi_results.tsv'} (PyClone-VI format), "
              "cluster_prevalence.tsv, tree.tsv, ccf.tsv, model_selection.tsv")
        return 0
    if not args.tumour_fraction and not args.snv_tf:
        raise InputError("--tracked needs --tumour-fraction and/or --snv-tf")
    copy_number = args.copy_number or ("segments" if args.cns_dir else "neutral")
    settings = ClonalSettings()
    settings.cluster = cluster
    settings.inputs.tumour_content = args.tumour_content
    settings.inputs.copy_number = copy_number
    settings.inputs.copy_number_table = args.copy_number_table
    settings.resolution_limit = args.resolution_limit
    cns = {}
    if copy_number == "segments":
        if not args.cns_dir:
            raise InputError("--copy-number segments needs --cns-dir")
        for path in sorted(Path(args.cns_dir).glob("*/*.cns")):
            cns[path.stem] = path
    outputs = {name: out / f"{stem}.tsv" for name, stem in (
        ("variants", "variant_clusters"), ("prevalence", "cluster_prevalence"), ("tree", "tree"),
        ("events", "events"), ("ccf", "ccf"), ("selection", "model_selection"))}
    tables = run_pipeline(args.tracked, args.tumour_fraction, outputs, snv_tf=args.snv_tf,
                          cns=cns, clinical=read_clinical_table(args.clinical),
                          settings=settings, identity=args.identity)
    n_pat = tables["variants"]["patient_id"].nunique()
    calls = tables["tree"].drop_duplicates("patient_id")
    limited = calls.loc[calls["clonal_resolution"] == "limited", "patient_id"].astype(str)
    print(f"ok: {n_pat} patient(s), {len(tables['tree'])} clusters, {len(tables['events'])} "
          f"events; {len(limited)} with limited clonal resolution"
          + (f" ({', '.join(limited)})" if len(limited) else "") + f"; tables in {out}")
    return 0
