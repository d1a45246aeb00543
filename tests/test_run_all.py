"""benchmarks/run_all.py: the headline numbers are read correctly from each script's output, a
changed output format is reported instead of guessed, and the docs page is updated in place."""
# ruff: noqa: E501  (the canned outputs below are the scripts' real, wide lines)

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def run_all():
    spec = importlib.util.spec_from_file_location("run_all", ROOT / "benchmarks" / "run_all.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["run_all"] = module
    spec.loader.exec_module(module)
    yield module
    del sys.modules["run_all"]


ENCODE = """\
records: 20,000 (pprl.datasets.extracts, seed 1); schema: clkhash_v3_example.json (1024 bits, 7 features); load average 7.0 on 2 cores
                                                records/s   wall s    CPU s
clkhash 0.18.3 generate_clks (1 proc/core)          3,481     5.75     2.26
pprl.encode.clks                                  139,231     0.14     0.06
ratio pprl / clkhash: 40.0x records/s, 39.5x less CPU; identical CLKs: True
pprl, native default schema (CLK + field filters + blocking keys): 23,597 records/s (0.33 CPU s)
"""

COMPARE = """\
threshold 0.8, median of 3 runs, 2 cores; pairs/s = comparisons / second

random 1024-bit, density 0.4: 5,000 x 5,000, 0 pairs >= 0.8
                               wall ms  M pairs/s vs anonlink     cpu ms  M pairs/s vs anonlink cores used
  anonlink 0.15 (1 thread)       483.6       51.7       1.00x      193.7      129.0       1.00x       0.40   same pairs
  pprl (1 thread)                139.0      179.9       3.48x       55.0      454.6       3.52x       0.40   same pairs
  pprl (2 threads)               120.0      208.3       4.03x      200.0      125.0       0.97x       1.67   same pairs

clkhash ESSnet census x CIS: 5,000 x 5,000, 1,142 pairs >= 0.8
                               wall ms  M pairs/s vs anonlink     cpu ms  M pairs/s vs anonlink
  anonlink 0.15 (1 thread)       515.1       48.5       1.00x      203.1      123.1       1.00x   same pairs
  pprl (1 thread)                150.8      165.7       3.41x       51.4      486.6       3.95x   same pairs
  pprl (2 threads)               145.3      172.0       3.54x                                     DIFFERENT PAIRS
"""

SOLVE = """\
F1 (precision/recall), threshold t; est = precision/recall pprl estimated without truth; FS = Fellegi–Sunter scoring chosen

| data set | clkhash+anonlink oracle | pprl greedy oracle | greedy auto | optimal auto | link auto | link auto optimal |
|---|---|---|---|---|---|---|
| datasets low (3000+3000, overlap 0.5) | **0.9797** (0.993/0.967) t=0.878 | **0.9946** (0.998/0.991) t=0.790 | **0.9930** (0.998/0.988) t=0.806 | **0.9930** (0.998/0.988) t=0.806 | **0.9970** (0.996/0.998) t=0.490; est 0.995/0.993; FS | **0.9973** (0.997/0.998) t=0.490; est 0.995/0.993; FS |
| splink fake_1000 (dedup) | **0.7498** (0.969/0.612) t=0.700 | **0.7153** (0.934/0.580) t=0.600 | – | – | **0.1874** (1.000/0.103) t=0.898; est 0.864/0.716 | – |
"""

DISCLOSURE = """\
{'table': '10x5 n=300', 'method': 'primary only', 'cells': 66, 'primary': 37, 'complementary': 0, 'people hidden': 0, 'seconds': 0.01, 'unprotected': 11, 'audit s': 0.41}
{'table': '10x5 n=300', 'method': 'hypercube', 'cells': 66, 'primary': 37, 'complementary': 8, 'people hidden': 206, 'seconds': 0.12, 'unprotected': 0, 'audit s': 0.54}
{'table': '10x5 n=300', 'method': 'pprl', 'cells': 66, 'primary': 37, 'complementary': 4, 'people hidden': 52, 'seconds': 0.15, 'unprotected': 0, 'audit s': 0.51}
{'table': 'linked: b', 'method': 'primary only', 'cells': 10, 'primary': 3, 'complementary': 0, 'people hidden': 0, 'seconds': 0.01, 'unprotected': 2, 'audit s': 0.1}
{'table': 'linked: b', 'method': 'hypercube', 'cells': 10, 'primary': 3, 'complementary': 4, 'people hidden': 94, 'seconds': 0.1, 'unprotected': 0, 'audit s': 0.1}
{'table': 'linked: b', 'method': 'pprl', 'cells': 10, 'primary': 3, 'complementary': 2, 'people hidden': 48, 'seconds': 0.1, 'unprotected': 0, 'audit s': 0.1}
linked tables protected separately, attacked together: 15 unprotected cells
"""

EXTRACT = """\
| data | k | method | kept | kept % | info loss | seconds | levels |
|---|---|---|---|---|---|---|---|
| ESSnet census 25k | 5 | pprl extract | 24,669 | 97.3 | 0.074 | 0.306 | dob=5-year band |

ESSnet census 25k, k=5: pprl keeps +24,669 records vs naive (97.3 % vs 0.0 %), information loss 0.074 vs 1.000 (textbook 0.972, 2.8 % kept)
"""


def by_measure(rows):
    return {(r.measure, r.note.split(";")[0]): r for r in rows}


def test_encode_speed(run_all):
    rows = run_all.parse_encode_speed(ENCODE)
    speed, cpu, native = rows
    assert (speed.pprl, speed.peer_value, speed.ratio) == ("139,231", "3,481", "40.0x")
    assert "identical CLKs: True" in speed.note
    assert (cpu.pprl, cpu.peer_value, cpu.ratio) == ("0.06", "2.26", "37.7x")
    assert native.pprl == "23,597" and native.peer == "–"


def test_encode_memory_takes_the_last_line(run_all):
    out = ("   1,000,000 records  peak RSS      500 MiB  encode     40,000 records/s\n"
           "   2,000,000 records  peak RSS      512 MiB  encode     41,500 records/s\n")
    (row,) = run_all.parse_encode_memory(out)
    assert row.pprl == "512 MiB" and row.note.startswith("2,000,000 records")


def test_compare_speed_old_and_new_formats(run_all):
    rows = run_all.parse_compare_speed(COMPARE)
    assert len(rows) == 4
    wall, cpu = rows[0], rows[1]
    assert wall.measure == "M pairs/s, wall, pprl on 2 threads"
    assert (wall.pprl, wall.peer_value, wall.ratio) == ("208.3", "51.7", "4.0x")
    assert "same pairs as anonlink: True" in wall.note
    assert (cpu.pprl, cpu.peer_value, cpu.ratio) == ("454.6", "129.0", "3.5x")
    assert "same pairs as anonlink: False" in rows[2].note      # the second set's last row
    assert rows[3].pprl == "486.6" and rows[3].note.startswith("clkhash ESSnet")


def test_compare_memory(run_all):
    out = ("100,000 x 20,000 at threshold 0.9: 10,000 pairs in 3.0 s wall, 1.2 s CPU (659 M "
           "pairs/s on 2 threads)\n  inputs 0.014 GiB; RSS 0.300 GiB before dice, peak 0.301 GiB "
           "during it (+0.001 GiB for the comparison)\n")
    (row,) = run_all.parse_compare_memory(out)
    assert row.pprl == "+0.001 GiB" and "659 M pairs/s" in row.note


def test_solve_reads_link_auto_against_the_oracle(run_all):
    low, fake = run_all.parse_solve(SOLVE)
    assert (low.pprl, low.peer_value, low.ratio) == ("0.9970", "0.9797", "+0.0173")
    assert "estimated without truth 0.995/0.993" in low.note
    assert (fake.pprl, fake.ratio) == ("0.1874", "-0.5624")


def test_disclosure_sums_over_tables(run_all):
    hidden, cells, attack, together = run_all.parse_disclosure(DISCLOSURE)
    assert (hidden.pprl, hidden.peer_value, hidden.ratio) == ("100", "300", "3.0x")
    assert "2 tables" in hidden.note
    assert (cells.pprl, cells.peer_value) == ("6", "12")
    assert (attack.pprl, attack.peer_value) == ("0", "13")
    assert together.peer_value == "15" and together.pprl == "0 (protected together)"


def test_extract(run_all):
    kept, loss = run_all.parse_extract(EXTRACT)
    assert (kept.pprl, kept.peer_value) == ("97.3 %", "0.0 %")
    assert (loss.pprl, loss.peer_value) == ("0.074", "1.000")
    assert "textbook 0.972" in loss.note


@pytest.mark.parametrize("parser", ["parse_encode_speed", "parse_encode_memory", "parse_job",
                                    "parse_attacks",
                                    "parse_compare_speed", "parse_compare_memory", "parse_solve",
                                    "parse_disclosure", "parse_extract"])
def test_unknown_output_is_an_error_not_a_guess(run_all, parser):
    with pytest.raises(run_all.SummaryError, match="no "):
        getattr(run_all, parser)("something else entirely\n| a | b |\n|---|---|\n| 1 | 2 |\n")


def test_block_reads_the_json_results(run_all, tmp_path, monkeypatch):
    monkeypatch.setattr(run_all, "RESULTS", tmp_path)
    monkeypatch.setattr(run_all, "ROOT", tmp_path)
    with pytest.raises(run_all.SummaryError, match="was not written"):
        run_all.parse_block("", 100)
    rows = [
        {"run": "pprl, with blocking keys", "method": "signatures", "seconds_link": 10.0,
         "recall": 0.991, "comparisons": 2e6, "peak_rss_gib": 0.5},
        {"run": "pprl, without blocking keys", "method": "lsh", "seconds_link": 30.0,
         "recall": 0.99, "comparisons": 8e6, "peak_rss_gib": 0.6},
        {"run": "blocklib psig", "seconds_blocklib": 35.0, "seconds_compare": 5.0, "recall": 0.95,
         "comparisons": 4e6, "peak_rss_gib_peer": 2.0},
    ]
    (tmp_path / "block-100.json").write_text(json.dumps(rows))
    link, recall, comparisons, memory, plain = run_all.parse_block("", 100)
    assert (link.pprl, link.peer_value, link.ratio) == ("10.0", "40.0", "4.0x")
    assert "blocking=signatures" in link.note
    assert (recall.pprl, recall.peer_value) == ("0.9910", "0.9500")
    assert comparisons.ratio == "2.0x"
    assert memory.pprl == "0.50 GiB" and memory.peer == "–"
    assert "blocking=lsh" in plain.note


def test_ratio_format(run_all):
    assert run_all._times(10.0, 2.0) == "5.0x"
    assert run_all._times(1.0, 1.05) == "0.95x"
    assert run_all._times(4e8, 6.68e4, higher_is_better=False) == "0.00017x"
    assert run_all._times(0.0, 3.0) == "–"


def test_output_block_keeps_tables_and_fences_text(run_all):
    text = run_all._output_block("intro\n| a | b |\n|---|---|\n| 1 | 2 |\ntail line\n")
    assert text == "```text\nintro\n```\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n```text\ntail line\n```"
    text = run_all._output_block('{"n": 1}\nsummary\n{"n": 2}\n')
    assert text == "```text\nsummary\n```\n\n(2 one-line result records left out; the script's own output has them.)"


def test_update_docs_replaces_only_the_marked_part(run_all, tmp_path):
    page = tmp_path / "performance.md"
    page.write_text(f"# P\n\nintro\n\n{run_all.BEGIN}\nold numbers\n{run_all.END}\n\nafter\n")
    run_all.update_docs(page, "| stage | measure | pprl |\n")
    assert page.read_text() == (f"# P\n\nintro\n\n{run_all.BEGIN}\n| stage | measure | pprl |\n"
                                f"{run_all.END}\n\nafter\n")
    page.write_text("no markers\n")
    with pytest.raises(SystemExit, match="expected one"):
        run_all.update_docs(page, "x")


def test_saved_runs_round_trip(run_all, tmp_path):
    run = run_all.Run("extract", "quick", ["python", "benchmarks/bench_extract.py"],
                      started="2026-01-02T03:04:05+00:00", seconds=9.5, returncode=0,
                      stdout=EXTRACT, stderr="x\n" * 200, load=(1.5, 2.5))
    run.save(tmp_path)
    back = run_all.Run.load_saved(tmp_path, "extract")
    assert back.stdout == EXTRACT and back.load == (1.5, 2.5) and back.mode == "quick"
    assert len(back.stderr.splitlines()) == 50
    assert run_all.Run.load_saved(tmp_path, "solve") is None
    bench = next(b for b in run_all.BENCHMARKS if b.name == "extract")
    result = run_all.outcome(bench, back)
    assert result.error is None and len(result.rows) == 2
    failed = run_all.outcome(bench, run_all.Run("extract", "quick", [], failure="exit code 1"))
    assert failed.error == "exit code 1" and failed.rows == []


JOB = """\
## pprl job: 3 agencies x 5,000 records

load average at start [1.0, 1.0, 1.0] on 2 CPUs (shared machine)

### year 0

| stage | seconds |
|---|---|
| pairs | 4.0 |
| **total (wall, fresh process)** | **6.5** |

peak RSS 0.40 GiB; 15,000 records in 8,100 entities
F1 0.9712 (precision 0.9850, recall 0.9578) against the truth, over pairs of records in one entity; the job's own estimate of its pairwise links (no truth): precision 0.9800, recall 0.9600

### year 1 (previous: year 0's table)

| stage | seconds |
|---|---|
| **total (wall, fresh process)** | **7.0** |

peak RSS 0.41 GiB; 15,000 records in 8,200 entities
F1 0.9700 (precision 0.9840, recall 0.9560) against the truth, over pairs of records in one entity; the job's own estimate of its pairwise links (no truth): precision 0.9800, recall 0.9600
stable ids: 5,900 of the 6,000 people whose records did not change kept their entity id (98.33 %); changes: {}

### year 1 on a Dask LocalCluster (2 workers, cluster start 3.0 s)

| stage | seconds |
|---|---|
| **total (wall, fresh process)** | **20.0** |

peak RSS 0.50 GiB; 15,000 records in 8,200 entities
load average at end [1.0, 1.0, 1.0]
"""


def test_job_reads_each_year_and_id_stability(run_all):
    rows = run_all.parse_job(JOB)
    assert [r.measure for r in rows] == [
        "year 0: wall seconds, all stages", "year 0: peak memory", "year 0: F1 of the entity table",
        "year 1: wall seconds, all stages", "year 1: peak memory", "year 1: F1 of the entity table",
        "people whose records did not change and kept their id"]
    assert rows[0].pprl == "6.5" and "15,000 records into 8,100 entities" in rows[0].note
    assert rows[4].pprl == "0.41 GiB" and rows[5].pprl == "0.9700"
    assert rows[6].pprl == "98.33 %" and "5,900 of 6,000" in rows[6].note


ATTACKS = """\
# bench_attacks: n=2000 per extract, 1000 true pairs, numpy 2.4.6, pprl 0.1.0
none: F1 best 0.9800, auto 0.9850; correct 1-1 %: ff:frequency 7.3 (10.0 s)
recommended: F1 best 0.9750, auto 0.9700; correct 1-1 %: ff:frequency - (12.0 s)

| hardening | bits | F1 best | dF1 | F1 auto | ff:frequency | clk:pattern | max 1-1 |
|---|---|---|---|---|---|---|---|
| none | 1024 | 0.9800 | +0.00 | 0.9850 | 7.3 / 7.3 | 0.6 / 3.3 | 9.7 |
| recommended | 1024 | 0.9750 | -0.50 | 0.9700 | - | 0.0 / 0.0 | 0.0 |

wrote benchmarks/results/attacks-2000.json
"""


def test_attacks_unhardened_against_recommended(run_all):
    reid, f1 = run_all.parse_attacks(ATTACKS)
    assert (reid.pprl, reid.peer_value) == ("0.0", "9.7")
    assert (f1.pprl, f1.peer_value, f1.ratio) == ("0.9750", "0.9800", "-0.0050")
    assert "2,000 records per extract" in f1.note
    with pytest.raises(run_all.SummaryError, match="'recommended' row"):
        run_all.parse_attacks(ATTACKS.replace("| recommended |", "| other |"))
