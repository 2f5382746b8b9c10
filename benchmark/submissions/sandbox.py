"""Run a submitted predictor (``package.module:factory``) in a child process with a time limit.

``asabench evaluate --predictor ENTRY --time-limit SECONDS`` calls
:func:`predict_in_subprocess`: a fresh Python process (``python -m
asabench.benchmark.submissions.sandbox REQUEST.json``) imports the entry, checks it against
the suite's tasks and contract, writes the predictions folder and a small JSON report; the
parent then scores what it wrote. The child is started in its own session (process group),
so when it overruns the limit the whole group (with any processes it started) is killed
with ``SIGKILL`` and the job fails with one line (:class:`PredictorTimeoutError`, exit 1).

The child sees the parent's import path (``PYTHONPATH`` = the parent's ``sys.path``), so
an entry importable here is importable there. Its standard output is discarded; its
standard error is kept to report why it failed. A predictor that is invalid (cannot be
imported, lacks a method, returns a wrong shape) exits with status 2 and the error
becomes a :class:`~asabench.benchmark.predict.PredictorError` here (exit 2); any other
failure of the child is a :class:`PredictorCrashedError` (exit 1).

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
from pathlib import Path
from typing import Any, Sequence

from asabench.benchmark.predict import PredictionReport, PredictorError
from asabench.simulate.io.files import Pathlike, atomic_write_text

__all__ = ["PredictorTimeoutError", "PredictorCrashedError", "predict_in_subprocess", "child_main",
           "INVALID_EXIT"]

#: The child's exit status for an invalid predictor (the parent raises PredictorError).
INVALID_EXIT: int = 2


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
        request = Path(tmp) / "request.json"
        result = Path(tmp) / "report.json"
        request.write_text(json.dumps({
            "spec": spec, "suite": str(suite.path), "data": str(data), "out": str(pred_dir), "split": split,
            "batch_size": int(batch_size), "report": str(result)}), encoding="utf-8")
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([p for p in sys.path if p] + [env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
        t0 = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "asabench.benchmark.submissions.sandbox", str(request)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env,
                                start_new_session=True)
        try:
            _, err = proc.communicate(timeout=time_limit)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.communicate()
            raise PredictorTimeoutError(f"predictor {spec} did not finish within the time limit of {time_limit:g} s "
                                        f"(killed after {time.perf_counter() - t0:.1f} s); predictions are "
                                        "incomplete and nothing was scored") from None
        message = _last_line(err.decode("utf-8", "replace"))
        if proc.returncode == INVALID_EXIT:
            raise PredictorError(message)
        if proc.returncode != 0 or not result.is_file():
            raise PredictorCrashedError(f"predictor {spec}: the child process failed (exit status "
                                        f"{proc.returncode}): {message}")
        record = json.loads(result.read_text(encoding="utf-8"))
    system = dict(record["system"])
    system["sandbox"] = {"time_limit_s": time_limit, "wall_s": round(time.perf_counter() - t0, 3)}
    return _report_from_dict(record["report"]), system


def child_main(argv: Sequence[str]) -> int:
    """The child: import the entry, check it, write the predictions and the report."""
    from asabench.benchmark.evaluate import check_declared
    from asabench.benchmark.predict import check_predictor, describe_predictor, load_predictor, write_predictions
    from asabench.benchmark.suites import load_suite

    request = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    try:
        suite = load_suite(request["suite"])
        predictor = load_predictor(request["spec"])
        check_predictor(predictor, suite.task_kinds)
        declared = check_declared(predictor, suite.contract)
        if declared:
            raise PredictorError(f"predictor {request['spec']} " + "; ".join(declared))
        report = write_predictions(predictor, request["data"], request["out"], suite.task_kinds,
                                   split=request["split"], batch_size=request["batch_size"],
                                   max_objects=suite.contract.max_objects)
    except ValueError as exc:  # PredictorError, SuiteError, ...: the input's fault
        print(" ".join(str(exc).split()), file=sys.stderr)
        return INVALID_EXIT
    atomic_write_text(request["report"], json.dumps({"report": report.to_dict(),
                                                     "system": describe_predictor(predictor, request["spec"])},
                                                    default=str))
    return 0


if __name__ == "__main__":
    sys.exit(child_main(sys.argv[1:]))
