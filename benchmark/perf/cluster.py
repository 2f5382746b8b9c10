"""Scenes per second through the Dask engine against the local pool (the engine's overhead).

The same ``--num`` scenes of a split are made three times into fresh folders, each with
``--workers`` processes of one torch thread: by the local pool (``asabench simulate``), by
``simulate_on_dask`` on a ``LocalCluster`` it starts and closes itself (start-up included),
and on a cluster already running (the steady state of a long job). The three folders are
checked byte-identical. Numbers in ``docs/cluster.md``.

Run: ``python -m asabench.benchmark.perf.cluster [--manifest asa2] [--split train] [--num 16]``
"""

from __future__ import annotations

import argparse
import hashlib
import os
import tempfile
import time
from pathlib import Path

from asabench.simulate.dataset.build import simulate_dataset
from asabench.simulate.executors.dask_cluster import simulate_on_dask


def _hashes(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--manifest", default="asa2")
    ap.add_argument("--split", default="train")
    ap.add_argument("--num", type=int, default=16)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--scenes-per-task", type=int, default=4)
    args = ap.parse_args(argv)
    print(f"load before: {os.getloadavg()[0]:.2f} (1 min), {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        t = time.perf_counter()
        simulate_dataset(args.manifest, args.split, base / "local", num=args.num, workers=args.workers)
        t_local = time.perf_counter() - t
        t = time.perf_counter()
        simulate_on_dask(args.manifest, args.split, base / "dask", num=args.num, n_workers=args.workers,
                         scenes_per_task=args.scenes_per_task)
        t_dask = time.perf_counter() - t
        from distributed import Client, LocalCluster

        with LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                          dashboard_address=None) as cluster, Client(cluster) as client:
            # warm the workers (imports, banks) on scenes outside the timed range
            simulate_on_dask(args.manifest, args.split, base / "warm", start=args.num, num=args.workers,
                             client=client, scenes_per_task=1)
            t = time.perf_counter()
            simulate_on_dask(args.manifest, args.split, base / "steady", num=args.num, client=client,
                             scenes_per_task=args.scenes_per_task)
            t_steady = time.perf_counter() - t
        same = _hashes(base / "local") == _hashes(base / "dask") == _hashes(base / "steady")
    n = args.num
    print(f"{args.manifest}/{args.split}: {n} scenes, {args.workers} workers")
    print(f"  local pool                  {t_local:7.1f} s  {n / t_local:6.2f} scenes/s")
    print(f"  dask, own LocalCluster      {t_dask:7.1f} s  {n / t_dask:6.2f} scenes/s  ({t_dask / t_local:.2f}x the pool's time)")
    print(f"  dask, running cluster       {t_steady:7.1f} s  {n / t_steady:6.2f} scenes/s  ({t_steady / t_local:.2f}x)")
    print(f"  byte-identical: {same}; load after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
