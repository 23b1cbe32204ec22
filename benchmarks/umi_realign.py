#!/usr/bin/env python
"""Would re-aligning consensus reads move them? (issue 20, docs/umi.md "Re-align or keep").

Takes a consensus BAM written by ``plasmatrack consensus`` and its reference (bwa-indexed),
re-aligns the consensus reads with ``bwa mem`` and counts records whose position and CIGAR stay.

    .venv/bin/python benchmarks/umi_realign.py CONSENSUS.bam REFERENCE.fa
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import pysam


def main(cons: str, ref: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        r1, r2, sam = Path(tmp, "1.fq"), Path(tmp, "2.fq"), Path(tmp, "re.sam")
        subprocess.run(f"samtools sort -n {cons} | samtools fastq -1 {r1} -2 {r2} -0 /dev/null "
                       "-s /dev/null - 2>/dev/null", shell=True, check=True)
        subprocess.run(f"bwa mem -t 1 {ref} {r1} {r2} 2>/dev/null > {sam}", shell=True,
                       check=True)
        kept = {}
        with pysam.AlignmentFile(cons) as handle:
            for read in handle:
                kept[read.query_name, read.is_read1] = (read.reference_start, read.cigarstring,
                                                        read.get_tag("cD"))
        moved: dict[str, int] = {"family of 1": 0, "family >= 2": 0}
        same = 0
        with pysam.AlignmentFile(str(sam)) as handle:
            for read in handle:
                if read.is_secondary or read.is_supplementary:
                    continue
                start, cigar, depth = kept[read.query_name, read.is_read1]
                new = None if read.is_unmapped else (read.reference_start, read.cigarstring)
                if new == (start, cigar):
                    same += 1
                else:
                    moved["family of 1" if depth == 1 else "family >= 2"] += 1
    print(f"same position and CIGAR: {same}; moved: {moved}")


if __name__ == "__main__":
    main(*sys.argv[1:3])
