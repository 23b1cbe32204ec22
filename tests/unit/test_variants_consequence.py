"""Consequences (bcftools csq), transcripts and HGVS c./p. of variant sites (issue 24).

Two regimes: a hand-built reference with one plus- and one minus-strand transcript (UTRs, introns,
splice sites) written here, with HGVS expectations checked by hand and an independent codon
translation for random SNVs; and the simulated cohort (``plasmatrack simulate`` writes
annotation.gff3 and the truth consequence / protein change of every variant)."""

import random
import subprocess

import pandas as pd
import pytest

from plasmatrack.errors import InputError
from plasmatrack.variants.consequence import annotate_consequences, short_protein
from plasmatrack.variants.pipeline import TrackInputs, _track_annotations, name_protein_changes
from plasmatrack.variants.transcripts import read_transcripts

BIN_SIMULATE = ["plasmatrack", "simulate"]
GFF3 = """##gff-version 3
chr1\t.\tgene\t101\t1000\t.\t+\t.\tID=gene:G1;Name=GP;biotype=protein_coding
chr1\t.\tmRNA\t101\t1000\t.\t+\t.\tID=transcript:T1;Parent=gene:G1;biotype=protein_coding
chr1\t.\texon\t101\t300\t.\t+\t.\tParent=transcript:T1
chr1\t.\tCDS\t121\t300\t.\t+\t0\tID=CDS:T1;Parent=transcript:T1
chr1\t.\texon\t501\t1000\t.\t+\t.\tParent=transcript:T1
chr1\t.\tCDS\t501\t950\t.\t+\t0\tID=CDS:T1;Parent=transcript:T1
chr1\t.\tfive_prime_UTR\t101\t120\t.\t+\t.\tParent=transcript:T1
chr1\t.\tthree_prime_UTR\t951\t1000\t.\t+\t.\tParent=transcript:T1
chr1\t.\tgene\t1101\t2000\t.\t-\t.\tID=gene:G2;Name=GM;biotype=protein_coding
chr1\t.\tmRNA\t1101\t2000\t.\t-\t.\tID=transcript:T2;Parent=gene:G2;biotype=protein_coding
chr1\t.\texon\t1101\t1400\t.\t-\t.\tParent=transcript:T2
chr1\t.\tCDS\t1101\t1400\t.\t-\t2\tID=CDS:T2;Parent=transcript:T2
chr1\t.\texon\t1601\t2000\t.\t-\t.\tParent=transcript:T2
chr1\t.\tCDS\t1601\t2000\t.\t-\t0\tID=CDS:T2;Parent=transcript:T2
"""
PAIR = {"A": "T", "C": "G", "G": "C", "T": "A"}
CODE = dict(zip([a + b + c for a in "TCAG" for b in "TCAG" for c in "TCAG"],
                "FFLLSSSSYY**CC*WLLLLPPPPHHQQRRRRIIIMTTTTNNKKSSRRVVVVAAAADDEEGGGG"))
