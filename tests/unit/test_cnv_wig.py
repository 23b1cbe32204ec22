"""HMMcopy WIG reading, read-count correction and panels of normals, on files written in code;
and the ``plasmatrack tumour-fraction`` command on a simulated WIG sample."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from plasmatrack.cli import main
from plasmatrack.cnv import wig
from plasmatrack.errors import InputError

BIN = 1_000_000


def write_wig(path, values: dict[str, list], fmt: str = "{:g}") -> None:
    with open(path, "w") as out:
        for chrom, vals in values.items():
            out.write(f"fixedStep chrom={chrom} start=1 step={BIN} span={BIN}\n")
            for v in vals:
                out.write(("NA" if v is None else fmt.format(v)) + "\n")


def test_read_wig_fixed_and_variable_step(tmp_path):
    path = tmp_path / "a.wig"
    path.write_text("track type=wiggle_0\nfixedStep chrom=1 start=1 step=100 span=100\n5\nNA\n7\n"
                    "variableStep chrom=2 span=50\n101 3\n301 4\n")
    table = wig.read_wig(path, "reads")
    assert list(table["chromosome"]) == ["1", "1", "1", "2", "2"]
    assert list(table["start"]) == [0, 100, 200, 100, 300]  # 0-based
    assert list(table["end"]) == [100, 200, 300, 150, 350]
    assert np.isnan(table["reads"][1]) and table["reads"][4] == 4


def test_read_wig_names_bad_lines(tmp_path):
    path = tmp_path / "bad.wig"
    path.write_text("fixedStep chrom=1 start=1 step=100\n5\nfive\n")
    with pytest.raises(InputError, match=r"bad.wig, line 3"):
        wig.read_wig(path)
    (tmp_path / "nohead.wig").write_text("5\n")
    with pytest.raises(InputError, match="before a fixedStep"):
        wig.read_wig(tmp_path / "nohead.wig")


def simulated_tracks(tmp_path, tf: float, seed: int, name: str = "S1",
                     gc_slope: float = 3.0, chrom_prefix: str = ""):
    """22 chromosomes x 60 bins: counts from a tumour profile at ``tf`` with a GC bias and a
    mappability effect; GC/map tracks (the same for every seed) without the ``chr`` prefix."""
    n_chrom, per = 22, 60
    tracks = np.random.default_rng(0)  # the same genome (GC, mappability) for every sample
    gc = np.clip(tracks.normal(0.42, 0.05, (n_chrom, per)), 0.3, 0.6)
    mapp = np.clip(tracks.normal(0.97, 0.03, (n_chrom, per)), 0.5, 1.0)
    rng = np.random.default_rng(seed)
    mapp[:, :2] = 0.5  # unmappable chromosome ends: filtered out
    cn = np.full((n_chrom, per), 2)
    cn[0::3, per // 2:] = 3
    cn[1::4, : per // 2] = 1
    ratio = (2 * (1 - tf) + cn * tf) / 2
    mean = 2000 * ratio * np.exp(gc_slope * (gc - 0.42)) * mapp
    reads = rng.poisson(mean)
    chroms = [str(i + 1) for i in range(n_chrom)]
    write_wig(tmp_path / f"{name}.reads.wig", {f"{chrom_prefix}{c}": list(reads[i])
                                               for i, c in enumerate(chroms)}, "{:d}")
    write_wig(tmp_path / "gc.wig", {c: list(gc[i]) for i, c in enumerate(chroms)})
    write_wig(tmp_path / "map.wig", {c: list(mapp[i]) for i, c in enumerate(chroms)})
    return tmp_path / f"{name}.reads.wig", tmp_path / "gc.wig", tmp_path / "map.wig"


def test_correction_removes_gc_bias_and_matches_chr_prefix(tmp_path):
    reads, gc, mapp = simulated_tracks(tmp_path, tf=0.0, seed=1, chrom_prefix="chr")
    table = wig.load_tracks(reads, gc, mapp)
    assert table["gc"].notna().all()  # 'chr1' in reads matched '1' in the tracks
    raw_corr = np.corrcoef(np.log2(table["reads"]), table["gc"])[0, 1]
    corrected = wig.correct_readcounts(table)
    ok = corrected["ideal"]
    assert raw_corr > 0.5
    assert abs(np.corrcoef(corrected.loc[ok, "log2"], corrected.loc[ok, "gc"])[0, 1]) < 0.1
    # Poisson noise at ~2000 reads: SD of log2 about 0.03
    assert corrected.loc[ok, "log2"].std() < 0.05


def test_panel_build_and_apply(tmp_path):
    profiles = {}
    for i in range(3):
        reads, gc, mapp = simulated_tracks(tmp_path, tf=0.0, seed=10 + i, name=f"N{i}")
        profiles[f"N{i}"] = wig.correct_readcounts(wig.load_tracks(reads, gc, mapp))
    panel = wig.build_panel(profiles)
    assert [c for c in panel.columns if c.startswith("normal:")] == ["normal:N0", "normal:N1",
                                                                     "normal:N2"]
    assert np.allclose(panel["log2"], np.nanmedian(
        panel[["normal:N0", "normal:N1", "normal:N2"]].to_numpy(), axis=1), equal_nan=True)
    applied = wig.apply_panel(profiles["N0"], panel)
    assert abs(np.nanmedian(applied["log2"])) < 1e-9
    panel.to_csv(tmp_path / "pon.tsv", sep="\t", index=False)
    back = wig.read_normal_panel(tmp_path / "pon.tsv")
    assert list(back.columns) == list(panel.columns)


def test_tumour_fraction_command_on_simulated_wig(tmp_path, capsys):
    reads, gc, mapp = simulated_tracks(tmp_path, tf=0.3, seed=4)
    normals = [simulated_tracks(tmp_path, tf=0.0, seed=20 + i, name=f"H{i}")[0]
               for i in range(3)]
    out = tmp_path / "out"
    code = main(["tumour-fraction", "--wig", str(reads), "--gc-wig", str(gc), "--map-wig",
                 str(mapp), "--normal-wig", *map(str, normals), "--segment-method", "haar",
                 "--no-plot", "--out", str(out)])
    assert code == 0
    assert "S1: tumour fraction" in capsys.readouterr().out
    table = pd.read_csv(out / "tumour_fraction.tsv", sep="\t")
    row = table.iloc[0]
    assert row["sample_id"] == "S1" and row["tf_detected"]
    assert row["tumour_fraction"] == pytest.approx(0.3, abs=0.03)
    for name in ("S1.cnr", "S1.cns", "S1.seg", "S1.hmm_states.tsv", "normal_panel.tsv",
                 "detection.tsv"):
        assert (out / name).is_file(), name
    states = pd.read_csv(out / "S1.hmm_states.tsv", sep="\t", dtype={"chromosome": str})
    # chromosome 1's second half is a gain: copy number 3
    q = states[(states["chromosome"] == "1") & (states["start"] >= 35 * BIN)]
    assert (q["state"] == 3).mean() > 0.9
