"""The one local process pool (simulate/executors/local.py)."""

import os
import sys

import pytest

from asabench.simulate.dataset.format import DatasetFormatError
from asabench.simulate.executors.local import (START_METHOD_ENV, LocalPool, WorkerDiedError, WorkerError,
                                               pool_map, start_method)

_OFFSET = 0


def _init(offset):
    global _OFFSET
    _OFFSET = offset


def _add(x):
    return x + _OFFSET


def _bad_dataset(x):
    if x == 5:
        raise DatasetFormatError("/data/test/x.wav", "sample 3 is NaN", line=7, field="samples")
    return x


class _Unpicklable(ValueError):
    def __init__(self, msg):
        super().__init__(msg)
        self.handle = lambda: None  # cannot be pickled


def _raise_unpicklable(x):
    raise _Unpicklable(f"item {x}")


def _die(x):
    if x == 3:
        os._exit(9)
    return x


def test_ordered_map_with_initializer_and_chunks():
    with LocalPool(2, initializer=_init, initargs=(100,), start_method="fork") as pool:
        assert pool.map(_add, range(23), chunksize=4) == [100 + k for k in range(23)]
        assert sorted(pool.imap_unordered(_add, range(7))) == [100 + k for k in range(7)]


def test_worker_exception_comes_back_as_itself():
    with pytest.raises(DatasetFormatError) as err:
        pool_map(_bad_dataset, list(range(9)), workers=2, chunksize=2, start_method="fork")
    e = err.value
    # DatasetFormatError's constructor does not take its message back: the plain pool
    # fails to unpickle it and reports a BrokenProcessPool naming nothing.
    assert type(e) is DatasetFormatError
    assert str(e) == "/data/test/x.wav:7: field 'samples': sample 3 is NaN"
    assert (str(e.path), e.line, e.field, e.reason) == ("/data/test/x.wav", 7, "samples", "sample 3 is NaN")


def test_unpicklable_exception_is_named_not_a_broken_pool():
    # spawn: a forked worker of a process that has run a Dask cluster (tests/simulate/executors/
    # test_cluster.py) dies when it raises; that is noted in docs/cluster.md, not what this tests.
    with pytest.raises(WorkerError, match=r"_Unpicklable: item 0"):
        pool_map(_raise_unpicklable, [0], workers=1, start_method="spawn")


def test_dead_worker_is_a_clear_error():
    with pytest.raises(WorkerDiedError, match="a worker process died during rendering"):
        pool_map(_die, list(range(6)), workers=2, start_method="fork", what="rendering")


def test_start_method_choice(monkeypatch):
    monkeypatch.setenv(START_METHOD_ENV, "spawn")
    assert start_method() == "spawn"
    assert start_method("fork") == "fork"  # the caller's need wins (build.py asks for spawn)
    monkeypatch.setenv(START_METHOD_ENV, "teleport")
    with pytest.raises(ValueError, match="ASABENCH_START_METHOD='teleport': not a start method"):
        start_method()
    monkeypatch.delenv(START_METHOD_ENV)
    assert start_method() == ("fork" if sys.platform.startswith("linux") else "spawn")
    with pytest.raises(ValueError, match="workers must be >= 1"):
        LocalPool(0)
