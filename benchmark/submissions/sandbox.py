"""Run a submitted predictor (``package.module:factory``) in a child process with a time limit.

Two jobs use the one child-process runner here (:func:`run_child`):

* ``asabench evaluate --predictor ENTRY --time-limit SECONDS`` calls
  :func:`predict_in_subprocess`: the child imports the entry, checks it against the suite's
  tasks and contract, writes the predictions folder and a small JSON report; the parent then
  scores what it wrote. The limit covers the whole child (its Python start, the import,
  model loading, every scene).
* ``asabench validate-model ENTRY --time-limit SECONDS`` calls :func:`validate_in_subprocess`:
  the child runs :func:`~asabench.benchmark.submissions.validate.validate_model` and, as each
  check begins, writes the report so far and the name of that check to a progress file. The
  limit's clock starts when the first check (``import``) begins, so a slow interpreter start
  does not eat a small limit (that start is bounded on its own by :data:`STARTUP_LIMIT_S`);
  on overrun the parent names the check that was running.

The child is a fresh Python process (``python -m asabench.benchmark.submissions.sandbox
REQUEST.json``) started in its own session (process group), so when it overruns the limit
the whole group (with any processes it started) is killed with ``SIGKILL``.

The child sees the parent's import path (``PYTHONPATH`` = the parent's ``sys.path``), so
an entry importable here is importable there. Its standard output is discarded; its
standard error goes to a file and is kept to report why it failed. A predictor that is
invalid (cannot be imported, lacks a method, returns a wrong shape) exits with status 2 and
the error becomes a :class:`~asabench.benchmark.predict.PredictorError` here (exit 2); any
other failure of the child is a :class:`PredictorCrashedError` (exit 1); an overrun is a
:class:`PredictorTimeoutError` (exit 1).

This isolates time and memory faults (a hang, an endless loop, a crash in native code),
not a hostile program: the child runs with the user's rights.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from asabench.benchmark.predict import PredictionReport, PredictorError
from asabench.simulate.io.files import Pathlike, atomic_write_text

__all__ = ["PredictorTimeoutError", "PredictorCrashedError", "ChildOutcome", "run_child", "predict_in_subprocess",
           "validate_in_subprocess", "child_main", "INVALID_EXIT", "STARTUP_LIMIT_S"]

#: The child's exit status for an invalid predictor (the parent raises PredictorError).
INVALID_EXIT: int = 2
#: Seconds a child may take to start (Python, torch, asabench) before a limit whose clock
#: starts at a marker file begins; importing torch and asabench took 12-16 s here under load.
STARTUP_LIMIT_S: float = 300.0
#: How often the parent looks for the marker file while it waits for it (seconds).
_POLL_S: float = 0.05


class PredictorTimeoutError(TimeoutError):
    """The predictor's child process overran its time limit and was killed.

    A ``TimeoutError`` (an ``OSError``): the CLI's handler reports the job as failed (exit 1)
    with this one line, without a pointer to a traceback that would show nothing more.
    """


class PredictorCrashedError(RuntimeError):
    """The predictor's child process failed for a reason other than an invalid predictor."""


def _report_from_dict(d: dict[str, Any]) -> PredictionReport:
    return PredictionReport(folders={k: Path(v) for k, v in d.get("folders", {}).items()},
                            num_scenes=int(d.get("num_scenes", 0)),
                            seconds={k: float(v) for k, v in d.get("seconds", {}).items()},
                            notes=list(d.get("notes", [])),
                            silent_clues=int(d.get("tse_sources_without_direction", 0)))


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "no message"


@dataclass
class ChildOutcome:
    """How a child ended: ``timed_out`` (killed), else its exit status and last line of standard error.

    ``seconds`` counts from the limit's start (the child's start, or the marker file's
    appearance); ``clock_started`` is False when the child never wrote the marker.
    """

    returncode: int | None
    message: str
    timed_out: bool
    seconds: float
    clock_started: bool = True


