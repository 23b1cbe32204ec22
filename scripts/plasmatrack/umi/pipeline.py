"""Entry functions of the ``umi`` stage (one per rule, also used by ``plasmatrack consensus``):
they open the files, run the computing modules and write the outputs atomically."""

from __future__ import annotations

import contextlib
import gc
import gzip
import os
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Iterator

import pandas as pd
import pysam

from ..errors import InputError
from ..io import atomic_open, atomic_path, write_tsv
from .engine import ConsensusEngine, Targets
from .metrics import METRIC_COLUMNS, ErrorTally
from .molecules import grouped_tags
from .readstructure import ReadStructure
from .settings import UmiSettings
from .stream import MoleculeStream
from .umis import UmiProblems

PathLike = str | os.PathLike
# Molecules called together: the consensus of same-shaped families is one numpy computation;
# a batch holds a few hundred molecules' reads, independent of the sample's size.
BATCH = 512
SORT_MEMORY = "16M"


@dataclass
class ExtractCounts:
    pairs: int = 0


def _open_text(path: PathLike) -> IO[str]:
    return gzip.open(path, "rt") if str(path).endswith(".gz") else open(path)


def _fastq(handle: IO[str], path: PathLike) -> Iterator[tuple[int, str, str, str]]:
    """(line number, header, sequence, qualities) of each FASTQ record."""
    lineno = 0
    while True:
        lines = [handle.readline() for _ in range(4)]
        if not lines[0]:
            return
        if not lines[0].startswith("@") or not lines[2].startswith("+") or not lines[3]:
            raise InputError(f"{path}, line {lineno + 1}: not a FASTQ record")
        yield lineno + 1, lines[0][1:].rstrip("\n"), lines[1].rstrip("\n"), lines[3].rstrip("\n")
        lineno += 4


def _cut(structure: ReadStructure, path: PathLike, line: int, seq: str, qual: str
         ) -> tuple[str, str, str]:
    if len(seq) < structure.fixed_length:
        raise InputError(f"{path}, line {line}: read of {len(seq)} bases is shorter than the "
                         f"read structure {structure.text} ({structure.fixed_length} bases)")
    umi, spans = structure.split(seq)
    return (umi, "".join(seq[a:b] for a, b in spans), "".join(qual[a:b] for a, b in spans))


def run_extract(r1: PathLike, r2: PathLike, out_r1: PathLike, out_r2: PathLike,
                settings: UmiSettings) -> ExtractCounts:
    """Cut inline UMIs out of a FASTQ pair by ``settings.read_structures`` and append them to
    both read names as the last ``:`` field (R1's and R2's UMI bases joined by ``+`` when both
    reads carry one), the rest of the header kept as the comment."""
    structures = [ReadStructure.parse(s) for s in settings.read_structures]
    if len(structures) != 2:
        raise InputError("umi.read_structures: inline extraction needs two (R1, R2)")
    counts = ExtractCounts()
    with contextlib.ExitStack() as stack:
        ins = [stack.enter_context(_open_text(p)) for p in (r1, r2)]
        outs = [stack.enter_context(atomic_open(p)) for p in (out_r1, out_r2)]
        for rec1, rec2 in zip(_fastq(ins[0], r1), _fastq(ins[1], r2), strict=True):
            cut = [_cut(s, p, rec[0], rec[2], rec[3])
                   for s, p, rec in zip(structures, (r1, r2), (rec1, rec2))]
            umi = "+".join(u for u, _, _ in cut if u)
            for out, rec, (_, seq, qual) in zip(outs, (rec1, rec2), cut):
                name, _, comment = rec[1].partition(" ")
                out.write(f"@{name}:{umi}{' ' + comment if comment else ''}\n{seq}\n+\n{qual}\n")
            counts.pairs += 1
    return counts


def _targets(panel: PathLike, header: pysam.AlignmentHeader) -> Targets:
    intervals: dict[int, list[tuple[int, int]]] = {}
    for line in Path(panel).read_text().splitlines():
        fields = line.split("\t")
        if len(fields) < 3 or line.startswith(("#", "track", "browser")):
            continue
        tid = header.get_tid(fields[0])
        if tid >= 0:
            intervals.setdefault(tid, []).append((int(fields[1]), int(fields[2])))
    return Targets(intervals)


def _check_sorted(bam: PathLike, handle: pysam.AlignmentFile) -> None:
    order = handle.header.to_dict().get("HD", {}).get("SO")
    # An index proves coordinate order where an older header does not say it.
    if order != "coordinate" and not handle.has_index():
        raise InputError(f"{bam}: the BAM must be coordinate-sorted (header SO:{order}); "
                         "sort it with samtools sort")


def _sort_and_index(unsorted: Path, out_bam: PathLike) -> None:
    with atomic_path(out_bam) as tmp:
        # samtools sort keeps up to -m of records in memory before spilling to temporary
        # files: a fixed buffer keeps peak memory independent of the sample size.
        pysam.sort("-m", SORT_MEMORY, "-o", str(tmp), "-T", str(tmp) + ".sort", str(unsorted))
        with atomic_path(str(out_bam) + ".bai") as tmp_bai:
            pysam.index("-o", str(tmp_bai), str(tmp))
    unsorted.unlink()


