"""Consequence, transcript and HGVS notation of variant sites from a GFF3 transcript model.

The consequence class comes from ``bcftools csq`` (``--local-csq``: each record on its own, as
the sites carry no phased genotypes); the reported transcript is picked by
``transcripts.preferred`` among those bcftools annotates; HGVS c./p. are written by ``hgvs.py``
(bcftools has no HGVS). Without a GFF3 the four columns are empty (docs/variants.md)."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import pandas as pd

from ..errors import InputError
from .hgvs import (THREE_LETTER, Layout, ProteinChange, edit_of, hgvs_c, protein_change,
                   translate)
from .sites import Reference
from .transcripts import Transcript, TranscriptIndex, preferred, read_transcripts

CONSEQUENCE_COLUMNS = ["consequence", "transcript", "hgvs_c", "hgvs_p"]
# bcftools csq type -> plasmatrack consequence, most severe first (VEP's order, with a frameshift
# that ends at once - bcftools' "stop_gained&frameshift" - still a frameshift).
SEVERITY: list[tuple[str, str]] = [
    ("splice_acceptor", "splice_site"), ("splice_donor", "splice_site"),
    ("frameshift", "frameshift"), ("stop_gained", "nonsense"), ("stop_lost", "stop_lost"),
    ("start_lost", "start_lost"), ("inframe_insertion", "inframe_indel"),
    ("inframe_deletion", "inframe_indel"), ("inframe_altering", "inframe_indel"),
    ("missense", "missense"), ("coding_sequence", "coding_sequence"),
    ("feature_elongation", "coding_sequence"), ("splice_region", "splice_region"),
    ("stop_retained", "synonymous"), ("start_retained", "synonymous"),
    ("synonymous", "synonymous"), ("5_prime_utr", "utr_5"), ("3_prime_utr", "utr_3"),
    ("non_coding", "non_coding"), ("intron", "intronic"),
]
_RANK = {kind: i for i, (kind, _) in enumerate(SEVERITY)}
_NAME = dict(SEVERITY)
INTERGENIC = "intergenic"


def _write_sites_vcf(sites: pd.DataFrame, contigs: dict[str, int], path: Path) -> None:
    order = {c: i for i, c in enumerate(contigs)}
    rows = sites[["chrom", "pos", "ref", "alt"]].drop_duplicates()
    rows = rows.assign(_rank=rows["chrom"].map(order)).sort_values(["_rank", "pos", "ref", "alt"])
    lines = ["##fileformat=VCFv4.2"]
    lines += [f"##contig=<ID={c},length={n}>" for c, n in contigs.items()]
    lines.append("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO")
    lines += [f"{r.chrom}\t{int(r.pos)}\t.\t{r.ref}\t{r.alt}\t.\t.\t."
              for r in rows.itertuples(index=False)]
    path.write_text("\n".join(lines) + "\n")


def _parse_bcsq(info: str) -> list[tuple[list[str], str, str]]:
    """(bcftools types, gene, transcript) of each BCSQ entry of one INFO field."""
    for item in info.split(";"):
        if item.startswith("BCSQ="):
            entries = []
            for entry in item[5:].split(","):
                fields = entry.split("|")
                if fields[0].startswith("@"):  # a pointer to a joint (haplotype) call
                    continue
                entries.append((fields[0].split("&"), fields[1] if len(fields) > 1 else "",
                                fields[2] if len(fields) > 2 else ""))
            return entries
    return []


def run_csq(sites: pd.DataFrame, reference_fasta: str, gff3: str,
            contigs: dict[str, int]) -> dict[tuple, list[tuple[list[str], str, str]]]:
    """``bcftools csq`` on the sites: their BCSQ entries by (chrom, pos, ref, alt)."""
    with tempfile.TemporaryDirectory(prefix="plasmatrack-csq-") as tmp:
        vcf = Path(tmp) / "sites.vcf"
        _write_sites_vcf(sites, contigs, vcf)
        cmd = ["bcftools", "csq", "--local-csq", "--no-version", "-f", str(reference_fasta),
               "-g", str(gff3), "-O", "v", str(vcf)]
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        except FileNotFoundError:
            raise InputError("bcftools is not installed: it is needed for the consequences of "
                             f"the 'annotation' GFF3 {gff3}") from None
    if done.returncode:
        raise InputError(f"{gff3}: bcftools csq failed: {done.stderr.strip()}")
    out = {}
    for line in done.stdout.splitlines():
        if line.startswith("#"):
            continue
        f = line.split("\t")
        out[(f[0], int(f[1]), f[3], f[4])] = _parse_bcsq(f[7])
    return out


def most_severe(types: list[str]) -> str:
    """The plasmatrack consequence of the most severe of bcftools' types (unknown types last)."""
    known = [t for t in types if t in _RANK]
    return _NAME[min(known, key=_RANK.__getitem__)] if known else INTERGENIC