def run_child(request: dict[str, Any], tmp: Pathlike, time_limit: float, *,
              clock_from: Pathlike | None = None) -> ChildOutcome:
    """Run ``python -m asabench.benchmark.submissions.sandbox`` on ``request`` with a time limit.

    Parameters
    ----------
    request : the job for :func:`child_main` (JSON), with its ``job`` name.
    tmp : a private folder for the request and the child's standard error.
    time_limit : seconds before the child's process group is killed with SIGKILL.
    clock_from : when given, the limit counts from the moment this file exists (the child
        writes it when its own work begins); before that the child has
        :data:`STARTUP_LIMIT_S` seconds more. Without it the limit counts from the start.
    """
    tmp = Path(tmp)
    request_path, err_path = tmp / "request.json", tmp / "stderr.txt"
    request_path.write_text(json.dumps(request), encoding="utf-8")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([p for p in sys.path if p] + [env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    marker = Path(clock_from) if clock_from is not None else None
    with open(err_path, "wb") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "asabench.benchmark.submissions.sandbox", str(request_path)],
                                stdout=subprocess.DEVNULL, stderr=err, env=env, start_new_session=True)
    start = t0 if marker is None else None
    timed_out = False
    while True:
        now = time.perf_counter()
        if start is None and marker.exists():
            start = now
        deadline = start + time_limit if start is not None else t0 + STARTUP_LIMIT_S + time_limit
        if now >= deadline:
            timed_out = True
            break
        try:
            proc.wait(timeout=deadline - now if start is not None else min(_POLL_S, deadline - now))
            break
        except subprocess.TimeoutExpired:
            continue
    if timed_out:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
    seconds = time.perf_counter() - (start if start is not None else t0)
    message = _last_line(err_path.read_text(encoding="utf-8", errors="replace"))
    return ChildOutcome(None if timed_out else proc.returncode, message, timed_out, seconds, start is not None)


def predict_in_subprocess(spec: str, suite: Any, data: Pathlike, pred_dir: Pathlike, *, split: str,
                          batch_size: int = 1, time_limit: float) -> tuple[PredictionReport, dict[str, Any]]:
    """Write ``spec``'s predictions of the suite's tasks in a child process; ``(report, system record)``.

    Parameters
    ----------
    spec : ``module:attr`` (:func:`asabench.benchmark.predict.load_predictor`).
    suite : the :class:`~asabench.benchmark.suites.Suite` (its file is re-read by the child).
    data, split : the dataset folder and split to predict.
    pred_dir : the predictions folder the child writes (``pred_dir/<task>/...``).
    time_limit : seconds for the whole child (import, model loading, every scene).

    Raises
    ------
    PredictorTimeoutError
        The child ran longer than ``time_limit`` (it and its process group are killed).
    PredictorError
        The predictor is invalid (the child's own message).
    PredictorCrashedError
        The child failed otherwise (its last line of standard error).
    """
    pred_dir = Path(pred_dir)
    with tempfile.TemporaryDirectory(prefix="asabench-sandbox-") as tmp:
        result = Path(tmp) / "report.json"
        outcome = run_child({"job": "predict", "spec": spec, "suite": str(suite.path), "data": str(data),
                             "out": str(pred_dir), "split": split, "batch_size": int(batch_size),
                             "report": str(result)}, tmp, time_limit)
        if outcome.timed_out:
            raise PredictorTimeoutError(f"predictor {spec} did not finish within the time limit of {time_limit:g} s "
                                        f"(killed after {outcome.seconds:.1f} s); predictions are "
                                        "incomplete and nothing was scored")
        if outcome.returncode == INVALID_EXIT:
            raise PredictorError(outcome.message)
        if outcome.returncode != 0 or not result.is_file():
            raise PredictorCrashedError(f"predictor {spec}: the child process failed (exit status "
                                        f"{outcome.returncode}): {outcome.message}")
        record = json.loads(result.read_text(encoding="utf-8"))
    system = dict(record["system"])
    system["sandbox"] = {"time_limit_s": time_limit, "wall_s": round(outcome.seconds, 3)}
    return _report_from_dict(record["report"]), system


