"""The ``vecprop`` command line: one parser, one small module per subcommand, errors without tracebacks."""
from __future__ import annotations

import argparse
import errno
import os
import sys
from collections.abc import Sequence

from .errors import EXIT_USER, REFUSED_WRITES, UserError

__all__ = ["main", "build_parser", "UserError"]

DESCRIPTION = """\
Feed-forward neural networks written as the vectorized back-propagation derivation
(N. Rojas, 2019): forward (1), cost (2), backward (A)-(D)."""

EPILOG = """\
start here:
  vecprop datasets                                   what --data accepts
  vecprop train --data digits --hidden 128           train, then look in runs/
  vecprop explain --layers 64,128,10                 the equations with shapes, FLOPs, memory
  vecprop playground                                 watch (1) and (A)-(D) train, in the browser
run `vecprop COMMAND --help` for a command's options; docs/cli.md has the details."""


class Parser(argparse.ArgumentParser):
    """argparse, with its mistakes in vecprop's one error-line format (the usage first, as argparse does)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(EXIT_USER, f"vecprop: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    from .. import __version__
    from . import datasets_cmd, evaluate, explain, export_cmd, fetch_cmd, gradcheck_cmd, playground_cmd, predict, train

    parser = Parser(prog="vecprop", description=DESCRIPTION, epilog=EPILOG,
                    formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"vecprop {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in (train, evaluate, predict, export_cmd, gradcheck_cmd, explain, datasets_cmd, fetch_cmd,
                   playground_cmd):
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one ``vecprop`` command; return its exit status.

    0 success; 1 a check failed (gradcheck) or a failure outside the user's control (download,
    divergence); 2 a user mistake (bad flag, missing file, unknown data set, mismatched model, a
    size that does not fit in memory) or a file the system refused to write (a full disk, a
    quota, a read-only folder), reported as one ``vecprop: error: ...`` line on stderr. Bugs
    still raise with a traceback.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # argparse reports bad flags itself, with status 2 (0 for --help)
        return int(exit_.code or 0)
    if args.command is None:
        parser.print_usage(sys.stderr)
        print("vecprop: error: choose a command (train, evaluate, predict, export, gradcheck, explain, datasets, "
              "fetch, playground); see vecprop --help", file=sys.stderr)
        return EXIT_USER
    try:
        return int(args.run(args))
    except UserError as err:
        sys.stdout.flush()
        print(f"vecprop: error: {err}", file=sys.stderr)
        return err.code
    except KeyboardInterrupt:
        print("\nvecprop: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `vecprop ... | head`: the reader left; say nothing more (Python's own advice)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except MemoryError as err:  # a size no estimate caught: still one line, saying what to change
        sys.stdout.flush()
        print(f"vecprop: error: out of memory ({err or 'MemoryError'}); use smaller sizes (--hidden, --batch-size, "
              "--n-samples, a smaller data file)", file=sys.stderr)
        return EXIT_USER
    except OSError as err:
        if err.errno not in REFUSED_WRITES:
            raise  # anything else is a bug, with its traceback
        sys.stdout.flush()
        fix = "; free some space and run again" if err.errno in (errno.ENOSPC, errno.EDQUOT) else ""
        print(f"vecprop: error: {err.filename or 'a file'}: {err.strerror}{fix}", file=sys.stderr)
        return EXIT_USER
