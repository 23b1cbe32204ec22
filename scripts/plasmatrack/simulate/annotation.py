"""The simulated genome's transcript model (``annotation.gff3``) and the protein-change truth.

Each simulated gene gets one canonical protein-coding transcript over its exons: a 30-bp 5' UTR
at the start of its 5' exon, then the CDS to the last whole codon that leaves at least 30 bp of
3' UTR in the 3' exon. The GFF3 is Ensembl-style, as ``bcftools csq`` reads it (gene / mRNA /
exon / CDS with phase / five_prime_UTR / three_prime_UTR, ``Parent``, ``biotype``, IDs with
``gene:`` and ``transcript:`` prefixes).

The truth consequence and protein change of each variant are worked out here by translating the
reference and the mutated coding sequence, written independently of the pipeline's
``variants.hgvs`` (a search over every placement of an in-frame indel, where the pipeline matches
prefixes and suffixes), so that the accuracy test compares two implementations. The genome is
random sequence, so a CDS has internal stop codons; both sides translate through them, and a
change of one is a lost stop. The hotspot list's names (``E545K``) are labels of the demo, not
protein changes of this model."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from ..io import atomic_open
from .genome import Genome

UTR5 = 30
UTR3_MIN = 30
_CODE = dict(zip(
    [a + b + c for a in "TCAG" for b in "TCAG" for c in "TCAG"],
    "FFLLSSSSYY**CC*WLLLLPPPPHHQQRRRRIIIMTTTTNNKKSSRRVVVVAAAADDEEGGGG"))
_PAIR = {"A": "T", "C": "G", "G": "C", "T": "A"}


def _rc(seq: str) -> str:
    return "".join(_PAIR[b] for b in reversed(seq))


def _protein(seq: str) -> str:
    return "".join(_CODE[seq[i:i + 3]] for i in range(0, len(seq) - len(seq) % 3, 3))


@dataclass
class GeneModel:
    """One gene's transcript: exons and CDS pieces in transcription order, 0-based half-open."""

    gene: str
    chrom: str
    strand: str
    exons: list[tuple[int, int]]
    cds: list[tuple[int, int]]
    utr5: list[tuple[int, int]]
    utr3: list[tuple[int, int]]

    def positions(self, pieces: list[tuple[int, int]]) -> list[int]:
        """Genomic positions of the pieces' bases in transcription order."""
        if self.strand == "+":
            return [p for s, e in pieces for p in range(s, e)]
        return [p for s, e in pieces for p in range(e - 1, s - 1, -1)]


def _split(exons: list[tuple[int, int]], strand: str, first: int, length: int
           ) -> list[tuple[int, int]]:
    """The genomic pieces of transcript bases [first, first + length) (transcription order)."""
    pieces, offset = [], 0
    for s, e in exons:
        lo, hi = max(first, offset), min(first + length, offset + e - s)
        if lo < hi:
            a, b = lo - offset, hi - offset
            pieces.append((s + a, s + b) if strand == "+" else (e - b, e - a))
        offset += e - s
    return pieces


def gene_models(genome: Genome) -> list[GeneModel]:
    """The transcript of every simulated gene."""
    models = []
    for gene in genome.genes.itertuples(index=False):
        ex = genome.exons[genome.exons["gene"] == gene.name].sort_values("start")
        exons = [(int(s), int(e)) for s, e in zip(ex["start"], ex["end"])]
        if gene.strand == "-":
            exons = exons[::-1]
        total = sum(e - s for s, e in exons)
        cds_length = (total - UTR5 - UTR3_MIN) // 3 * 3
        models.append(GeneModel(
            gene=gene.name, chrom=gene.chrom, strand=gene.strand, exons=exons,
            cds=_split(exons, gene.strand, UTR5, cds_length),
            utr5=_split(exons, gene.strand, 0, UTR5),
            utr3=_split(exons, gene.strand, UTR5 + cds_length, total - UTR5 - cds_length)))
    return models


def _gff_line(model: GeneModel, kind: str, start: int, end: int, attrs: str,
              phase: str = ".") -> str:
    return "\t".join([model.chrom, "plasmatrack", kind, str(start + 1), str(end), ".",
                      model.strand, phase, attrs])


def _gene_lines(model: GeneModel, number: int) -> list[str]:
    gid, tid = f"PTG{number:05d}", f"PTT{number:05d}"
    lo, hi = min(s for s, _ in model.exons), max(e for _, e in model.exons)
    lines = [
        _gff_line(model, "gene", lo, hi, f"ID=gene:{gid};Name={model.gene};"
                  f"biotype=protein_coding;gene_id={gid}"),
        _gff_line(model, "mRNA", lo, hi, f"ID=transcript:{tid};Parent=gene:{gid};"
                  f"Name={model.gene}-201;biotype=protein_coding;tag=Ensembl_canonical;"
                  f"transcript_id={tid}")]
    lines += [_gff_line(model, "exon", s, e, f"Parent=transcript:{tid}") for s, e in model.exons]
    done = 0
    for s, e in model.cds:
        lines.append(_gff_line(model, "CDS", s, e, f"ID=CDS:{tid};Parent=transcript:{tid}",
                               str((3 - done % 3) % 3)))
        done += e - s
    lines += [_gff_line(model, "five_prime_UTR", s, e, f"Parent=transcript:{tid}")
              for s, e in model.utr5]
    lines += [_gff_line(model, "three_prime_UTR", s, e, f"Parent=transcript:{tid}")
              for s, e in model.utr3]
    return lines


