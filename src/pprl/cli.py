"""The ``pprl`` command line: encode, link, job, audit, release, extract, demo.

Exit codes: 0 success, 1 data error (bad file, column, value, schema, secret), 2 usage error.
Errors are one line naming what is at fault; ``--debug`` adds the traceback. The secret is only ever
read from a file or an environment variable, never from the command line.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from . import __version__
from ._log import logger
from .errors import PprlError

EXIT_DATA = 1
EXIT_USAGE = 2


class UsageError(PprlError):
    """A command-line argument is invalid (exit code 2)."""


def threshold_arg(text: str) -> float | str:
    """``auto`` or a number in (0, 1]."""
    if text == "auto":
        return text
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"threshold must be 'auto' or a number, got {text!r}") from None
    if not 0.0 < value <= 1.0:
        raise argparse.ArgumentTypeError(f"threshold must be in (0, 1], got {text}")
    return value


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text}")
    return value


class Parser(argparse.ArgumentParser):
    """argparse that never echoes stray values: a mistyped option could be followed by a secret."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str):
        head, sep, rest = message.partition("unrecognized arguments: ")
        if sep:
            tokens = rest.split()
            options = [t for t in tokens if t.startswith("-")]
            hidden = len(tokens) - len(options)
            message = head + sep + " ".join(options) + (f" (and {hidden} values, not shown)"
                                                        if hidden else "")
        super().error(message)


def build_parser() -> argparse.ArgumentParser:
    common = Parser(add_help=False)
    common.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS,
                        help="only warnings and errors")
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="debug logging and tracebacks")
    parser = Parser(
        prog="pprl", parents=[common],
        description="Privacy-preserving record linkage: encode identifiers into keyed Bloom-filter "
                    "encodings, link encodings, publish safe aggregates.")
    parser.add_argument("--version", action="version", version=f"pprl {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    enc = sub.add_parser("encode", parents=[common], help="encode a CSV/Parquet extract into CLKs",
                         description="Encode identifiers into keyed Bloom-filter encodings (CLKs). "
                                     "CSV cells are read verbatim as text.")
    enc.add_argument("input", type=Path, help="CSV or Parquet file with one record per row")
    enc.add_argument("--schema", type=Path, required=True,
                     help="linkage schema (pprl JSON or clkhash v3)")
    secret = enc.add_mutually_exclusive_group(required=True)
    secret.add_argument("--secret-file", type=Path,
                        help="file holding the shared secret (one trailing newline is stripped)")
    secret.add_argument("--secret-env", metavar="VAR", help="environment variable holding the secret")
    enc.add_argument("--id-column", help="column with record ids (default: row number)")
    enc.add_argument("--chunk-rows", type=positive_int, default=200_000,
                     help="rows encoded at a time; bounds memory (default 200000)")
    enc.add_argument("--out", type=Path, required=True,
                     help="output: .parquet (pprl) or .json (clkhash/anonlink format)")
    enc.set_defaults(func=cmd_encode)

    link = sub.add_parser("link", parents=[common], help="link two encodings files one-to-one",
                          description="Compare two encodings files and write one-to-one links.")
    link.add_argument("a", type=Path, help="encodings of the first party (.parquet from `pprl encode`)")
    link.add_argument("b", type=Path, help="encodings of the second party")
    link.add_argument("--threshold", type=threshold_arg, default="auto",
                      help="Dice threshold in (0, 1], or 'auto' to estimate it (default)")
    link.add_argument("--solver", choices=["greedy", "optimal"], default="greedy",
                      help="one-to-one solver (default greedy)")
    link.add_argument("--blocking", choices=["auto", "none", "signatures", "lsh"], default="auto",
                      help="candidate reduction: auto (default) picks all pairs for small inputs, "
                           "else the encodings' keyed signatures, else LSH over the bits")
    link.add_argument("--workers", type=positive_int, default=None, help="threads (default: all cores)")
    link.add_argument("--out", type=Path, required=True, help="links file: .csv or .parquet")
    link.set_defaults(func=cmd_link)

    job = sub.add_parser("job", parents=[common], help="the annual multi-agency matching job",
                         description="Link every agency's encodings into one entity table with "
                                     "stable ids. Resumable: finished stages are skipped.")
    job_sub = job.add_subparsers(dest="job_command", required=True, metavar="ACTION")
    job_run = spec_command(job_sub, "run", cmd_job_run, "job spec (TOML)", parents=[common],
                           help="run (or resume) the job")
    job_run.add_argument("--scheduler", metavar="ADDRESS",
                         help="Dask scheduler for blocking and comparison (default: this machine, "
                              "or the spec's [dask] scheduler)")
    spec_command(job_sub, "status", cmd_job_status, "job spec (TOML)", parents=[common],
                 help="which stages are done")

    audit = sub.add_parser("audit", parents=[common], help="attack your own encodings",
                           description="Run the attack lab (frequency, pattern-mining and graph-"
                                       "matching attacks) against encodings with a plaintext "
                                       "reference population, and print a verdict.")
    audit.add_argument("encodings", type=Path, help="encodings Parquet file from `pprl encode`")
    audit.add_argument("--reference", type=Path, required=True,
                       help="CSV of the attacker's plaintext population (columns named as the "
                            "schema's features)")
    audit.add_argument("--schema", type=Path, help="the schema the encodings were made with")
    audit.set_defaults(func=cmd_audit)

    spec_command(sub, "release", cmd_release, "release spec (TOML)", parents=[common],
                 help="publish dashboard tables from a spec",
                 description="Write suppressed and differentially private tables (CSV, Parquet, "
                             "JSON with metadata) as a TOML release spec says. A spec that would "
                             "overspend its privacy budget writes nothing.")

    spec_command(sub, "extract", cmd_extract, "extract spec (TOML; JSON if the suffix is .json)",
                 parents=[common], help="de-identified research extract from a spec",
                 description="Pseudonymise ids, drop direct identifiers and generalise "
                             "quasi-identifiers to k-anonymity, as a TOML spec says; writes the "
                             "extract, a risk/utility report and a manifest.")

    demo = sub.add_parser("demo", parents=[common], help="the whole flow on generated data",
                          description="Generate two agency extracts, encode, link, evaluate against "
                                      "the truth and publish a suppressed and a DP table.")
    demo.add_argument("--records", type=positive_int, default=5000,
                      help="records per agency extract (default 5000)")
    demo.add_argument("--seed", type=int, default=2026, help="random seed (default 2026)")
    demo.set_defaults(func=cmd_demo)
    return parser


