"""Germline SNPs and somatic SNVs of a patient, and the two haplotype sequences they make.

Germline genotypes are phased: a heterozygous SNP sits on haplotype A or B, a homozygous one on
both. The normal sample and every plasma draw read the same two haplotype sequences, so the
germline is identical between them. Somatic SNVs are kept apart (they are applied per tumour
fragment in ``reads.py``) because a tumour cell carries them on only ``multiplicity`` of the
``cn`` copies of its haplotype, and subclonal ones in only a fraction ``ccf`` of tumour cells."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .genome import Genome
from .tumour import Landscape

SNP_SPACING = 1_500  # one private germline SNP per 1.5 kb on average


@dataclass
class Germline:
    """Global positions, ref and alt codes, and phase (0 = on A, 1 = on B, 2 = homozygous)."""

    pos: np.ndarray
    ref: np.ndarray
    alt: np.ndarray
    phase: np.ndarray


def common_alts(rng: np.random.Generator, genome: Genome, panel: pd.DataFrame) -> np.ndarray:
    """The alt allele of each backbone target's common SNP (shared by all patients)."""
    sites = panel.loc[panel["kind"] == "backbone", "snp"].to_numpy()
    return (genome.seq[sites] + rng.integers(1, 4, len(sites))) % 4


def draw_germline(rng: np.random.Generator, genome: Genome, panel: pd.DataFrame,
                  common_alt: np.ndarray) -> Germline:
    """Private SNPs (Poisson, 1 per 1.5 kb; 60% het) plus the backbone's common SNPs genotyped
    under Hardy-Weinberg at allele frequency 0.5 (50% het, 25% hom-alt, 25% absent)."""
    n = int(rng.poisson(genome.total / SNP_SPACING))
    pos = np.unique(rng.integers(0, genome.total, n))
    phase = np.where(rng.random(len(pos)) < 0.6, rng.integers(0, 2, len(pos)), 2)
    alt = (genome.seq[pos] + rng.integers(1, 4, len(pos))) % 4
    sites = panel.loc[panel["kind"] == "backbone", "snp"].to_numpy()
    copies = rng.integers(0, 2, (2, len(sites)))  # alt alleles on haplotype A, B
    keep = copies.sum(axis=0) > 0
    c_phase = np.where(copies[0] & copies[1], 2, np.where(copies[0], 0, 1))[keep]
    pos = np.concatenate([pos, sites[keep]])
    alt = np.concatenate([alt, common_alt[keep]])
    phase = np.concatenate([phase, c_phase])
    pos, first = np.unique(pos, return_index=True)  # a private SNP on a common site: drop it
    return Germline(pos, genome.seq[pos], alt[first].astype(np.uint8), phase[first])


def haplotypes(genome: Genome, germ: Germline) -> np.ndarray:
    """(2, total) uint8: the reference with the patient's alt alleles on each haplotype."""
    haps = np.stack([genome.seq, genome.seq])
    for h in (0, 1):
        on = (germ.phase == h) | (germ.phase == 2)
        haps[h, germ.pos[on]] = germ.alt[on]
    return haps


def draw_snvs(rng: np.random.Generator, genome: Genome, panel: pd.DataFrame, land: Landscape,
              germ: Germline) -> pd.DataFrame:
    """10-30 somatic SNVs inside targets (70% in gene exons). 80% clonal (ccf 1), the rest
    subclonal (ccf 0.1-0.7). The SNV sits on a haplotype drawn in proportion to its tumour copy
    number there; a clonal SNV is on all copies of that haplotype 40% of the time (it preceded
    the gain, or the doubling), else on one; a subclonal SNV is on one copy. Columns: pos
    (global), hap, ref, alt (codes), gene, ccf, multiplicity, cn_hap, total_cn."""
    n = int(rng.integers(10, 31))
    exons = panel[panel["kind"] == "exon"]
    backbone = panel[panel["kind"] == "backbone"]
    taken = set(germ.pos.tolist())
    rows = []
    while len(rows) < n:
        pool = exons if rng.random() < 0.7 else backbone
        t = pool.iloc[int(rng.integers(len(pool)))]
        pos = int(rng.integers(t.start + 10, t.end - 10))
        cn = land.at([pos])[:, 0]
        if pos in taken or cn.sum() == 0:
            continue
        taken.add(pos)
        hap = int(rng.choice(2, p=cn / cn.sum()))
        clonal = rng.random() < 0.8
        ccf = 1.0 if clonal else float(np.round(rng.uniform(0.1, 0.7), 3))
        mult = int(cn[hap]) if clonal and cn[hap] > 1 and rng.random() < 0.4 else 1
        ref = int(genome.seq[pos])
        alt = (ref + int(rng.integers(1, 4))) % 4
        rows.append((pos, hap, ref, alt, t["name"] if t["name"] != "-" else "",
                     ccf, mult, int(cn[hap]), int(cn.sum())))
    cols = ["pos", "hap", "ref", "alt", "gene", "ccf", "multiplicity", "cn_hap", "total_cn"]
    return pd.DataFrame(rows, columns=cols).sort_values("pos").reset_index(drop=True)


def expected_vaf(snvs: pd.DataFrame, tf: float) -> np.ndarray:
    """Alt allele fraction of each SNV among DNA copies of its locus in a plasma draw of tumour
    fraction ``tf`` (genome equivalents): tf*ccf*m / (tf*CN_t + 2*(1 - tf))."""
    depth = tf * snvs["total_cn"].to_numpy() + 2 * (1 - tf)
    return tf * snvs["ccf"].to_numpy() * snvs["multiplicity"].to_numpy() / depth