def validate_in_subprocess(entry: str, suite: Any, *, data: Pathlike | None, split: str | None, time_limit: float,
                           max_seconds_per_clip: float | None = None) -> Any:
    """:func:`~asabench.benchmark.submissions.validate.validate_model` in a child process killed at ``time_limit``.

    The limit counts from the moment the first check begins. Returns the child's
    :class:`~asabench.benchmark.submissions.validate.ValidationReport`; when the child
    overran the limit or died, the report holds the checks it finished, a ``FAIL`` row
    for the check that was running, and ``stopped`` says what happened (the job failed).

    Raises
    ------
    PredictorError
        The child refused its input (the suite or dataset; the parent checks these first).
    """
    from asabench.benchmark.submissions.validate import ValidationReport

    with tempfile.TemporaryDirectory(prefix="asabench-sandbox-") as tmp:
        result, progress = Path(tmp) / "report.json", Path(tmp) / "progress.json"
        outcome = run_child({"job": "validate", "entry": entry, "suite": str(suite.path),
                             "data": None if data is None else str(data), "split": split,
                             "max_seconds_per_clip": max_seconds_per_clip, "report": str(result),
                             "progress": str(progress)}, tmp, time_limit, clock_from=progress)
        if outcome.returncode == 0 and result.is_file():
            return ValidationReport.from_dict(json.loads(result.read_text(encoding="utf-8")))
        if outcome.returncode == INVALID_EXIT:
            raise PredictorError(outcome.message)
        state = json.loads(progress.read_text(encoding="utf-8")) if progress.is_file() else None
    report = (ValidationReport.from_dict(state["report"]) if state is not None
              else ValidationReport(entry, suite.name))
    running = state["running"] if state is not None else None
    if outcome.timed_out:
        what = (f"did not finish within the time limit of {time_limit:g} s (killed {outcome.seconds:.1f} s after "
                "the checks began)" if outcome.clock_started else
                f"the child process did not start its checks within {STARTUP_LIMIT_S:g} s (killed)")
    else:
        what = f"the child process died (exit status {outcome.returncode}): {outcome.message}"
    if running is not None and running in _CHECK_STAGES:
        report.stopped = f"{what}, while {_CHECK_STAGES[running]}"
    elif running is not None:
        report.add(running, False, what)
        report.stopped = f"{what}, during check '{running}'"
    else:
        report.stopped = f"{what}, before the first check began"
    return report


#: Stages of the validator that are not checks (progress names -> what the report says).
_CHECK_STAGES: dict[str, str] = {"batch": "preparing the input batch (not a check)"}


def _predict_job(request: dict[str, Any]) -> None:
    from asabench.benchmark.evaluate import check_declared
    from asabench.benchmark.predict import check_predictor, describe_predictor, load_predictor, write_predictions
    from asabench.benchmark.suites import load_suite

    suite = load_suite(request["suite"])
    predictor = load_predictor(request["spec"])
    check_predictor(predictor, suite.task_kinds)
    declared = check_declared(predictor, suite.contract)
    if declared:
        raise PredictorError(f"predictor {request['spec']} " + "; ".join(declared))
    report = write_predictions(predictor, request["data"], request["out"], suite.task_kinds,
                               split=request["split"], batch_size=request["batch_size"],
                               max_objects=suite.contract.max_objects)
    atomic_write_text(request["report"], json.dumps({"report": report.to_dict(),
                                                     "system": describe_predictor(predictor, request["spec"])},
                                                    default=str))


def _validate_job(request: dict[str, Any]) -> None:
    from asabench.benchmark.submissions.validate import validate_model

    def progress(report: Any, running: str) -> None:
        atomic_write_text(request["progress"], json.dumps({"report": report.to_dict(), "running": running}))

    report = validate_model(request["entry"], request["suite"], data=request["data"], split=request["split"],
                            max_seconds_per_clip=request["max_seconds_per_clip"], progress=progress)
    atomic_write_text(request["report"], json.dumps(report.to_dict()))


_JOBS: dict[str, Callable[[dict[str, Any]], None]] = {"predict": _predict_job, "validate": _validate_job}


def child_main(argv: Sequence[str]) -> int:
    """The child: run the request's job (``predict`` or ``validate``), writing its report file."""
    request = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    try:
        _JOBS[request["job"]](request)
    except ValueError as exc:  # PredictorError, SuiteError, ...: the input's fault
        print(" ".join(str(exc).split()), file=sys.stderr)
        return INVALID_EXIT
    return 0


if __name__ == "__main__":
    sys.exit(child_main(sys.argv[1:]))
