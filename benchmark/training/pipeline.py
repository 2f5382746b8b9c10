"""Train then evaluate, one job: what ``asabench run`` does.

:func:`run` trains into ``RUN`` (:func:`asabench.benchmark.training.loop.train`), then
evaluates ``RUN/checkpoints/best.pt`` on the suite's test split into ``RUN/evaluation/``
(:func:`asabench.benchmark.evaluate.evaluate`: predictions, one results file per suite
entry, ``evaluation.json``). Training on ``onthefly`` data needs no stored dataset; the
evaluation scores files, so the suite's test split is then simulated into
``RUN/test-data/`` first (resumable and byte-identical, as ``asabench simulate``), unless
``eval_data`` names a stored copy.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from asabench.simulate.io.files import Pathlike

__all__ = ["run"]


def run(suite: Any, model: str, *, data: Pathlike, out: Pathlike, eval_data: Pathlike | None = None,
        eval_workers: int | None = None, log: Callable[[str], None] | None = print,
        **train_options: Any) -> tuple[Any, Any]:
    """Train (``train_options`` as :func:`~asabench.benchmark.training.loop.train`), then evaluate.

    Returns ``(TrainResult, Evaluation)``.
    """
    from asabench.benchmark.evaluate import evaluate
    from asabench.benchmark.suites import _manifest_path, load_suite
    from asabench.benchmark.training.loop import train

    suite_obj = load_suite(suite)
    out = Path(out)
    result = train(suite_obj, model, data=data, out=out, log=log, **train_options)
    test_data = Path(eval_data) if eval_data is not None else None
    if test_data is None:
        if str(data) != "onthefly":
            test_data = Path(data)
        else:
            from asabench.simulate.dataset.build import simulate_dataset

            test_data = out / "test-data"
            manifest = _manifest_path(suite_obj, Path(suite_obj.path)) if suite_obj.path else suite_obj.manifest
            summary = simulate_dataset(manifest, suite_obj.splits.test, test_data)
            if summary.failed:
                raise RuntimeError(f"{len(summary.failed)} test scene(s) failed to render: {summary.failed[0]}")
            if log:
                log(summary.text())
    from asabench.benchmark.training.loop import checkpoint_paths

    # the checkpoint file, not the run folder, is the evaluation's input: RUN/evaluation sits beside it
    evaluation = evaluate(suite_obj, test_data, out / "evaluation", run=checkpoint_paths(out)["best"],
                          device=train_options.get("device", "cpu"), workers=eval_workers, log=log)
    if log:
        scores = ", ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} -"
                           for k, v in evaluation.main_scores().items())
        log(f"{out / 'evaluation'}: {suite_obj.name} test scores: {scores}")
    return result, evaluation
