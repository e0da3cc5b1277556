"""The trainer process' entry point (the process itself is described in training.py).

It imports nothing heavy at module level: the process first lowers its CPU priority
(`yield_the_cpu`) and pins BLAS to one thread, and only then imports numpy through
`training`. numpy's BLAS threads are started when numpy is imported and keep the priority of
the thread that started them; niced afterwards, they competed with the serving process at
full priority on both cores."""

from __future__ import annotations

import ctypes
import os
import signal
from multiprocessing.connection import Connection

NICENESS = 19  # the most a process can yield: training may take longer, serving must not
BLAS_THREADS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
PR_SET_PDEATHSIG = 1


def main(pipe: Connection) -> None:
    """Yield the CPU to serving, die with the service, then answer jobs until the pipe ends."""
    yield_the_cpu()
    for variable in BLAS_THREADS:
        os.environ[variable] = "1"
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:  # not Linux: it still ends when the service's end of the pipe closes
        pass
    from cinemesh.services.recommender.training import answer_jobs

    answer_jobs(pipe)


def yield_the_cpu() -> None:
    """Nice 19, and Linux' SCHED_IDLE where there is one. At nice 19 alone a woken thread of
    the service could wait for the trainer to finish its time slice (a few ms) on its CPU;
    a SCHED_IDLE task is preempted at once by any other task waking on its CPU, and a CPU
    running only such tasks counts as idle when a woken thread looks for one. Threads
    started afterwards (the trainer's database thread) keep the policy."""
    os.nice(NICENESS)
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    except (AttributeError, OSError):  # not Linux
        pass
