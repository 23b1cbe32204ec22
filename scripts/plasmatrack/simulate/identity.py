"""Sample swaps and cross-patient contamination injected into a simulated cohort's FASTQs, with
the truth of which sample holds whose DNA (``truth/identity.tsv``; docs/qc.md, "Sample identity").

Both act on the finished FASTQ pairs, so ``plasmatrack simulate`` and the independent
``capturesim`` share them without touching how either makes reads:
- a swap ``A:B`` exchanges the read files of samples A and B (two tubes mislabelled);
- a contamination ``A:B:F`` replaces each read pair of A, with probability F, by the next read
  pair of B (B's fragments are a share F of A's library; reads keep B's names).
Contaminations are applied first, from the files as simulated; swaps then exchange the results.
"""

from __future__ import annotations

import gzip
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError
from ..io import atomic_path

TRUTH_COLUMNS = ["sample_id", "patient_id", "source_sample", "source_patient",
                 "contaminant_sample", "contaminant_patient", "contamination"]


@dataclass(frozen=True)
class IdentityInjection:
    """Swaps (pairs of sample IDs) and contaminations (host, donor, fraction of fragments)."""

    swaps: tuple[tuple[str, str], ...] = ()
    contaminations: tuple[tuple[str, str, float], ...] = ()

    @classmethod
    def parse(cls, swaps: str = "", contaminate: str = "") -> "IdentityInjection":
        """From the command line's comma-separated ``A:B`` and ``A:B:F`` lists."""
        problems = []
        pairs = []
        for item in filter(None, (s.strip() for s in swaps.split(","))):
            parts = item.split(":")
            if len(parts) != 2 or parts[0] == parts[1]:
                problems.append(f"--swap {item!r}: expected SAMPLE_A:SAMPLE_B")
            else:
                pairs.append((parts[0], parts[1]))
        mixes = []
        for item in filter(None, (s.strip() for s in contaminate.split(","))):
            parts = item.split(":")
            try:
                fraction = float(parts[2]) if len(parts) == 3 else -1.0
            except ValueError:
                fraction = -1.0
            if len(parts) != 3 or parts[0] == parts[1] or not 0 < fraction < 0.5:
                problems.append(f"--contaminate {item!r}: expected HOST:DONOR:FRACTION with "
                                "0 < FRACTION < 0.5")
            else:
                mixes.append((parts[0], parts[1], fraction))
        if problems:
            raise InputError(problems)
        return cls(tuple(pairs), tuple(mixes))

    def __bool__(self) -> bool:
        return bool(self.swaps or self.contaminations)

    def check(self, sheet: pd.DataFrame) -> None:
        """Every named sample is in the sheet and a swap pairs two different patients."""
        patient = dict(zip(sheet["sample_id"], sheet["patient_id"]))
        problems = []
        names = [s for pair in self.swaps for s in pair]
        names += [s for host, donor, _ in self.contaminations for s in (host, donor)]
        problems += [f"sample {s!r} is not in the cohort" for s in names if s not in patient]
        if not problems:
            problems += [f"--swap {a}:{b}: both samples are of patient {patient[a]}"
                         for a, b in self.swaps if patient[a] == patient[b]]
            problems += [f"--contaminate {h}:{d}: both samples are of patient {patient[h]}"
                         for h, d, _ in self.contaminations if patient[h] == patient[d]]
            swapped = [s for pair in self.swaps for s in pair]
            problems += [f"sample {s!r} is in more than one swap"
                         for s in sorted(set(swapped)) if swapped.count(s) > 1]
        if problems:
            raise InputError(problems)


def _fastqs(fastq_dir: Path, sample: str) -> tuple[Path, Path]:
    return fastq_dir / f"{sample}_R1.fastq.gz", fastq_dir / f"{sample}_R2.fastq.gz"


def _records(handle):
    while True:
        record = [handle.readline() for _ in range(4)]
        if not record[0]:
            return
        yield "".join(record)


def contaminate(host: tuple[Path, Path], donor: tuple[Path, Path], fraction: float,
                seed: int) -> float:
    """Replace each read pair of ``host`` with probability ``fraction`` by the next pair of
    ``donor`` (from the start again if it runs out). Returns the share actually replaced."""
    rng = np.random.default_rng(seed)
    replaced = total = 0
    with atomic_path(host[0]) as out1, atomic_path(host[1]) as out2:
        with gzip.open(host[0], "rt") as h1, gzip.open(host[1], "rt") as h2, \
                gzip.open(out1, "wt", compresslevel=1) as w1, \
                gzip.open(out2, "wt", compresslevel=1) as w2:
            donor_pairs = _donor_pairs(donor)
            for r1, r2 in zip(_records(h1), _records(h2)):
                total += 1
                if rng.random() < fraction:
                    r1, r2 = next(donor_pairs)
                    replaced += 1
                w1.write(r1)
                w2.write(r2)
    return replaced / total if total else 0.0


def _donor_pairs(donor: tuple[Path, Path]):
    while True:
        with gzip.open(donor[0], "rt") as d1, gzip.open(donor[1], "rt") as d2:
            yield from zip(_records(d1), _records(d2))


def inject(fastq_dir: str | os.PathLike, sheet: pd.DataFrame, injection: IdentityInjection,
           seed: int) -> pd.DataFrame:
    """Apply ``injection`` to the FASTQs in ``fastq_dir`` (``<sample>_R1/R2.fastq.gz``) and
    return the truth (``TRUTH_COLUMNS``, one row per sample of ``sheet``)."""
    injection.check(sheet)
    fastq_dir = Path(fastq_dir)
    truth = pd.DataFrame({"sample_id": sheet["sample_id"], "patient_id": sheet["patient_id"],
                          "source_sample": sheet["sample_id"],
                          "source_patient": sheet["patient_id"], "contaminant_sample": "",
                          "contaminant_patient": "", "contamination": 0.0}).set_index(
        "sample_id", drop=False)
    patient = dict(zip(sheet["sample_id"], sheet["patient_id"]))
    for k, (host, donor, fraction) in enumerate(injection.contaminations):
        share = contaminate(_fastqs(fastq_dir, host), _fastqs(fastq_dir, donor), fraction,
                            seed=seed * 1_000 + k)
        truth.loc[host, ["contaminant_sample", "contaminant_patient", "contamination"]] = \
            [donor, patient[donor], share]
    for a, b in injection.swaps:
        for fa, fb in zip(_fastqs(fastq_dir, a), _fastqs(fastq_dir, b)):
            tmp = fa.with_name(f".swap-{fa.name}")
            os.replace(fa, tmp)
            os.replace(fb, fa)
            os.replace(tmp, fb)
        cols = ["source_sample", "source_patient", "contaminant_sample", "contaminant_patient",
                "contamination"]
        truth.loc[[a, b], cols] = truth.loc[[b, a], cols].to_numpy()
    return truth.reset_index(drop=True)[TRUTH_COLUMNS]
