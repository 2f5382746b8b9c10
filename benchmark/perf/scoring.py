"""End-to-end ``asabench score`` throughput on a submission, projected to a 2 000-scene split.

Run: ``python -m asabench.benchmark.perf.scoring [--data rendered|dummy] [--scenes 80] [--small 10]
[--workers 2] [--sources asa2|N] [--spatial-definition m2m|exact-length|both]``.

Data (4 channels, 16 kHz, 4 s):

* ``rendered`` (default): ASA2 scenes simulated from the shipped ``asa2`` manifest with the
  built-in source bank (``--scenes`` of ``test``, ``--small`` of ``validation``). These are
  reverberant, moving, band-limited scenes with digital silence before onsets: the
  faithful workload.
* ``dummy``: :func:`asabench.simulate.testing.dummies.make_dummy_dataset` with ``coherent=True``.
  Sources per scene are cycled with the ASA2 recipe's weights, or fixed with
  ``--sources``. It is quicker to write and useful for the worst case, ``--sources 5``.

The prediction folder is what a system would leave. Every scene gets ``k.wav``, a permuted
source image plus noise (float32 WAV), and a DCASE CSV.

For each task, the whole ``score`` call is timed on both splits, best of ``--repeats``
runs each. The call includes validating the submission, reading every WAV and CSV, and
all metrics:

* USS: the separation metrics with permutation solving.
* TSE: the same, plus ΔILD/ΔIPD/ΔITD.
* SELD.

The per-scene cost is the slope between the two splits. The fixed cost (process start-up,
first calls) is the rest. The projection to ``--split-size`` scenes is fixed + slope × size.
Target (issue 4): all three tasks on a 2 000-scene split in under 120 s on 2 cores.

``--spatial-definition both`` times TSE under both spatial definitions (``m2m``, the
default, and ``exact-length``, the earlier one), their runs interleaved so that a changing
machine load affects both alike; the printed ratio is m2m / exact-length per scene.

The SELD counting alone is compared with the official algorithm in
``asabench.benchmark.perf.seld``; SI-SDR / BSS-Eval kernels with mir_eval and fast_bss_eval
in ``asabench.benchmark.perf.separation``.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from asabench.benchmark.scoring import load_reference, retain_freed_memory, score
from asabench.simulate.testing.dummies import make_dummy_dataset


#: The ASA2 recipe's sources per mixture, 2/3/4/5 with weights .1/.2/.3/.4, as a cycle of ten.
ASA2_SOURCE_COUNTS: list[int] = [5, 4, 3, 5, 2, 4, 5, 3, 4, 5]


def write_predictions(root: Path, split: str, pred: Path, rng: np.random.Generator, noise: float = 0.3) -> None:
    """A plausible submission for every scene of ``split``: permuted images + noise, and the labels as CSV."""
    ref = load_reference(root, split=split)
    for record in ref.records:
        images = ref.targets(record, "full")
        scene = pred / record.id
        scene.mkdir(parents=True, exist_ok=True)
        for k in range(record.num_sources):
            j = (k + 1) % record.num_sources
            est = images[j] + noise * images[j].std() * rng.standard_normal(images[j].shape)
            sf.write(str(scene / f"{k}.wav"), est.T.astype(np.float32), ref.info.fs, subtype="FLOAT")
        shutil.copyfile(ref.path(record.files.labels.path), pred / f"{record.id}.csv")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenes", type=int, default=80, help="scenes of the timed split")
    ap.add_argument("--small", type=int, default=10, help="scenes of the split that measures the fixed cost")
    ap.add_argument("--data", default="rendered", choices=["rendered", "dummy"],
                    help="rendered: ASA2 scenes simulated with the built-in source bank (default); "
                         "dummy: channel-coherent noise scenes (fast to write)")
    ap.add_argument("--sources", default="asa2",
                    help="dummy data: sources per scene, a number or 'asa2' for the recipe's 2/3/4/5 "
                         "with weights .1/.2/.3/.4 (cycled exactly: mean 4.0)")
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--fs", type=int, default=16000)
    ap.add_argument("--split-size", type=int, default=2000, help="scenes to project to")
    ap.add_argument("--workers", type=int, default=2, help="scoring worker processes (default 2)")
    ap.add_argument("--spatial-precision", default="float32", choices=["float32", "float64"])
    ap.add_argument("--spatial-definition", default="m2m", choices=["m2m", "exact-length", "both"],
                    help="spatial-cue definition for TSE; 'both' compares them (default m2m)")
    ap.add_argument("--tasks", default="uss,tse,seld")
    ap.add_argument("--repeats", type=int, default=3, help="runs per measurement; the fastest counts")
    args = ap.parse_args(argv)
    if args.small >= args.scenes:
        raise SystemExit("--small must be smaller than --scenes")
    retain_freed_memory()  # as `asabench score` does
    print(f"torch threads in this process: {torch.get_num_threads()}; workers: {args.workers}; "
          f"spatial precision: {args.spatial_precision}")
    with tempfile.TemporaryDirectory() as tmp:
        root, pred = Path(tmp) / "ds", Path(tmp) / "pred"
        t0 = time.perf_counter()
        rng = np.random.default_rng(0)
        if args.data == "rendered":
            from asabench.simulate.manifest import load_manifest
            from asabench.simulate.dataset.build import simulate_dataset

            manifest = load_manifest("asa2")
            splits = {"small": "validation", "test": "test"}
            for key, num in (("test", args.scenes), ("small", args.small)):
                simulate_dataset(manifest, splits[key], root, num=num, sources="builtin", noise="builtin",
                                 workers=args.workers)
            counts = [r.num_sources for r in load_reference(root, split="test").records]
            what = f"rendered ASA2 (built-in bank, {np.mean(counts):.2f} sources per scene)"
        else:
            splits = {"small": "small", "test": "test"}
            counts = ASA2_SOURCE_COUNTS if args.sources == "asa2" else [int(args.sources)]
            make_dummy_dataset(root, {"test": args.scenes, "small": args.small}, counts, args.fs,
                               args.seconds, rng, coherent=True)
            what = (f"dummy, {args.sources} sources "
                    f"(mean {np.mean([counts[i % len(counts)] for i in range(args.scenes)]):.2f})")
        for split in splits.values():
            write_predictions(root, split, pred, rng)
        print(f"dataset + submission: {args.scenes} + {args.small} scenes, {what}, 4 ch, "
              f"written in {time.perf_counter() - t0:.1f} s")
        total = 0.0
        definitions = ["m2m", "exact-length"] if args.spatial_definition == "both" else [args.spatial_definition]
        for task in args.tasks.split(","):
            variants = definitions if task == "tse" else definitions[:1]
            runs: dict[tuple[str, str], list[float]] = {}
            for _ in range(args.repeats):
                for key in ("small", "test"):
                    for definition in variants:
                        t0 = time.perf_counter()
                        score(root, task, predictions=pred, split=splits[key], workers=args.workers,
                              spatial_precision=args.spatial_precision, spatial_definition=definition)
                        runs.setdefault((definition, key), []).append(time.perf_counter() - t0)
            slopes = {}
            for definition in variants:
                times = {key: min(runs[(definition, key)]) for key in ("small", "test")}
                slope = (times["test"] - times["small"]) / (args.scenes - args.small)
                slopes[definition] = slope
                fixed = max(0.0, times["test"] - slope * args.scenes)
                proj = fixed + slope * args.split_size
                if definition == variants[0]:
                    total += proj
                extra = f" spatial {definition}" if task == "tse" else ""
                print(f"score --task {task:4s}{extra:20s}: {times['test']:6.2f} s for {args.scenes} scenes "
                      f"({times['small']:5.2f} s for {args.small}); {1000 * slope:6.1f} ms/scene + "
                      f"{fixed:4.1f} s fixed; projected {args.split_size} scenes: {proj:6.1f} s")
            if len(slopes) == 2:
                print(f"tse per scene, m2m / exact-length: {slopes['m2m'] / slopes['exact-length']:.2f}x")
        print(f"projected total for {args.tasks.replace(',', ' + ')} on {args.split_size} scenes: {total:.1f} s "
              f"(target < 120 s on 2 cores: {'met' if total < 120 else 'NOT met'}, ratio {120 / total:.2f}x)")


if __name__ == "__main__":
    main()
