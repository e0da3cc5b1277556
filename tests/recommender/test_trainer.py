"""The trainer process yields the CPU to the serving process."""

from __future__ import annotations

import os
import sys
import time

import pytest

from cinemesh.services.recommender.training import Trainer


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="SCHED_IDLE is Linux's")
def test_the_trainer_process_runs_only_when_a_cpu_is_otherwise_idle() -> None:
    trainer = Trainer()
    trainer.spawn()
    try:
        process = trainer._process
        assert process is not None and process.pid is not None
        deadline = time.monotonic() + 30
        while os.sched_getscheduler(process.pid) != os.SCHED_IDLE:
            assert time.monotonic() < deadline, "the trainer never took SCHED_IDLE"
            time.sleep(0.05)
        assert os.getpriority(os.PRIO_PROCESS, process.pid) == 19
    finally:
        trainer.stop()
