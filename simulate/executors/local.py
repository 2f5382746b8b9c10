"""The one local process pool: worker start-up, ordered and unordered maps, clear failures.

:class:`LocalPool` wraps :class:`concurrent.futures.ProcessPoolExecutor` with what every
asabench job needs from it:

* the start method: the caller's choice (``start_method="spawn"`` for jobs that must not
  fork a process holding threads, e.g. rendering), else ``ASABENCH_START_METHOD``, else
  ``fork`` on Linux (workers start in milliseconds instead of re-importing torch for about
  a second each) and ``spawn`` elsewhere (:func:`start_method`);
* ``initializer(*initargs)`` run once in every worker (the job's shared, read-only state);
* :meth:`LocalPool.map` (results in input order, items sent in chunks) and
  :meth:`LocalPool.imap_unordered` (results as they finish);
* a worker's exception is re-raised in the parent as the *same* exception: same class,
  same message, same attributes, even for exception classes whose constructor does not
  take their message back (which the standard pool turns into an unpickling failure and a
  ``BrokenProcessPool`` naming nothing). The worker's traceback is kept as ``__cause__``;
* a worker that dies (killed, out of memory, ``os._exit``) is a :class:`WorkerDiedError`
  (a ``BrokenProcessPool``) saying so; pending work is cancelled.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import sys
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Callable, Iterable, Iterator, Sequence, TypeVar

T = TypeVar("T")
R = TypeVar("R")

#: Environment variable naming the start method of worker processes (fork, spawn, forkserver).
START_METHOD_ENV: str = "ASABENCH_START_METHOD"


class WorkerDiedError(BrokenProcessPool):
    """A worker process ended without returning its result (killed by a signal, out of
    memory, ``os._exit``); no partial result is kept."""


class WorkerError(RuntimeError):
    """A worker raised an exception that cannot be sent back as itself (unpicklable state);
    the message names its class and repeats its text."""


def start_method(preferred: str | None = None) -> str:
    """The start method of worker processes.

    ``preferred`` when given (a job that needs ``spawn``), else ``$ASABENCH_START_METHOD``,
    else ``fork`` on Linux and ``spawn`` elsewhere.

    Raises
    ------
    ValueError
        The method is not available on this platform (naming where it came from).
    """
    source, method = "start_method", preferred
    if method is None:
        env = os.environ.get(START_METHOD_ENV)
        if env:
            source, method = START_METHOD_ENV, env
        else:
            return "fork" if sys.platform.startswith("linux") else "spawn"
    available = multiprocessing.get_all_start_methods()
    if method not in available:
        raise ValueError(f"{source}={method!r}: not a start method of this platform "
                         f"(available: {', '.join(available)})")
    return method


def usable_cores() -> int:
    """CPU cores this process may run on (its affinity mask where the OS has one)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


_resolve_start_method = start_method  # LocalPool's parameter shadows the name


# ----------------------------------------------------------------------------- exceptions


def _rebuild_exception(cls: type, args: tuple, state: dict) -> BaseException:
    exc = cls.__new__(cls, *args)
    exc.args = args
    exc.__dict__.update(state)
    return exc


class _Carrier(Exception):
    """Carries a worker's exception to the parent, where it unpickles as the original."""

    def __init__(self, exc: BaseException) -> None:
        super().__init__(str(exc))
        self.exc = exc

    def __reduce__(self):
        exc = self.exc
        payload = (type(exc), exc.args, dict(getattr(exc, "__dict__", {})))
        try:
            pickle.loads(pickle.dumps(payload))
        except Exception:  # unpicklable state or a class the parent cannot import
            name = f"{type(exc).__module__}.{type(exc).__qualname__}"
            return (WorkerError, (f"{name}: {exc}",))
        return (_rebuild_exception, payload)


class _Call:
    """``fn`` as run in a worker: exceptions leave wrapped in a :class:`_Carrier`."""

    def __init__(self, fn: Callable[[Any], Any]) -> None:
        self.fn = fn

    def __call__(self, item: Any) -> Any:
        try:
            return self.fn(item)
        except Exception as exc:
            raise _Carrier(exc) from exc  # the worker-side traceback shows the original


# ----------------------------------------------------------------------------- pool


class LocalPool:
    """A pool of ``workers`` local processes (see the module docstring); use as a context manager.

    Parameters
    ----------
    workers : number of processes (>= 1).
    initializer, initargs : run ``initializer(*initargs)`` once in each worker.
    start_method : ``"fork"``, ``"spawn"``, ``"forkserver"``; None: :func:`start_method`.
    what : what the workers do, for the error when one dies (``"scoring"``).
    """

    def __init__(self, workers: int, *, initializer: Callable[..., Any] | None = None,
                 initargs: Sequence[Any] = (), start_method: str | None = None,
                 what: str = "a job") -> None:
        if int(workers) < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        self.workers = int(workers)
        self.what = what
        self.start_method = _resolve_start_method(start_method)
        ctx = multiprocessing.get_context(self.start_method)
        self._pool = ProcessPoolExecutor(self.workers, mp_context=ctx, initializer=initializer,
                                         initargs=tuple(initargs))

    def __enter__(self) -> "LocalPool":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close(cancel=exc_type is not None)

    def close(self, *, cancel: bool = False) -> None:
        """Wait for the workers to exit; ``cancel`` drops work not yet started."""
        self._pool.shutdown(wait=True, cancel_futures=cancel)

    def _died(self, err: BrokenProcessPool) -> WorkerDiedError:
        return WorkerDiedError(
            f"a worker process died during {self.what} (killed by a signal or out of memory?); "
            f"no result was kept. Rerun with fewer workers (e.g. 1). [{err}]")

    def map(self, fn: Callable[[T], R], items: Iterable[T], *, chunksize: int = 1) -> list[R]:
        """``[fn(x) for x in items]`` computed by the workers, in input order.

        Items go to workers ``chunksize`` at a time. The first exception (in input order)
        is raised as itself and the work not yet started is cancelled.
        """
        try:
            return list(self._pool.map(_Call(fn), items, chunksize=max(1, int(chunksize))))
        except WorkerDiedError:
            raise
        except BrokenProcessPool as err:
            raise self._died(err) from None

    def imap_unordered(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:
        """``fn(x)`` for every item, yielded as each finishes (one item per task)."""
        call = _Call(fn)
        pending: set[Future] = {self._pool.submit(call, x) for x in items}
        try:
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    yield future.result()
        except WorkerDiedError:
            raise
        except BrokenProcessPool as err:
            raise self._died(err) from None
        finally:
            for future in pending:
                future.cancel()


def pool_map(fn: Callable[[T], R], items: Sequence[T], *, workers: int,
             initializer: Callable[..., Any] | None = None, initargs: Sequence[Any] = (),
             chunksize: int = 1, start_method: str | None = None, what: str = "a job") -> list[R]:
    """One-shot :meth:`LocalPool.map` with a pool of ``min(workers, len(items))`` processes."""
    with LocalPool(max(1, min(workers, len(items))), initializer=initializer, initargs=initargs,
                   start_method=start_method, what=what) as pool:
        return pool.map(fn, items, chunksize=chunksize)
