"""The cohort's files other than reads: BEDs, sheets, config and the truth tables."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from plasmatrack.io import write_tsv

from .fragments import Fragments, SampleModel
from .genome import Genome, bed_table
from .library import GC_GRID
from .tumour import Landscape, segments_table
from .variants import Germline, expected_vaf

LETTER = np.array(list("ACGT"))

CONFIG = """\
# A capture-panel cohort written by plasmatrack.capturesim (docs/capturesim.md). Paths are
# relative to this file. The truth tables in truth/ are in capturesim's own format, so the
# config's `truth` key is deliberately not set.
samples: samples.tsv
clinical: clinical.tsv
reference:
  fasta: reference/genome.fa
panel: panel.bed
genes: genes.bed
her2_gene: ERBB2
"""


class Recorder:
    """Collects per-patient and per-sample truth while the cohort is simulated."""

    def __init__(self, genome: Genome, genes: pd.DataFrame, panel: pd.DataFrame):
        self.genome, self.genes, self.panel = genome, genes, panel
        self.patients: dict[str, dict] = {}
        self.draws: list[dict] = []
        self.sheet: list[dict] = []
        self.vafs: list[pd.DataFrame] = []
        self.gc_rows: list[pd.DataFrame] = []

    def _chrom_pos(self, pos: np.ndarray) -> tuple[list[str], np.ndarray]:
        idx, local = self.genome.to_local(np.asarray(pos))
        return [self.genome.names[i] for i in idx], local + 1

    def patient(self, pid: str, land: Landscape, germ: Germline, snvs: pd.DataFrame, course: str):
        """Record a patient's tumour, germline and somatic truth."""
        seg = segments_table(self.genome, land)
        seg.insert(0, "patient_id", pid)
        chrom, pos = self._chrom_pos(germ.pos)
        germline = pd.DataFrame({
            "patient_id": pid, "chrom": chrom, "pos": pos, "ref": LETTER[germ.ref],
            "alt": LETTER[germ.alt], "genotype": np.where(germ.phase == 2, "hom", "het"),
            "haplotype": np.array(["A", "B", "AB"])[germ.phase]})
        chrom, pos = self._chrom_pos(snvs["pos"].to_numpy())
        snv = pd.DataFrame({
            "patient_id": pid, "chrom": chrom, "pos": pos, "ref": LETTER[snvs["ref"]],
            "alt": LETTER[snvs["alt"]], "gene": snvs["gene"], "ccf": snvs["ccf"],
            "multiplicity": snvs["multiplicity"], "haplotype_cn": snvs["cn_hap"],
            "total_cn": snvs["total_cn"]})
        erbb2 = self.genes.set_index("name").loc["ERBB2"]
        cn = land.at([(erbb2.start + erbb2.end) // 2]).sum()
        self.patients[pid] = {"land": land, "segments": seg, "germline": germline, "snvs": snv,
                              "course": course, "erbb2_cn": int(cn), "raw_snvs": snvs}

    def sample(self, sid: str, pid: str, stype: str, day, land: Landscape, model: SampleModel,
               frags: Fragments, rows: np.ndarray, snvs: pd.DataFrame, fastqs) -> None:
        """Record one sample: sheet row, truth row, expected SNV VAFs and its GC curve."""
        pat = self.patients[pid]
        tf = model.tf
        ploidy = land.ploidy
        # Fraction of molecules of tumour origin expected genome-wide (read-count definition).
        t_mol = tf * ploidy / model.tumour_len.mean
        n_mol = (1 - tf) * 2 / model.normal_len.mean
        self.sheet.append({"sample_id": sid, "patient_id": pid, "sample_type": stype,
                           "timepoint_days": "" if day is None else day,
                           "fastq_1": f"fastq/{Path(fastqs[0]).name}",
                           "fastq_2": f"fastq/{Path(fastqs[1]).name}"})
        self.draws.append({
            "sample_id": sid, "patient_id": pid, "sample_type": stype,
            "timepoint_days": day, "tumour_fraction": tf,
            # The tumour's share of the plasma's DNA (copies): differs from TF by the ploidy.
            "tumour_dna_fraction": tf * ploidy / (tf * ploidy + 2 * (1 - tf)),
            "tumour_fragment_fraction": t_mol / (t_mol + n_mol),
            "realised_tumour_read_fraction": float(frags.tumour[rows].mean()),
            "tumour_ploidy": round(ploidy, 4), "baseline_cn": land.baseline,
            "altered_fraction": round(land.altered_fraction(land.baseline), 5),
            "altered_fraction_vs2": round(land.altered_fraction(2), 5),
            "archetype": land.archetype, "erbb2_tumour_cn": pat["erbb2_cn"],
            "off_target_fraction": round(model.off_target, 5),
            "realised_off_target_fraction": float((~frags.on_target[rows]).mean()),
            "gc_bias_strength": round(model.gc.strength, 4), "gc_bias_shape": model.gc.shape,
            "library_prep": "cfdna" if stype == "plasma" else "sheared_genomic",
            "read_pairs": len(rows), "duplicate_fraction": round(model.dup_rate, 5),
            "normal_fragment_mode": model.normal_len.mode,
            "normal_fragment_mean": round(model.normal_len.mean, 2),
            "tumour_fragment_mode": model.tumour_len.mode if stype == "plasma" else None,
            "tumour_fragment_mean": round(model.tumour_len.mean, 2) if stype == "plasma" else None,
        })
        vaf = pat["snvs"][["patient_id", "chrom", "pos", "ref", "alt"]].copy()
        vaf.insert(1, "sample_id", sid)
        vaf["expected_vaf"] = np.round(expected_vaf(pat["raw_snvs"], tf), 6)
        self.vafs.append(vaf)
        grid = (GC_GRID >= 0.25) & (GC_GRID <= 0.75)
        self.gc_rows.append(pd.DataFrame({"sample_id": sid, "gc": GC_GRID[grid],
                                          "relative_yield": model.gc.weight[grid]}))

    def _clinical(self, rng: np.random.Generator) -> pd.DataFrame:
        """Plausible outcomes from each patient's course: progression fails early, a response
        (CR when the tumour cleared from plasma) late; survival follows failure. At least one
        treatment failure, so that survival analyses have an event."""
        draws = pd.DataFrame(self.draws)
        rows = []
        for pid, pat in self.patients.items():
            mine = (draws.patient_id == pid) & (draws.sample_type == "plasma")
            tfs = draws.loc[mine, "tumour_fraction"]
            course = pat["course"]
            lo, hi, p_event, resp = {"progression": (2, 7, 1.0, "PD"), "stable": (5, 16, 0.8, "SD"),
                                     "response": (9, 30, 0.55, "PR")}[course]
            if course == "response" and (tfs.iloc[1:] == 0).any():
                resp = "CR"
            ttf = round(float(rng.uniform(lo, hi)), 1)
            os_months = round(ttf + float(rng.uniform(3, 24)), 1)
            rows.append({"patient_id": pid, "ttf_months": ttf,
                         "ttf_event": int(rng.random() < p_event),
                         "os_months": os_months, "os_event": int(rng.random() < 0.5),
                         "best_response": resp,
                         "her2_status": "amplified" if pat["land"].amplicon else "",
                         "cancer_type": "breast"})
        table = pd.DataFrame(rows)
        if not table.ttf_event.any():
            table.loc[table.ttf_months.idxmin(), "ttf_event"] = 1
        return table

    def write(self, out: Path, prep: dict, probe: np.ndarray,
              rng: np.random.Generator) -> dict[str, pd.DataFrame]:
        """Write BEDs, sheets, config and truth tables; return the truth tables."""
        g, panel, genes = self.genome, self.panel, self.genes
        write_bed(bed_table(g, panel.start, panel.end, panel.name), out / "panel.bed")
        write_bed(bed_table(g, genes.start, genes.end, genes.name), out / "genes.bed")
        write_tsv(pd.DataFrame(self.sheet), out / "samples.tsv")
        write_tsv(self._clinical(rng), out / "clinical.tsv")
        (out / "config.yaml").write_text(CONFIG)
        targets = bed_table(g, panel.start, panel.end, panel.name)
        targets["kind"] = panel.kind.to_numpy()
        targets["probe_efficiency"] = probe
        targets["cfdna_prep_efficiency"] = prep["plasma"]
        targets["sheared_prep_efficiency"] = prep["sheared"]
        truth = {
            "draws": pd.DataFrame(self.draws),
            "segments": pd.concat([p["segments"] for p in self.patients.values()]),
            "snvs": pd.concat([p["snvs"] for p in self.patients.values()]),
            "snv_vaf": pd.concat(self.vafs),
            "germline": pd.concat([p["germline"] for p in self.patients.values()]),
            "targets": targets,
            "gc_curves": pd.concat(self.gc_rows),
            "isochores": bed_table(g, g.isochores.start, g.isochores.end,
                                   np.round(g.isochores.gc, 4)).rename(columns={"name": "gc"}),
        }
        for name, table in truth.items():
            write_tsv(table, out / "truth" / f"{name}.tsv")
        return truth


def write_bed(table: pd.DataFrame, path: Path) -> None:
    """A headerless BED (chrom, start, end, name)."""
    table.to_csv(path, sep="\t", header=False, index=False)