# (pos, ref, alt) -> (consequence, transcript, hgvs_c, hgvs_p); the in-frame deletions' protein
# changes were checked by translating the mutated CDS (bcftools' own BCSQ strings for them,
# "17AT>17P" and "83SR>83R", are not what the sequence gives).
EXPECTED = {
    (110, "A", "C"): ("utr_5", "T1", "c.-11A>C", ""),
    (150, "C", "A"): ("missense", "T1", "c.30C>A", "p.Phe10Leu"),
    (160, "C", "CA"): ("frameshift", "T1", "c.41dup", "p.Lys15GlufsTer28"),
    (170, "CAAC", "C"): ("inframe_indel", "T1", "c.51_53del", "p.Thr18del"),
    (180, "A", "AGGC"): ("inframe_indel", "T1", "c.60_61insGGC", "p.Arg20_Leu21insGly"),
    (181, "C", "CGGC"): ("inframe_indel", "T1", "c.61_62insGGC", "p.Arg20dup"),
    (220, "AGCT", "A"): ("inframe_indel", "T1", "c.101_103del", "p.Ser34_Ser35delinsThr"),
    (268, "T", "C"): ("stop_lost", "T1", "c.148T>C", "p.Ter50ArgextTer15"),
    (302, "A", "C"): ("splice_site", "T1", "c.180+2A>C", ""),
    (400, "G", "A"): ("intronic", "T1", "c.180+100G>A", ""),
    (503, "T", "A"): ("splice_region", "T1", "c.183T>A", "p.Ala61="),
    (940, "AT", "A"): ("frameshift", "T1", "c.621del", "p.Tyr207Ter"),
    (980, "T", "C"): ("utr_3", "T1", "c.*30T>C", ""),
    (1200, "T", "A"): ("missense", "T2", "c.601A>T", "p.Asn201Tyr"),
    (1250, "C", "CGCC"): ("inframe_indel", "T2", "c.551_552insGCG", "p.Arg184dup"),
    (1252, "G", "GGCC"): ("inframe_indel", "T2", "c.548_549insGGC", "p.Cys183delinsTrpAla"),
    (1300, "C", "A"): ("synonymous", "T2", "c.501G>T", "p.Thr167="),
    (1402, "A", "C"): ("splice_site", "T2", "c.401-2T>G", ""),
    (1500, "C", "A"): ("intronic", "T2", "c.401-100G>T", ""),
    (1700, "T", "TAC"): ("frameshift", "T2", "c.300_301insGT", "p.Lys101ValfsTer18"),
    (1750, "CGAC", "C"): ("inframe_indel", "T2", "c.250_252del", "p.Arg84del"),
    (2500, "G", "A"): ("intergenic", "", "", ""),
}


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    """A 3-kb chr1 of seeded random sequence (faidx-indexed) and its GFF3."""
    out = tmp_path_factory.mktemp("toy")
    rng = random.Random(1)
    seq = "".join(rng.choice("ACGT") for _ in range(3000))
    fasta = out / "ref.fa"
    fasta.write_text(">chr1\n" + "\n".join(seq[i:i + 60] for i in range(0, 3000, 60)) + "\n")
    subprocess.run(["samtools", "faidx", str(fasta)], check=True)
    gff = out / "a.gff3"
    gff.write_text(GFF3)
    return seq, str(fasta), str(gff)


def _sites(rows):
    return pd.DataFrame(rows, columns=["chrom", "pos", "ref", "alt"])


def test_hand_built_transcripts_both_strands(toy):
    seq, fasta, gff = toy
    rows = [("chr1", pos, ref, alt) for pos, ref, alt in EXPECTED]
    for _, pos, ref, _alt in rows:  # the expectations were written for this sequence
        assert seq[pos - 1:pos - 1 + len(ref)] == ref
    got = annotate_consequences(_sites(rows), fasta, gff)
    for r in got.itertuples(index=False):
        assert (r.consequence, r.transcript, r.hgvs_c, r.hgvs_p) == \
            EXPECTED[(r.pos, r.ref, r.alt)], (r.pos, r.ref, r.alt)


def _translate(cds: str) -> str:
    return "".join(CODE[cds[i:i + 3]] for i in range(0, len(cds) - 2, 3))


