"""The design of a simulated cohort: per patient the HER2 status, tumour copy-number profile,
clones and their prevalence over time, variants (somatic, germline, CHIP), plasma draws with their
tumour fractions, per-sample library parameters, and the clinical outcome.

Everything is drawn from numpy generators seeded by (seed, patient index), so a patient's design
does not depend on how many patients are simulated after it, and no reads are needed to know it.

Mixing model (the one the reads follow and the truth tables state): tumour fraction ``TF`` is the
fraction of genome copies in plasma DNA that are tumour-derived, counted per diploid genome
equivalent; at a locus with tumour copy number ``CN`` a fragment covering it is tumour-derived
with probability ``TF*CN / (TF*CN + 2*(1-TF))``. A somatic SNV carried on ``m`` copies by a clone
present in a fraction ``CCF`` of tumour cells then has expected VAF
``TF*CCF*m / (TF*CN + 2*(1-TF))``; germline and CHIP alleles add their normal-DNA share."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .genome import AMPLICON_END, AMPLICON_START, Genome, target_free_positions
from ..units import DAYS_PER_MONTH

# The first eight patients of every cohort follow the demo plan of the brief: a mix of HER2
# statuses and baseline tumour fractions from below 3% to above 30%.
DEMO_PLAN: list[tuple[str, float]] = [
    ("amplified", 0.35), ("amplified", 0.02), ("mutant", 0.10), ("amplified", 0.20),
    ("mutant", 0.05), ("amplified", 0.08), ("amplified", 0.015), ("mutant", 0.30),
]
DILUTION_TFS = (0.0, 0.01, 0.02, 0.05, 0.10, 0.20, 0.40)
TRUNCAL_TP53 = ("R175H", "R273H", "R248Q")
ERBB2_MUTANT = ("L755S", "V777L", "S310F", "L869R")
RESISTANCE = {
    "amplified": [("ESR1", "D538G"), ("ESR1", "Y537S"), ("PIK3CA", "H1047R"), ("ERBB2", "L755S"),
                  ("MTOR", "S2215Y"), ("TSC1", "R509*")],
    "mutant": [("ESR1", "D538G"), ("PIK3CA", "H1047R"), ("MTOR", "S2215Y"), ("TSC1", "R509*"),
               ("ESR1", "Y537S")],
}
CHIP_HOTSPOTS = [("DNMT3A", "R882H"), ("TET2", "R1465*"), ("ASXL1", "R693*")]
# Outcome model: Weibull time to treatment failure with log-hazard = BETA * log(burden)
WEIBULL_SHAPE = 1.3
WEIBULL_SCALE_MONTHS = 4.0
BURDEN_BETA = 1.0
FOLLOW_UP_MONTHS = (14.0, 48.0)
NORMAL_READ_SCALE = 0.7


@dataclass
class SampleDesign:
    sample_id: str
    patient_id: str
    sample_type: str  # plasma | normal
    timepoint_days: int | None
    tumour_fraction: float
    index: int  # position within the patient (normal = 0), for seeding
    read_pairs: int = 0
    duplicate_rate: float = 0.0
    on_target_fraction: float = 0.5
    gc_centre: float = 0.46
    gc_width: float = 0.18


@dataclass
class CloneDesign:
    clone_id: str
    parent: str  # "" for the trunk
    role: str  # truncal | subclonal | resistance
    label: str
    prevalence: dict[str, float] = field(default_factory=dict)  # plasma sample_id -> CCF


@dataclass
class PatientDesign:
    patient_id: str
    index: int
    her2_status: str
    segments: pd.DataFrame  # chrom, start, end, tumour_copy_number, major_cn, minor_cn
    variants: pd.DataFrame  # see _variant_frame
    clones: list[CloneDesign]
    samples: list[SampleDesign]
    clinical: dict
    ploidy: float
    erbb2_cn: int

    @property
    def plasma(self) -> list[SampleDesign]:
        return [s for s in self.samples if s.sample_type == "plasma"]

    @property
    def baseline(self) -> SampleDesign:
        return self.plasma[0]


def expected_vaf(tf, ccf, m, cn, normal_alt_copies) -> np.ndarray:
    """Expected VAF of an allele in plasma: tumour cells (fraction ``tf`` of genome equivalents)
    carry it on ``m`` of ``cn`` copies in a fraction ``ccf`` of them; normal DNA carries
    ``normal_alt_copies`` of 2 copies (germline 1 or 2; CHIP: the fraction of blood cells with a
    heterozygous mutation). Array-friendly."""
    tf = np.asarray(tf, dtype=float)
    num = tf * np.asarray(ccf, dtype=float) * np.asarray(m, dtype=float) + (1 - tf) * np.asarray(
        normal_alt_copies, dtype=float)
    den = tf * np.asarray(cn, dtype=float) + 2 * (1 - tf)
    return num / den


def her2_burden(plasma_cn: float, erbb2_mutant_vaf: float) -> float:
    """The project's primary HER2 metric: ERBB2-altered copies per diploid genome equivalent in
    plasma, ``max(PCN - 2, 0) + 2 * VAF`` (amplified: TF*(CN-2); mutant: ~mutant copies)."""
    return max(plasma_cn - 2.0, 0.0) + 2.0 * erbb2_mutant_vaf


# ----------------------------------------------------------------------------- copy number
class _Profile:
    """A tumour copy-number profile built by painting events over a diploid genome."""

    def __init__(self, genome: Genome):
        self.genome = genome
        self.segs = {c: [(0, genome.lengths[c], 2, 1, 1)] for c in genome.names}

    def paint(self, chrom: str, start: int, end: int, major: int, minor: int) -> None:
        out = []
        for s, e, cn, ma, mi in self.segs[chrom]:
            if e <= start or s >= end:
                out.append((s, e, cn, ma, mi))
                continue
            if s < start:
                out.append((s, start, cn, ma, mi))
            out.append((max(s, start), min(e, end), major + minor, major, minor))
            if e > end:
                out.append((end, e, cn, ma, mi))
        merged: list[tuple] = []
        for seg in out:
            if merged and merged[-1][2:] == seg[2:] and merged[-1][1] == seg[0]:
                merged[-1] = (merged[-1][0], seg[1], *seg[2:])
            else:
                merged.append(seg)
        self.segs[chrom] = merged

    def altered(self) -> int:
        """Bases with a copy number other than 2."""
        return sum(e - s for segs in self.segs.values() for s, e, cn, _, _ in segs if cn != 2)

    def frame(self) -> pd.DataFrame:
        rows = [(c, s, e, cn, ma, mi) for c in self.genome.names
                for s, e, cn, ma, mi in self.segs[c]]
        return pd.DataFrame(rows, columns=["chrom", "start", "end", "tumour_copy_number",
                                           "major_cn", "minor_cn"])


def _gain(rng: np.random.Generator) -> tuple[int, int]:
    return (2, 1) if rng.random() < 0.65 else ((3, 1) if rng.random() < 0.6 else (2, 2))


def design_profile(genome: Genome, rng: np.random.Generator, her2_status: str
                   ) -> tuple[pd.DataFrame, int]:
    """Breast-cancer-like arm-level gains and losses plus, for amplified tumours, a focal ERBB2
    amplicon (CN 8-25). Returns (segments, ERBB2 tumour copy number)."""
    prof = _Profile(genome)
    L, C = genome.lengths, genome.centromeres
    altered = 0
    for _ in range(20):
        if rng.random() < 0.75:
            prof.paint("chr1", C["chr1"], L["chr1"], *_gain(rng))  # 1q gain
        if rng.random() < 0.5:
            prof.paint("chr8", 0, C["chr8"], 1, 0)  # 8p loss
        if rng.random() < 0.5:
            prof.paint("chr8", C["chr8"], L["chr8"], *_gain(rng))  # 8q gain (MYC)
        if rng.random() < 0.6:
            prof.paint("chr16", C["chr16"], L["chr16"], 1, 0)  # 16q loss
        if rng.random() < 0.5:
            prof.paint("chr17", 0, C["chr17"], *((1, 0) if rng.random() < 0.75 else (2, 0)))
        if her2_status == "amplified" and rng.random() < 0.4:
            prof.paint("chr17", C["chr17"], L["chr17"], 2, 1)  # 17q gain
        if rng.random() < 0.4:
            prof.paint("chr20", C["chr20"], L["chr20"], *_gain(rng))  # 20q gain
        if rng.random() < 0.2:
            prof.paint("chr11", 1_050_000, 1_200_000, 5, 1)  # CCND1 focal gain
        if rng.random() < 0.3:
            prof.paint("chr6", C["chr6"] + 300_000, L["chr6"], 1, 0)  # distal 6q loss
        if rng.random() < 0.25:
            prof.paint("chr4", 0, L["chr4"], 1, 0)  # chr4 loss
        if rng.random() < 0.3:
            prof.paint("chr9", 0, C["chr9"], 1, 0)  # 9p loss
        if rng.random() < 0.3:
            prof.paint("chr3", C["chr3"], L["chr3"], *_gain(rng))  # 3q gain
        altered = prof.altered()
        if altered >= 3_000_000:
            break
        prof = _Profile(genome)
    erbb2_cn = 2
    if her2_status == "amplified":
        erbb2_cn = int(rng.integers(8, 26))
        start = int(rng.integers(*AMPLICON_START) // 1000 * 1000)
        end = int(rng.integers(*AMPLICON_END) // 1000 * 1000)
        prof.paint("chr17", start, end, erbb2_cn - 1, 1)
    return prof.frame(), erbb2_cn


class SegmentIndex:
    """Fast lookup of the tumour (CN, major, minor) at a position of a segments table."""

    def __init__(self, segments: pd.DataFrame):
        self.by_chrom = {}
        chrom = segments["chrom"].to_numpy()
        cols = [segments[c].to_numpy() for c in ("end", "tumour_copy_number", "major_cn",
                                                  "minor_cn")]
        bounds = np.flatnonzero(np.r_[True, chrom[1:] != chrom[:-1], True])
        for a, b in zip(bounds[:-1], bounds[1:]):
            self.by_chrom[chrom[a]] = tuple(c[a:b] for c in cols)

    def __call__(self, chrom: str, pos0: int) -> tuple[int, int, int]:
        ends, cn, major, minor = self.by_chrom[chrom]
        i = int(np.searchsorted(ends, pos0, side="right"))
        return int(cn[i]), int(major[i]), int(minor[i])


def segment_lookup(segments: pd.DataFrame, chrom: str, pos0: int) -> tuple[int, int, int]:
    """(CN, major, minor) of the tumour at 0-based ``pos0``."""
    return SegmentIndex(segments)(chrom, pos0)


def ploidy_of(segments: pd.DataFrame) -> float:
    width = (segments["end"] - segments["start"]).to_numpy(dtype=float)
    return float((width * segments["tumour_copy_number"]).sum() / width.sum())


# ----------------------------------------------------------------------------- variants
VARIANT_COLUMNS = ["chrom", "pos", "ref", "alt", "kind", "gene", "protein_change", "category",
                   "clone_id", "tumour_copy_number", "major_cn", "minor_cn", "multiplicity",
                   "normal_alt_copies"]
_TEXT_COLUMNS = {"chrom", "ref", "alt", "kind", "gene", "protein_change", "category", "clone_id"}


def _hotspot(genome: Genome, gene: str, change: str) -> tuple[str, int, str, str]:
    return genome.hotspot_index[(gene, change)]


def _indel(genome: Genome, rng: np.random.Generator, chrom: str, pos1: int
           ) -> tuple[int, str, str] | None:
    """A left-normalised 1-3 bp deletion or insertion anchored at ``pos1`` (VCF style)."""
    seq = genome.contig_seq(chrom)
    a = pos1 - 1
    k = int(rng.integers(1, 4))
    anchor = chr(seq[a])
    if rng.random() < 0.6:
        deleted = seq[a + 1:a + 1 + k].tobytes().decode()
        if seq[a] == seq[a + k]:  # would shift left: not normalised
            return None
        return pos1, anchor + deleted, anchor
    inserted = "".join(rng.choice(list("ACGT"), size=k))
    if inserted[-1] == anchor or inserted[0] == chr(seq[a + 1]):
        return None
    return pos1, anchor, anchor + inserted


def design_variants(genome: Genome, rng: np.random.Generator, her2_status: str,
                    segments: pd.DataFrame, dilution: bool
                    ) -> tuple[pd.DataFrame, list[CloneDesign]]:
    """Somatic SNVs and indels by clone, germline SNPs and CHIP variants for one patient."""
    exclude: set[tuple[str, int]] = set(genome.reserved_positions)
    rows: list[dict] = []
    lookup = SegmentIndex(segments)

    def add(chrom, pos, ref, alt, gene, change, category, clone_id, multiplicity="auto",
            normal_alt=0.0, kind="snv"):
        cn, major, minor = lookup(chrom, pos - 1)
        if multiplicity == "auto":
            multiplicity = major if (clone_id == "C1" and major > 1 and rng.random() < 0.5) else 1
        rows.append(dict(chrom=chrom, pos=pos, ref=ref, alt=alt, kind=kind, gene=gene,
                         protein_change=change, category=category, clone_id=clone_id,
                         tumour_copy_number=cn, major_cn=major, minor_cn=minor,
                         multiplicity=multiplicity, normal_alt_copies=normal_alt))

    def passenger(clone_id):
        chrom, pos, gene = target_free_positions(genome, rng, 1, exclude)[0]
        ref = genome.base(chrom, pos)
        alt = {"A": "G", "G": "A", "C": "T", "T": "C"}[ref] if rng.random() < 0.6 else str(
            rng.choice([b for b in "ACGT" if b != ref]))
        add(chrom, pos, ref, alt, gene, "", "somatic", clone_id)

    clones = [CloneDesign("C1", "", "truncal", "")]
    tp53 = str(rng.choice(TRUNCAL_TP53))
    chrom, pos, ref, alt = _hotspot(genome, "TP53", tp53)
    add(chrom, pos, ref, alt, "TP53", tp53, "somatic", "C1")
    clones[0].label = f"TP53 {tp53}"
    drivers_used = {("TP53", tp53)}
    if her2_status == "mutant":
        change = str(rng.choice(ERBB2_MUTANT))
        chrom, pos, ref, alt = _hotspot(genome, "ERBB2", change)
        add(chrom, pos, ref, alt, "ERBB2", change, "somatic", "C1", multiplicity=1)
        clones[0].label = f"ERBB2 {change}"
        drivers_used.add(("ERBB2", change))
    if rng.random() < 0.4:
        change = str(rng.choice(["E545K", "E542K"]))
        chrom, pos, ref, alt = _hotspot(genome, "PIK3CA", change)
        add(chrom, pos, ref, alt, "PIK3CA", change, "somatic", "C1")
        drivers_used.add(("PIK3CA", change))
    n_snv_target = int(rng.integers(6, 13))
    passenger("C1")

    # subclones: C2 under the trunk, sometimes C3 under the trunk or nested under C2
    clones.append(CloneDesign("C2", "C1", "subclonal", ""))
    if rng.random() < 0.3 and ("PIK3CA", "E545K") not in drivers_used:
        chrom, pos, ref, alt = _hotspot(genome, "AKT1", "E17K")
        add(chrom, pos, ref, alt, "AKT1", "E17K", "somatic", "C2", multiplicity=1)
        drivers_used.add(("AKT1", "E17K"))
    for _ in range(int(rng.integers(1, 3))):
        passenger("C2")
    if rng.random() < 0.5:
        clones.append(CloneDesign("C3", "C1" if rng.random() < 0.5 else "C2", "subclonal", ""))
        for _ in range(int(rng.integers(1, 3))):
            passenger("C3")
    if not dilution:
        rid = f"C{len(clones) + 1}"
        options = [d for d in RESISTANCE[her2_status] if d not in drivers_used]
        gene, change = options[int(rng.integers(0, len(options)))]
        chrom, pos, ref, alt = _hotspot(genome, gene, change)
        add(chrom, pos, ref, alt, gene, change, "somatic", rid, multiplicity=1)
        clones.append(CloneDesign(rid, "C1", "resistance", f"{gene} {change}"))
    # passengers until the patient has its 6-12 somatic SNVs
    weights = {c.clone_id: (0.4 if c.role == "truncal" else 0.15 if c.role == "resistance"
                            else 0.45) for c in clones}
    ids = list(weights)
    w = np.asarray([weights[i] for i in ids])
    while sum(r["category"] == "somatic" for r in rows) < n_snv_target:
        passenger(ids[int(rng.choice(len(ids), p=w / w.sum()))])

    # 1-2 short indels, at least 300 bp from every other variant of the patient
    n_indels = int(rng.integers(1, 3))
    placed = 0
    while placed < n_indels:
        chrom, pos, gene = target_free_positions(genome, rng, 1, set(exclude))[0]
        if any(r["chrom"] == chrom and abs(r["pos"] - pos) < 300 for r in rows):
            continue
        made = _indel(genome, rng, chrom, pos)
        if made is None:
            continue
        clone_id = "C1" if placed == 0 else str(rng.choice([c.clone_id for c in clones
                                                             if c.role != "resistance"]))
        p1, ref, alt = made
        add(chrom, p1, ref, alt, gene, "", "somatic", clone_id, multiplicity=1,
            kind="del" if len(ref) > len(alt) else "ins")
        exclude.update((chrom, pos + d) for d in range(-300, 301))
        placed += 1

    for clone in clones:
        if not clone.label:
            mine = [r for r in rows if r["clone_id"] == clone.clone_id]
            r = mine[0]
            where = f"{r['chrom']}:{r['pos']}{r['ref']}>{r['alt']}"
            clone.label = (f"{r['gene']} {r['protein_change']}" if r["protein_change"]
                           else f"{r['gene'] or r['chrom']} {where}")

    # germline SNPs from the population pool: heterozygous (0.5) or homozygous (1.0)
    n_germ = int(rng.integers(20, 41))
    indels = [(r["chrom"], r["pos"]) for r in rows if r["kind"] != "snv"]
    pool = genome.snp_pool_records
    for k in np.sort(rng.choice(len(pool), size=n_germ, replace=False)):
        chrom, pos, ref, alt, gene = pool[int(k)]
        if any(c == chrom and abs(p - pos) < 300 for c, p in indels):
            continue
        hom = rng.random() < 0.3
        cn, major, minor = lookup(chrom, pos - 1)
        # tumour alt copies: all copies when homozygous; else the major or the minor allele
        tumour_alt = cn if hom else (major if rng.random() < 0.5 else minor)
        add(chrom, pos, ref, alt, gene, "", "germline", "", multiplicity=tumour_alt,
            normal_alt=2.0 if hom else 1.0)

    # CHIP: 0-2 variants in DNMT3A/TET2/ASXL1 at VAF 1-5% in blood
    n_chip = int(rng.choice([0, 1, 1, 2]))
    for k in rng.choice(len(CHIP_HOTSPOTS), size=n_chip, replace=False):
        gene, change = CHIP_HOTSPOTS[int(k)]
        chrom, pos, ref, alt = _hotspot(genome, gene, change)
        if any(c == chrom and abs(p - pos) < 300 for c, p in indels):
            continue  # reads carrying the indel are rebuilt without other alleles
        vaf_blood = float(np.round(rng.uniform(0.01, 0.05), 4))
        add(chrom, pos, ref, alt, gene, change, "chip", "", multiplicity=0,
            normal_alt=2 * vaf_blood)

    order = {n: i for i, n in enumerate(genome.names)}
    rows.sort(key=lambda r: (order[r["chrom"]], r["pos"]))
    frame = pd.DataFrame(rows, columns=VARIANT_COLUMNS)
    return frame, clones


# ----------------------------------------------------------------------------- time courses
def _response(ttf_months: float, event: int, rng: np.random.Generator) -> str:
    score = math.log(ttf_months) + rng.normal(0, 0.3)
    if score < math.log(2.5):
        return "PD"
    if score < math.log(6.0):
        return "SD"
    if score < math.log(18.0) or rng.random() < 0.6:
        return "PR"
    return "CR"


# on-treatment tumour fraction as a multiple of baseline, by best response
NADIR = {"CR": (0.02, 0.08), "PR": (0.08, 0.35), "SD": (0.4, 0.9), "PD": (1.0, 1.5),
         "NE": (0.5, 1.0)}


def _draw_days(rng: np.random.Generator, draws: int, end_days: int) -> list[int]:
    """Baseline at day -14..0, the first on-treatment draw at day 28-63 (earlier when the last
    draw comes early), further draws spread evenly until the last draw at ``end_days``."""
    days = [int(rng.integers(-14, 1))]
    if draws == 1:
        return days
    if draws >= 3:
        first = int(min(rng.integers(28, 64), max(7, int(0.6 * end_days))))
        n_mid = draws - 2
        for k in range(n_mid):
            day = int(round(first + k * (end_days - first) / n_mid))
            days.append(max(day, days[-1] + 1))
    days.append(max(end_days, days[-1] + 1))
    return days


def _outcome(rng: np.random.Generator, burden: float) -> tuple[float, int, float, int]:
    """TTF from a Weibull with log-hazard BURDEN_BETA * log(burden); independent uniform
    follow-up censoring; OS = TTF + a further survival time, censored at the same follow-up."""
    b = max(burden, 1e-3)
    e = rng.exponential()
    ttf = WEIBULL_SCALE_MONTHS * (e / b ** BURDEN_BETA) ** (1 / WEIBULL_SHAPE)
    # a floor so that the on-treatment draw (>= day 7) comes before failure
    ttf = max(ttf, 0.75)
    follow = rng.uniform(*FOLLOW_UP_MONTHS)
    extra = rng.exponential(10.0)
    if ttf <= follow:
        ttf_event = 1
        os_months, os_event = (ttf + extra, 1) if ttf + extra <= follow else (follow, 0)
    else:
        ttf, ttf_event, os_months, os_event = follow, 0, follow, 0
    return round(ttf, 2), ttf_event, round(max(os_months, ttf), 2), os_event


def _library(rng: np.random.Generator, s: SampleDesign, read_pairs: int) -> None:
    """Per-sample library parameters: depth, PCR duplicates, capture and GC bias."""
    # normals: fewer reads, still enough off-target fragments per 100 kb bin for a CNV reference
    scale = NORMAL_READ_SCALE if s.sample_type == "normal" else 1.0
    s.read_pairs = int(round(read_pairs * scale * rng.uniform(0.85, 1.15)))
    s.duplicate_rate = float(np.round(rng.uniform(0.05, 0.25), 4))
    s.on_target_fraction = float(np.round(rng.uniform(0.45, 0.6), 4))
    s.gc_centre = float(np.round(rng.uniform(0.42, 0.50), 4))
    s.gc_width = float(np.round(rng.uniform(0.12, 0.25), 4))


def _id_width(n: int) -> int:
    return max(2, len(str(n)))


def design_patient(genome: Genome, seed: int, index: int, n_patients: int, draws: int,
                   read_pairs: int) -> PatientDesign:
    """One patient of a serial cohort (see the module docstring for the model)."""
    rng = np.random.default_rng([seed, 0x9A7, index])
    pid = f"P{index + 1:0{_id_width(n_patients)}d}"
    if index < len(DEMO_PLAN):
        status, tf0 = DEMO_PLAN[index]
        tf0 = float(np.round(tf0 * rng.uniform(0.93, 1.07), 4))
    else:
        status = "amplified" if rng.random() < 0.6 else "mutant"
        tf0 = float(np.round(math.exp(rng.uniform(math.log(0.01), math.log(0.45))), 4))
    segments, erbb2_cn = design_profile(genome, rng, status)
    variants, clones = design_variants(genome, rng, status, segments, dilution=False)

    # baseline burden decides the hazard
    pcn0 = 2 * (1 - tf0) + erbb2_cn * tf0
    erbb2_vaf0 = _erbb2_vaf(variants, tf0, {c.clone_id: 1.0 if c.role == "truncal" else 0.0
                                            for c in clones})
    burden0 = her2_burden(pcn0, erbb2_vaf0)
    ttf, ttf_event, os_m, os_event = _outcome(rng, burden0)
    response = _response(ttf, ttf_event, rng)
    end_days = int(round(ttf * DAYS_PER_MONTH))
    days = _draw_days(rng, draws, end_days)

    # tumour fraction: baseline, nadir on treatment, rise at progression (or stays low)
    nadir = tf0 * rng.uniform(*NADIR[response])
    final = min(0.7, tf0 * rng.uniform(0.8, 1.8)) if ttf_event else nadir * rng.uniform(0.5, 1.3)
    tfs = [tf0]
    for k in range(1, len(days)):
        if k == len(days) - 1 and len(days) > 1:
            tfs.append(final)
        else:
            frac = (days[k] - days[1]) / max(1, days[-1] - days[1])
            tfs.append(math.exp(math.log(nadir) + frac * (math.log(final) - math.log(nadir))))
    tfs = [float(np.round(t, 5)) for t in tfs]

    samples = [SampleDesign(f"{pid}_N", pid, "normal", None, 0.0, 0)]
    for k, (day, tf) in enumerate(zip(days, tfs)):
        samples.append(SampleDesign(f"{pid}_D{k + 1}", pid, "plasma", day, tf, k + 1))
    for s in samples:
        _library(rng, s, read_pairs)
    _clone_courses(rng, clones, [s for s in samples if s.sample_type == "plasma"], ttf_event)

    clinical = dict(patient_id=pid, ttf_months=ttf, ttf_event=ttf_event, os_months=os_m,
                    os_event=os_event, best_response=response, her2_status=status,
                    cancer_type="breast" if rng.random() < 0.85 else str(
                        rng.choice(["endometrial", "ovarian", "cervical"])),
                    age=int(rng.integers(32, 81)))
    return PatientDesign(pid, index, status, segments, variants, clones, samples, clinical,
                         ploidy_of(segments), erbb2_cn)


def _erbb2_vaf(variants: pd.DataFrame, tf: float, ccf: dict[str, float]) -> float:
    """Largest expected VAF among the somatic ERBB2 variants at this tumour fraction."""
    rows = variants[(variants["gene"] == "ERBB2") & (variants["category"] == "somatic")]
    if rows.empty:
        return 0.0
    vafs = expected_vaf(tf, rows["clone_id"].map(ccf).fillna(0.0), rows["multiplicity"],
                        rows["tumour_copy_number"], rows["normal_alt_copies"])
    return float(np.max(vafs))


def _clone_courses(rng: np.random.Generator, clones: list[CloneDesign],
                   plasma: list[SampleDesign], progressed: int | bool) -> None:
    """Prevalence (CCF) of each clone at each draw, obeying the sum rule: the children of a clone
    never add up to more than the clone itself."""
    days = np.asarray([s.timepoint_days for s in plasma], dtype=float)
    span = max(1.0, days[-1] - days[0])
    frac = (days - days[0]) / span
    courses: dict[str, np.ndarray] = {}
    for clone in clones:
        if clone.role == "truncal":
            courses[clone.clone_id] = np.ones(len(plasma))
        elif clone.role == "subclonal":
            start = rng.uniform(0.25, 0.7)
            end = start * (rng.uniform(0.15, 0.6) if rng.random() < 0.5 else rng.uniform(1.0, 1.5))
            courses[clone.clone_id] = start + frac * (end - start)
        else:  # resistance: exactly 0 at baseline, emerging towards the last draw
            final = rng.uniform(0.35, 0.8) if progressed else rng.uniform(0.05, 0.2)
            course = final * frac ** 2
            course[0] = 0.0
            courses[clone.clone_id] = course
    by_id = {c.clone_id: c for c in clones}
    # nested clones first, then the trunk's children (resistance kept, others scaled down)
    for clone in clones:
        if clone.parent and clone.parent != "C1":
            courses[clone.clone_id] = np.minimum(courses[clone.clone_id],
                                                 0.9 * courses[clone.parent])
    for parent in ["C1"] + [c.clone_id for c in clones if c.clone_id != "C1"]:
        kids = [c.clone_id for c in clones if c.parent == parent]
        if not kids:
            continue
        fixed = sum(courses[k] for k in kids if by_id[k].role == "resistance")
        free = [k for k in kids if by_id[k].role != "resistance"]
        free_sum = sum((courses[k] for k in free), np.zeros(len(plasma)))
        room = np.maximum(0.98 * courses[parent] - fixed, 0.0)
        scale = np.where(free_sum > room, room / np.maximum(free_sum, 1e-12), 1.0)
        for k in free:
            courses[k] = courses[k] * scale
            # a clone's own children follow it down
            for g in [c.clone_id for c in clones if c.parent == k]:
                courses[g] = np.minimum(courses[g], courses[k])
    for clone in clones:
        clone.prevalence = {s.sample_id: float(np.floor(v * 1e4) / 1e4)
                            for s, v in zip(plasma, courses[clone.clone_id])}


def design_cohort(genome: Genome, seed: int, n_patients: int, draws: int,
                  read_pairs: int) -> list[PatientDesign]:
    return [design_patient(genome, seed, i, n_patients, draws, read_pairs)
            for i in range(n_patients)]


def design_dilution(genome: Genome, seed: int, read_pairs: int,
                    healthy_donors: int = 0) -> list[PatientDesign]:
    """Two tumours (one HER2-amplified, one HER2-mutant), each diluted into its patient's normal
    plasma DNA at the tumour fractions in DILUTION_TFS (one plasma sample each, timepoints 0, 1,
    ...), plus each patient's buffy-coat normal. Clone prevalences are the same in every sample,
    so VAFs and copy-number signals scale with TF alone. ``healthy_donors``: that many healthy
    donors after the tumours (``design_healthy_donor``); the tumours do not depend on it."""
    patients = []
    for index, status in enumerate(("amplified", "mutant")):
        rng = np.random.default_rng([seed, 0xD11, index])
        pid = f"D{index + 1:02d}"
        segments, erbb2_cn = design_profile(genome, rng, status)
        if status == "amplified":
            while erbb2_cn < 10:
                segments, erbb2_cn = design_profile(genome, rng, status)
        variants, clones = design_variants(genome, rng, status, segments, dilution=True)
        samples = [SampleDesign(f"{pid}_N", pid, "normal", None, 0.0, 0)]
        for k, tf in enumerate(DILUTION_TFS):
            samples.append(SampleDesign(f"{pid}_TF{int(round(tf * 1000)):03d}", pid, "plasma", k,
                                        tf, k + 1))
        for s in samples:
            _library(rng, s, read_pairs)
        prevalence = {c.clone_id: (1.0 if c.role == "truncal" else float(
            np.round(rng.uniform(0.3, 0.6), 4))) for c in clones}
        for c in clones:
            if c.parent and c.parent != "C1":
                prevalence[c.clone_id] = min(prevalence[c.clone_id], 0.9 * prevalence[c.parent])
        kids = [c.clone_id for c in clones if c.parent == "C1"]
        total = sum(prevalence[k] for k in kids)
        if total > 0.98:
            for k in kids:
                prevalence[k] = float(np.floor(prevalence[k] * 0.98 / total * 1e4) / 1e4)
                for g in [c.clone_id for c in clones if c.parent == k]:
                    prevalence[g] = min(prevalence[g], prevalence[k])
        for c in clones:
            c.prevalence = {s.sample_id: prevalence[c.clone_id] for s in samples
                            if s.sample_type == "plasma"}
        tf_ref = 0.1
        burden = her2_burden(2 * (1 - tf_ref) + erbb2_cn * tf_ref,
                             _erbb2_vaf(variants, tf_ref, prevalence))
        ttf, ttf_event, os_m, os_event = _outcome(rng, burden)
        clinical = dict(patient_id=pid, ttf_months=ttf, ttf_event=ttf_event, os_months=os_m,
                        os_event=os_event, best_response=_response(ttf, ttf_event, rng),
                        her2_status=status, cancer_type="breast", age=int(rng.integers(32, 81)))
        patients.append(PatientDesign(pid, index, status, segments, variants, clones, samples,
                                      clinical, ploidy_of(segments), erbb2_cn))
    for j in range(healthy_donors):
        patients.append(design_healthy_donor(genome, seed, j, read_pairs))
    return patients


def design_healthy_donor(genome: Genome, seed: int, index: int, read_pairs: int) -> PatientDesign:
    """A healthy donor ``H<nn>``: one plasma draw ``H<nn>_P`` of normal cfDNA (TF 0, no somatic
    or germline variants, diploid), no buffy-coat normal and no clinical row. The dilution
    series lists these draws as its panel of normals (``cnv.healthy_plasma``), as ichorCNA
    builds its panel from healthy-donor plasma."""
    rng = np.random.default_rng([seed, 0x4EA, index])
    pid = f"H{index + 1:02d}"
    sample = SampleDesign(f"{pid}_P", pid, "plasma", 0, 0.0, 1)
    _library(rng, sample, read_pairs)
    segments = _Profile(genome).frame()
    variants = pd.DataFrame({c: pd.Series(dtype=object if c in _TEXT_COLUMNS else float)
                             for c in VARIANT_COLUMNS})
    return PatientDesign(pid, 100 + index, "healthy", segments, variants, [], [sample], {},
                         2.0, 2)