def write_gff3(genome: Genome, path) -> None:
    """``annotation.gff3``: the transcript models, features sorted by position per contig."""
    order = {n: i for i, n in enumerate(genome.names)}
    models = sorted(gene_models(genome), key=lambda m: (order[m.chrom], min(m.exons)[0]))
    with atomic_open(path) as handle:
        handle.write("##gff-version 3\n")
        for name in genome.names:
            handle.write(f"##sequence-region {name} 1 {genome.lengths[name]}\n")
        for number, model in enumerate(models, start=1):
            handle.write("\n".join(_gene_lines(model, number)) + "\n")


def _placements(ref_protein: str, alt_protein: str) -> tuple[str, int, str]:
    """In-frame change as (kind, 0-based start, residues): the most 3' deletion or insertion
    that turns ``ref_protein`` into ``alt_protein``, else the smallest substituted block."""
    d = len(alt_protein) - len(ref_protein)
    hits = []
    for i in range(len(ref_protein) + 1):
        if d < 0 and ref_protein[:i] + ref_protein[i - d:] == alt_protein:
            hits.append(("del", i, ref_protein[i:i - d]))
        if d > 0 and ref_protein[:i] + alt_protein[i:i + d] + ref_protein[i:] == alt_protein:
            hits.append(("ins", i, alt_protein[i:i + d]))
    if hits:
        return hits[-1]
    first = next(i for i in range(len(ref_protein)) if ref_protein[i] != alt_protein[i])
    last_ref, last_alt = len(ref_protein) - 1, len(alt_protein) - 1
    while ref_protein[last_ref] == alt_protein[last_alt]:
        last_ref, last_alt = last_ref - 1, last_alt - 1
    return "delins", first, ref_protein[first:last_ref + 1] + ">" + alt_protein[first:last_alt + 1]


def _in_frame_truth(ref_protein: str, alt_protein: str) -> tuple[str, str]:
    kind, i, what = _placements(ref_protein, alt_protein)
    if kind == "del":
        span = (f"{what[0]}{i + 1}" if len(what) == 1
                else f"{what[0]}{i + 1}_{what[-1]}{i + len(what)}")
        consequence = "stop_lost" if "*" in what else "inframe_indel"
        return consequence, f"p.{span}del"
    if kind == "ins":
        n = len(what)
        consequence = "nonsense" if "*" in what else "inframe_indel"
        if ref_protein[i - n:i] == what:
            span = what[0] + str(i - n + 1) + ("" if n == 1 else f"_{what[-1]}{i}")
            return consequence, f"p.{span}dup"
        return consequence, f"p.{ref_protein[i - 1]}{i}_{ref_protein[i]}{i + 1}ins{what}"
    old, new = what.split(">")
    span = f"{old[0]}{i + 1}" + ("" if len(old) == 1 else f"_{old[-1]}{i + len(old)}")
    consequence = ("nonsense" if "*" in new and "*" not in old else
                   "stop_lost" if "*" in old and "*" not in new else "inframe_indel")
    return consequence, f"p.{span}delins{new}"


def _snv_truth(ref_protein: str, alt_protein: str, alt_tail: str, codon: int) -> tuple[str, str]:
    r, a, n = ref_protein[codon], alt_protein[codon], codon + 1
    if r == a:
        return "synonymous", f"p.{r}{n}="
    if a == "*":
        return "nonsense", f"p.{r}{n}*"
    if r == "*":
        nxt = alt_tail.find("*", codon + 1)
        return "stop_lost", f"p.*{n}{a}ext*{'?' if nxt < 0 else nxt - codon}"
    return "missense", f"p.{r}{n}{a}"


def _frameshift_truth(ref_protein: str, alt_protein: str) -> tuple[str, str]:
    i = next(k for k in range(len(ref_protein)) if ref_protein[k] != alt_protein[k])
    if alt_protein[i] == "*":
        return "frameshift", f"p.{ref_protein[i]}{i + 1}*"
    stop = alt_protein.find("*", i)
    return "frameshift", (f"p.{ref_protein[i]}{i + 1}{alt_protein[i]}fs*"
                          f"{'?' if stop < 0 else stop - i + 1}")


def _mutated(bases: list[str], index: dict[int, int], strand: str, pos: int, ref: str,
             alt: str) -> str:
    """The transcript-strand sequence ``bases`` with a VCF-style variant applied."""
    out, pos0 = list(bases), pos - 1
    flip = (lambda s: _rc(s)) if strand == "-" else (lambda s: s)
    if len(ref) == len(alt) == 1:
        out[index[pos0]] = flip(alt)
    elif len(ref) > 1:
        for g in range(pos0 + 1, pos0 + len(ref)):
            out[index[g]] = ""
    elif strand == "+":
        out[index[pos0]] += alt[1:]
    else:
        out[index[pos0]] = flip(alt[1:]) + out[index[pos0]]
    return "".join(out)