def test_random_snvs_match_an_independent_translation(toy):
    """Every coding SNV's class and p. notation against a translation written here."""
    seq, fasta, gff = toy
    models = {"T1": ("+", list(range(120, 300)) + list(range(500, 950))),
              "T2": ("-", list(range(1999, 1599, -1)) + list(range(1399, 1099, -1)))}
    rng = random.Random(7)
    rows, expected = [], {}
    for tx, (strand, positions) in models.items():
        cds = "".join(seq[p] if strand == "+" else PAIR[seq[p]] for p in positions)
        protein = _translate(cds)
        for i in rng.sample(range(len(positions)), 40):
            ref = seq[positions[i]]
            alt = rng.choice([b for b in "ACGT" if b != ref])
            new = alt if strand == "+" else PAIR[alt]
            mutated = _translate(cds[:i] + new + cds[i + 1:])
            a, b, n = protein[i // 3], mutated[i // 3], i // 3 + 1
            kind = ("synonymous" if a == b else "nonsense" if b == "*" else
                    "stop_lost" if a == "*" else "missense")
            key = ("chr1", positions[i] + 1, ref, alt)
            rows.append(key)
            expected[key] = (kind, tx, f"{a}{n}{'=' if a == b else b}")
    got = annotate_consequences(_sites(rows), fasta, gff)
    assert len(got) == 80
    for r in got.itertuples(index=False):
        kind, tx, change = expected[(r.chrom, r.pos, r.ref, r.alt)]
        assert r.transcript == tx
        # a coding SNV next to an exon end is also in the splice region; bcftools ranks that
        # above synonymous (VEP's order), the protein change stays the same
        assert r.consequence == kind or (kind == "synonymous" and r.consequence == "splice_region")
        assert short_protein(r.hgvs_p).split("ext")[0] == change


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    out = tmp_path_factory.mktemp("sim") / "cohort"
    subprocess.run([*BIN_SIMULATE, "--out", str(out), "--patients", "40", "--no-reads",
                    "--seed", "5"], check=True, capture_output=True)
    subprocess.run(["samtools", "faidx", str(out / "reference" / "genome.fa")], check=True)
    return out


def test_simulated_cohort_every_somatic_variant_equals_the_truth(simulated):
    truth = pd.read_csv(simulated / "truth" / "variants.tsv", sep="\t", keep_default_na=False,
                        dtype={"chrom": str, "ref": str, "alt": str, "gene": str})
    variants = truth[truth["category"] == "somatic"].drop_duplicates(["chrom", "pos", "ref", "alt"])
    got = annotate_consequences(variants[["chrom", "pos", "ref", "alt", "gene", "consequence",
                                          "hgvs_p"]].rename(columns={"consequence": "truth_class",
                                                                     "hgvs_p": "truth_p"}),
                                str(simulated / "reference" / "genome.fa"),
                                str(simulated / "annotation.gff3"))
    got["short"] = ["p." + short_protein(p) if p else "" for p in got["hgvs_p"]]
    wrong = got[(got["consequence"] != got["truth_class"]) | (got["short"] != got["truth_p"])]
    assert wrong.empty, wrong.to_string()
    strands = {t.gene: t.strand for t in read_transcripts(simulated / "annotation.gff3")}
    minus = got["gene"].map(strands) == "-"
    indel = got["ref"].str.len() != got["alt"].str.len()
    # the claim covers both strands and indels, not only plus-strand SNVs
    assert len(got) > 250 and (minus & indel).sum() >= 10 and (~minus & indel).sum() >= 10
    assert {"missense", "synonymous", "frameshift", "inframe_indel"} <= set(got["consequence"])


def test_simulated_hotspots_change_the_protein(simulated):
    """The demo's drivers are never silent in its own transcript model."""
    truth = pd.read_csv(simulated / "truth" / "variants.tsv", sep="\t", keep_default_na=False)
    named = truth[(truth["protein_change"] != "") & (truth["category"] == "somatic")]
    assert len(named) and named["consequence"].isin(["missense", "nonsense"]).all()


def test_no_annotation_gives_empty_columns(toy):
    _, fasta, _ = toy
    got = annotate_consequences(_sites([("chr1", 150, "C", "A")]), fasta, None)
    assert list(got.iloc[0][["consequence", "transcript", "hgvs_c", "hgvs_p"]]) == [""] * 4


def test_gff3_on_other_chromosome_names_is_an_error(toy, tmp_path):
    _, fasta, _ = toy
    gff = tmp_path / "other.gff3"
    gff.write_text(GFF3.replace("chr1\t", "1\t"))
    with pytest.raises(InputError, match=r"other\.gff3: none of its chromosomes \(1\)"):
        annotate_consequences(_sites([("chr1", 150, "C", "A")]), fasta, str(gff))


def test_bad_gff3_names_file_and_line(toy, tmp_path):
    _, fasta, _ = toy
    gff = tmp_path / "bad.gff3"
    gff.write_text(GFF3 + "chr1\t.\texon\t5\tx\t.\t+\t.\tParent=transcript:T1\n")
    with pytest.raises(InputError, match=r"bad\.gff3, row 16: start/end must be integers"):
        annotate_consequences(_sites([("chr1", 150, "C", "A")]), fasta, str(gff))
    gff.write_text(GFF3.replace("\t2\tID=CDS:T2", "\t0\tID=CDS:T2"))
    with pytest.raises(InputError, match=r"(?s)bad\.gff3: bcftools csq failed: .*phase"):
        annotate_consequences(_sites([("chr1", 150, "C", "A")]), fasta, str(gff))


def test_protein_change_names_hotspots_first_then_the_model():
    sites = pd.DataFrame({"protein_change": ["E545K", "", ""],
                          "hgvs_p": ["p.Lys101Asn", "p.Lys15GlufsTer28", ""]})
    assert list(name_protein_changes(sites)["protein_change"]) == ["E545K", "K15Efs*28", ""]


def test_track_annotation_needs_the_reference(toy):
    _, _, gff = toy
    with pytest.raises(InputError, match="--annotation .*needs --reference"):
        _track_annotations(_sites([("chr1", 150, "C", "A")]),
                           TrackInputs(bam="x.bam", sites="s.tsv", annotation=gff))
