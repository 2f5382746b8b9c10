"""The ``asabench`` console command: one entry point, one module per command group.

A command module exposes ``register(subparsers)``, which adds its subparsers and sets
``func`` (called with the parsed namespace, returning an exit status). Command modules
parse and print; the job is a library function. Errors are handled here, once:

* exit 2, invalid input: a manifest, spec, dataset, source bank, prediction folder,
  configuration or option that cannot be used (the library's ``ValueError`` family:
  ``ManifestError``, ``SpecError``, ``DatasetFormatError``, ``SubmissionError``,
  ``ScoringError``, ``PathConfinementError``, ``OutputOverlapsInputError``, ...; a
  ``SourceError``; an input that does not exist; an output that exists and may not be
  replaced);
* exit 1, the job failed: a worker process died, a file could not be written (``OSError``),
  a ``RuntimeError`` inside the job;
* anything else is a bug and keeps its traceback.

Each problem is one line on stderr, ``asabench <command>: <message>``; an error that lists
several problems (``SubmissionError.problems``) gives one line each. Set
``ASABENCH_TRACEBACK=1`` to re-raise instead, with the full traceback, when debugging.
argparse's own usage errors exit 2 as usual.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from concurrent.futures.process import BrokenProcessPool
from typing import Iterator, Sequence

from asabench.simulate.executors.local import WorkerDiedError

#: Modules that contribute subcommands, in the order ``--help`` lists them.
COMMAND_MODULES: list[str] = [
    "asabench.benchmark.cli.demo",
    "asabench.benchmark.cli.simulate",
    "asabench.benchmark.cli.dataset",
    "asabench.benchmark.cli.publish",
    "asabench.benchmark.cli.score",
    "asabench.benchmark.cli.prepare",
    "asabench.benchmark.cli.rir",
    "asabench.benchmark.cli.fidelity",
    "asabench.benchmark.cli.suites",
    "asabench.benchmark.cli.evaluate",
    "asabench.benchmark.cli.train",
    "asabench.benchmark.cli.run",
    "asabench.benchmark.cli.baselines",
    "asabench.benchmark.cli.leaderboard",
    "asabench.benchmark.cli.submit",
    "asabench.benchmark.cli.plot",
]

#: Exit statuses (ARCHITECTURE.md): done, the job failed, invalid input.
EXIT_OK, EXIT_FAILED, EXIT_INVALID = 0, 1, 2
#: Lines printed for one error's list of problems before a count of the rest.
MAX_PROBLEM_LINES = 200
#: Environment variable that makes the handler re-raise (full traceback) for debugging.
TRACEBACK_ENV = "ASABENCH_TRACEBACK"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="asabench",
        description="Spatial auditory scene analysis: simulate datasets, score systems, size models.",
        epilog="Exit status: 0 done, 1 the job failed, 2 invalid input. "
               f"{TRACEBACK_ENV}=1 shows the traceback of a handled error.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def _input_error_types() -> tuple[type[BaseException], ...]:
    """Errors meaning "this input cannot be used" that are not ``ValueError``s."""
    from asabench.simulate.scene.sampling import BadSourceError
    from asabench.simulate.sources.base import SourceError

    return (SourceError, BadSourceError, FileNotFoundError, NotADirectoryError, IsADirectoryError,
            FileExistsError)


def exit_status(exc: BaseException) -> int | None:
    """Exit status for ``exc`` (1 or 2), or ``None`` for an unexpected error (a bug)."""
    if isinstance(exc, BrokenProcessPool):  # a RuntimeError, but never the input's fault
        return EXIT_FAILED
    if isinstance(exc, ValueError) or isinstance(exc, _input_error_types()):
        return EXIT_INVALID
    if isinstance(exc, (OSError, RuntimeError, MemoryError)):
        return EXIT_FAILED
    return None


def problem_lines(exc: BaseException) -> Iterator[str]:
    """The lines that describe ``exc``, one per problem, without the command prefix."""
    if isinstance(exc, WorkerDiedError):  # already says what died and what to do
        yield f"{exc}; nothing more was written"
        return
    if isinstance(exc, BrokenProcessPool):
        yield (f"a worker process died ({exc or 'no reason given'}); nothing more was written. "
               "Out of memory? Rerun with fewer --workers (e.g. --workers 1)")
        return
    if isinstance(exc, MemoryError):
        yield "out of memory; rerun with fewer --workers or a smaller request"
        return
    problems = getattr(exc, "problems", None)
    if isinstance(problems, (list, tuple)) and problems:
        base = getattr(exc, "pred_dir", None)
        for k, problem in enumerate(problems):
            if k == MAX_PROBLEM_LINES:
                yield f"... and {len(problems) - k} more problem(s)"
                break
            text = " ".join(part.strip() for part in str(problem).splitlines()) or "?"
            # problems name files relative to the prediction folder; the line names it whole
            if base is not None and not text.startswith(str(base)):
                text = f"{base}{os.sep}{text}"
            yield text
        return
    text = str(exc) or type(exc).__name__
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if exit_status(exc) == EXIT_FAILED and not isinstance(exc, OSError):
        lines[-1] += f" ({TRACEBACK_ENV}=1 shows where)"
    yield from lines


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``asabench`` with ``argv`` (default: ``sys.argv[1:]``); returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_INVALID
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        if os.environ.get(TRACEBACK_ENV) == "1":
            raise
        print(f"asabench {args.command}: interrupted; files already completed are kept", file=sys.stderr)
        return 130
    except Exception as exc:
        status = exit_status(exc)
        if status is None or os.environ.get(TRACEBACK_ENV) == "1":
            raise
        for line in problem_lines(exc):
            print(f"asabench {args.command}: {line}", file=sys.stderr)
        return status


if __name__ == "__main__":
    sys.exit(main())