def variant_truth(genome: Genome, model: GeneModel, pos: int, ref: str, alt: str
                  ) -> tuple[str, str]:
    """(consequence, short HGVS p.) of a VCF-style variant inside ``model``'s CDS."""
    seq = genome.contig_seq(model.chrom)
    coding = model.positions(model.cds) + model.positions(model.utr3)
    bases = [chr(seq[p]) for p in coding]
    if model.strand == "-":
        bases = [_PAIR[b] for b in bases]
    index = {p: i for i, p in enumerate(coding)}
    n_cds = sum(e - s for s, e in model.cds)
    ref_seq = "".join(bases)
    alt_seq = _mutated(bases, index, model.strand, pos, ref, alt)
    d = len(alt_seq) - len(ref_seq)
    ref_protein = _protein(ref_seq[:n_cds])
    if d % 3:
        return _frameshift_truth(ref_protein, _protein(alt_seq))
    if d == 0:
        return _snv_truth(ref_protein, _protein(alt_seq[:n_cds]), _protein(alt_seq),
                          index[pos - 1] // 3)
    return _in_frame_truth(ref_protein, _protein(alt_seq[:n_cds + d]))


def add_protein_truth(genome: Genome, variants: pd.DataFrame) -> pd.DataFrame:
    """The truth variants with ``consequence`` and ``hgvs_p`` (short form, ``p.E545K``)
    appended: intergenic outside the genes; every simulated variant in a gene is in its CDS."""
    models = {m.gene: m for m in gene_models(genome)}
    cache: dict[tuple, tuple[str, str]] = {}
    consequence, hgvs_p = [], []
    for r in variants.itertuples(index=False):
        key = (r.chrom, int(r.pos), r.ref, r.alt, r.gene)
        if key not in cache:
            model = models.get(r.gene) if isinstance(r.gene, str) else None
            cache[key] = (variant_truth(genome, model, int(r.pos), r.ref, r.alt) if model
                          else ("intergenic", ""))
        consequence.append(cache[key][0])
        hgvs_p.append(cache[key][1])
    return variants.assign(consequence=consequence, hgvs_p=hgvs_p)


def _codon(model: GeneModel, pos0: int) -> tuple[list[int], int]:
    """The genomic positions of the codon holding ``pos0`` (transcription order) and the index
    of ``pos0`` in it."""
    cds = model.positions(model.cds)
    i = cds.index(pos0)
    start = i - i % 3
    return cds[start:start + 3], i % 3


def _driver_alt(genome: Genome, model: GeneModel, hotspot, want: str) -> str | None:
    """An alt base that gives the ``want`` consequence at the hotspot, current alt first."""
    for alt in [hotspot.alt] + [b for b in "ACGT" if b not in (hotspot.ref, hotspot.alt)]:
        if variant_truth(genome, model, int(hotspot.pos), hotspot.ref, alt)[0] == want:
            return alt
    return None


def _recode(genome: Genome, model: GeneModel, hotspot, want: str) -> str:
    """Rewrite the two other bases of the hotspot's codon (the first codon, in ACGT order, that
    works) so that some alt gives ``want``, else (a stop cannot be reached from this base and
    codon position, e.g. a T first base) a missense change; returns that alt."""
    positions, k = _codon(model, int(hotspot.pos) - 1)
    seq, offset = genome.seq, genome.offsets[model.chrom]
    own = hotspot.ref if model.strand == "+" else _PAIR[hotspot.ref]
    for goal in dict.fromkeys((want, "missense")):
        for codon in sorted(_CODE):
            if codon[k] != own or _CODE[codon] == "*":
                continue
            for p, base in zip(positions, codon):
                seq[offset + p] = ord(base if model.strand == "+" else _PAIR[base])
            alt = _driver_alt(genome, model, hotspot, goal)
            if alt:
                return alt
    raise AssertionError(f"no codon gives a {want} change at {hotspot.gene} {hotspot.pos}")


def driver_hotspots(genome: Genome) -> pd.DataFrame:
    """The hotspot table with alts that change the protein in the transcript model: a name
    ending in '*' a nonsense change where the base allows one, any other a missense one. The alt is kept where it already
    does; else another alt; else the codon's two other reference bases are rewritten (in
    ``genome.seq``; at most 2 bases per hotspot). Drivers are never silent, so the HER2 burden
    (synonymous and non-coding variants excluded) counts every simulated ERBB2 driver."""
    models = {m.gene: m for m in gene_models(genome)}
    hotspots = genome.hotspots.copy()
    for i, h in enumerate(hotspots.itertuples(index=False)):
        want = "nonsense" if str(h.protein_change).endswith("*") else "missense"
        model = models[h.gene]
        alt = _driver_alt(genome, model, h, want) or _recode(genome, model, h, want)
        hotspots.iloc[i, hotspots.columns.get_loc("alt")] = alt
    return hotspots