class Annotator:
    """Picks the transcript and writes the four columns for each site."""

    def __init__(self, transcripts: list[Transcript], reference: Reference):
        self.index = TranscriptIndex(transcripts)
        self.reference = reference
        self._layouts: dict[str, tuple[Layout, str, str]] = {}

    def _layout(self, tx: Transcript) -> tuple[Layout, str, str]:
        """The transcript's layout, CDS + 3' UTR and protein, built once per transcript."""
        if tx.transcript_id not in self._layouts:
            layout = Layout(tx)
            coding = layout.coding_sequence(self.reference) if tx.coding else ""
            self._layouts[tx.transcript_id] = (layout, coding,
                                               translate(coding[:layout.cds_length]))
        return self._layouts[tx.transcript_id]

    def annotate(self, chrom: str, pos: int, ref: str, alt: str,
                 entries: list[tuple[list[str], str, str]]) -> dict[str, str]:
        """The four columns of one site from its BCSQ entries."""
        edit = edit_of(pos, ref, alt)
        named = {tx_id for _types, _gene, tx_id in entries if tx_id}
        intron_genes = {gene for _types, gene, tx_id in entries if not tx_id}
        overlapping = self.index.at(chrom, edit.start - 1, max(edit.end, edit.start + 1))
        tx = preferred([t for t in overlapping
                        if t.transcript_id in named or t.gene in intron_genes])
        if tx is None:
            return {"consequence": INTERGENIC, "transcript": "", "hgvs_c": "", "hgvs_p": ""}
        types = [t for types, gene, tx_id in entries
                 if tx_id == tx.transcript_id or (not tx_id and gene == tx.gene) for t in types]
        layout, coding, protein = self._layout(tx)
        change = protein_change(layout, edit, coding, protein)
        return {"consequence": _stop_codons(most_severe(types), change),
                "transcript": tx.transcript_id,
                "hgvs_c": hgvs_c(layout, edit, self.reference),
                "hgvs_p": change.render() if change else ""}


def _check_contigs(transcripts: list[Transcript], lengths: dict[str, int], gff3: str,
                   fasta: str) -> None:
    """A GFF3 whose chromosomes the reference does not have (``17`` vs ``chr17``) would leave
    every variant intergenic without a word: an error instead."""
    names = sorted({tx.chrom for tx in transcripts})
    if not names:
        raise InputError(f"{gff3}: no transcript (a feature with a Parent gene and exon children)")
    if not set(names) & set(lengths):
        raise InputError(f"{gff3}: none of its chromosomes ({', '.join(names[:5])}) is in the "
                         f"reference {fasta} ({', '.join(list(lengths)[:5])} ...)")


def _stop_codons(consequence: str, change: ProteinChange | None) -> str:
    """An in-frame indel that removes a stop codon is a lost stop, one that brings in a new
    stop a nonsense change (Sequence Ontology); bcftools csq 1.16 calls the first
    ``inframe_deletion`` (docs/variants.md: 1 of 314 simulated somatic variants)."""
    if consequence != "inframe_indel" or change is None:
        return consequence
    lost, gained = "*" in change.ref, "*" in change.alt
    if lost and not gained:
        return "stop_lost"
    return "nonsense" if gained and not lost else consequence


def empty_consequences(sites: pd.DataFrame) -> pd.DataFrame:
    """The sites with the four columns empty (no transcript model configured)."""
    return sites.assign(**{c: "" for c in CONSEQUENCE_COLUMNS})


def annotate_consequences(sites: pd.DataFrame, reference_fasta: str,
                          gff3: str | None) -> pd.DataFrame:
    """The sites (chrom, pos, ref, alt; 1-based pos) with ``consequence``, ``transcript``,
    ``hgvs_c`` and ``hgvs_p`` appended."""
    if not gff3 or not len(sites):
        return empty_consequences(sites)
    transcripts = read_transcripts(gff3)
    with Reference(reference_fasta) as reference:
        _check_contigs(transcripts, reference.lengths, gff3, reference_fasta)
        found = run_csq(sites, reference_fasta, gff3, dict(reference.lengths))
        annotator = Annotator(transcripts, reference)
        rows = [annotator.annotate(r.chrom, int(r.pos), r.ref, r.alt,
                                   found.get((r.chrom, int(r.pos), r.ref, r.alt), []))
                for r in sites.itertuples(index=False)]
    return pd.concat([sites.reset_index(drop=True),
                      pd.DataFrame(rows, columns=CONSEQUENCE_COLUMNS)], axis=1)


def short_protein(hgvs_p: str) -> str:
    """``p.Glu545Lys`` -> ``E545K`` (the label form of the hotspot list); '' stays ''."""
    if not hgvs_p:
        return ""
    text = hgvs_p[2:] if hgvs_p.startswith("p.") else hgvs_p
    for one, three in THREE_LETTER.items():
        text = text.replace(three, one)
    return text