def spec_command(sub, name: str, func, spec_help: str, **parser_kwargs) -> argparse.ArgumentParser:
    """A subcommand of ``sub`` whose one positional argument is a spec file, run by ``func``."""
    command = sub.add_parser(name, **parser_kwargs)
    command.add_argument("spec", type=Path, help=spec_help)
    command.set_defaults(func=func)
    return command


def setup_logging(quiet: bool, debug: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger.handlers[:] = [handler]
    logger.setLevel(logging.DEBUG if debug else logging.WARNING if quiet else logging.INFO)
    logger.propagate = False


def show_progress(args: argparse.Namespace) -> bool:
    """Progress bars only on an interactive terminal and when not --quiet."""
    return sys.stderr.isatty() and not getattr(args, "quiet", False)


def cmd_encode(args: argparse.Namespace) -> None:
    from . import encode
    from .encodings import EncodingsWriter
    from .io import iter_table
    from .secret import Secret

    schema = encode.Schema.load(args.schema)
    secret = Secret.from_file(args.secret_file) if args.secret_file else Secret.from_env(args.secret_env)
    frames = iter_table(args.input, chunk_rows=args.chunk_rows)
    batches = encode.clks_chunks(frames, schema, secret, id_column=args.id_column,
                                 progress=show_progress(args))
    if args.out.suffix.lower() == ".json":
        from .encodings import Encodings

        enc = Encodings.concat(list(batches))
        enc.write_json(args.out)
        rows = len(enc)
    else:
        with EncodingsWriter(args.out) as writer:
            for batch in batches:
                writer.write(batch)
        rows = writer.rows
    logger.info("encoded %d records (%d-bit CLKs) from %s -> %s", rows, schema.nbits, args.input,
                args.out)


def cmd_link(args: argparse.Namespace) -> None:
    from . import block, solve
    from .io import write_frame

    auto = args.threshold == "auto"
    cands, report = block.candidates_from_files(
        args.a, args.b, threshold=solve.AUTO_CANDIDATE_THRESHOLD if auto else args.threshold,
        top_k=solve.AUTO_TOP_K if auto else None, blocking=args.blocking, workers=args.workers,
        progress=show_progress(args))
    logger.info("blocking: %s", report)
    links = solve.link(cands, threshold=args.threshold, solver=args.solver)
    write_frame(links[["left_id", "right_id", "score"]], args.out)
    logger.info("%s", describe_links(links))
    logger.info("wrote %d one-to-one links to %s", len(links), args.out)


def describe_links(links) -> str:
    """One line on how the links were decided (threshold, scoring, estimated quality)."""
    info = links.attrs.get("threshold", {})
    parts = [f"{len(links)} links"]
    if isinstance(info, dict):
        if "threshold" in info:
            parts.append(f"threshold {info['threshold']:.3f} ({info.get('method', 'fixed')})")
        if info.get("scoring"):
            parts.append(f"scoring {info['scoring']}")
        if info.get("precision") is not None and info.get("recall") is not None:
            parts.append(f"estimated precision {info['precision']:.3f}, recall {info['recall']:.3f}")
    return ", ".join(parts)


def cmd_job_run(args: argparse.Namespace) -> None:
    from . import job

    result = job.run(args.spec, scheduler=args.scheduler, progress=show_progress(args))
    logger.info("%s", result)


def cmd_job_status(args: argparse.Namespace) -> None:
    from . import job

    sys.stdout.write(f"{job.status(args.spec)}\n")


def cmd_audit(args: argparse.Namespace) -> None:
    from . import attack

    report = attack.audit_files(args.encodings, args.reference, schema=args.schema)
    sys.stdout.write(f"{report}\n")


def cmd_release(args: argparse.Namespace) -> None:
    from . import disclosure

    written = disclosure.release(args.spec)
    for table, files in written.items():
        logger.info("%s: %s", table, ", ".join(str(p) for p in files.values()))


def cmd_extract(args: argparse.Namespace) -> None:
    from . import disclosure

    result = disclosure.extract_from_spec(args.spec)
    if not getattr(args, "quiet", False):
        sys.stdout.write(result.report.to_markdown() + "\n")


def cmd_demo(args: argparse.Namespace) -> None:
    from .demo import run_demo

    run_demo(records=args.records, seed=args.seed, progress=show_progress(args))


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    debug = getattr(args, "debug", False)
    setup_logging(getattr(args, "quiet", False), debug)
    try:
        args.func(args)
    except UsageError as err:
        parser.exit(EXIT_USAGE, f"pprl {args.command}: error: {err}\n")
    except (PprlError, OSError) as err:
        if debug:
            raise
        sys.stderr.write(f"pprl {args.command}: error: {err}\n")
        return EXIT_DATA
    except KeyboardInterrupt:
        sys.stderr.write("pprl: interrupted; no output was written\n")
        return 130
    return 0