def _consensus_header(handle: pysam.AlignmentFile) -> pysam.AlignmentHeader:
    header = handle.header.to_dict()
    header.setdefault("PG", []).append({"ID": "plasmatrack-consensus", "PN": "plasmatrack"})
    return pysam.AlignmentHeader.from_dict(header)


@dataclass(frozen=True)
class ConsensusInputs:
    """Optional inputs of ``run_consensus``: reference FASTA (error rates), panel BED
    (on-target molecules)."""

    reference: PathLike | None = None
    panel: PathLike | None = None


def _write_batch(batch: list, engine: ConsensusEngine, writers: list,
                 settings: UmiSettings) -> None:
    for record in engine.process(batch):
        writers[0].write(record)
    if len(writers) > 1:
        for molecule in batch:
            for template, mi in grouped_tags(molecule, settings.duplex):
                for read in template.reads:
                    read.set_tag("MI", mi)
                    writers[1].write(read)


@contextlib.contextmanager
def _rare_collections(threshold: int = 100_000) -> Iterator[None]:
    """Young-generation garbage collections every ``threshold`` allocations instead of
    Python's 700: the stream makes millions of short-lived objects without reference cycles
    (reference counting frees them), and scanning them for cycles took ~18 % of the CPU on
    320k read pairs (docs/umi.md, "Speed and memory")."""
    old = gc.get_threshold()
    gc.set_threshold(threshold, *old[1:])
    try:
        yield
    finally:
        gc.set_threshold(*old)


def _stream(bam: PathLike, handle: pysam.AlignmentFile, settings: UmiSettings,
            inputs: ConsensusInputs, writers: list) -> tuple[dict, pd.DataFrame]:
    """Group and call every molecule; write consensus (and grouped) records; the metrics."""
    problems = UmiProblems(str(bam), settings.umi_length)
    stream = MoleculeStream(settings, problems)
    with contextlib.ExitStack() as stack:
        stack.enter_context(_rare_collections())
        errors = None
        if inputs.reference:
            fasta = stack.enter_context(pysam.FastaFile(str(inputs.reference)))
            errors = ErrorTally(lambda tid, a, b: fasta.fetch(handle.get_reference_name(tid),
                                                              a, b))
        targets = _targets(inputs.panel, handle.header) if inputs.panel else None
        engine = ConsensusEngine(settings, writers[0].header, errors, targets)
        batch: list = []
        for molecule in stream.run(handle):
            batch.append(molecule)
            if len(batch) == BATCH:
                _write_batch(batch, engine, writers, settings)
                batch = []
        _write_batch(batch, engine, writers, settings)
        problems.raise_if_any(stream.counts.reads)
        row = {**engine.tally.row(), **(errors.rates() if errors else {})}
    counts = stream.counts
    row.update(reads=counts.reads, reads_grouped=counts.grouped, reads_unmapped=counts.unmapped,
               reads_secondary_or_supplementary=counts.secondary_or_supplementary,
               reads_low_mapping_quality=counts.low_mapping_quality,
               reads_mate_unmapped_or_elsewhere=counts.mate_unmapped_or_elsewhere,
               molecules_on_target=engine.tally.on_target if inputs.panel else None,
               umi_mode=settings.mode)
    return row, engine.tally.histogram()


def run_consensus(bam: PathLike, out_bam: PathLike, metrics_tsv: PathLike,
                  settings: UmiSettings, *, family_sizes_tsv: PathLike | None = None,
                  inputs: ConsensusInputs = ConsensusInputs(), sample_id: str = "",
                  patient_id: str = "", grouped_bam: PathLike | None = None) -> dict:
    """Group the reads of a coordinate-sorted BAM into molecules and write one consensus record
    (pair) per molecule to ``out_bam`` (sorted, indexed), the metrics row to ``metrics_tsv`` and
    the family-size histogram to ``family_sizes_tsv``. Bad UMIs stop the run with their counts
    and nothing written. Returns the metrics row."""
    if not settings.enabled:
        raise InputError(f"{bam}: umi.mode is 'none': set single or duplex for a consensus")
    out_bam = Path(out_bam)
    out_bam.parent.mkdir(parents=True, exist_ok=True)
    unsorted = [out_bam.with_name(f".{out_bam.name}.unsorted.bam")]
    if grouped_bam:
        unsorted.append(Path(grouped_bam).with_name(f".{Path(grouped_bam).name}.unsorted.bam"))
    try:
        with pysam.AlignmentFile(str(bam)) as handle:
            _check_sorted(bam, handle)
            with contextlib.ExitStack() as stack:
                headers = [_consensus_header(handle), handle.header]
                # Uncompressed ("wb0"): samtools sort reads these once and writes the final,
                # compressed BAM; compressing them too cost ~0.5 s CPU per 80k records.
                writers = [stack.enter_context(pysam.AlignmentFile(str(p), "wb0", header=h))
                           for p, h in zip(unsorted, headers)]
                row, histogram = _stream(bam, handle, settings, inputs, writers)
    except BaseException:
        for path in unsorted:
            path.unlink(missing_ok=True)
        raise
    _sort_and_index(unsorted[0], out_bam)
    if grouped_bam:
        _sort_and_index(unsorted[1], grouped_bam)
    row.update(sample_id=sample_id, patient_id=patient_id)
    write_tsv(pd.DataFrame([row]).reindex(columns=METRIC_COLUMNS), metrics_tsv)
    if family_sizes_tsv:
        write_tsv(histogram, family_sizes_tsv)
    return row
