"""`cutover worker`: polls the task queue and runs the workflows and activities. Stateless: it may be killed at
any moment (SIGKILL included) and another worker continues (see `cutover.temporal.activities`)."""

from __future__ import annotations

import asyncio
import os
import socket
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from temporalio.worker import Worker

from cutover.temporal.activities import ACTIVITIES
from cutover.temporal.connect import TASK_QUEUE, Target, connect
from cutover.temporal.workflows import WORKFLOWS


def identity() -> str:
    return f"cutover-worker-{os.getpid()}@{socket.gethostname()}"


async def run_worker(target: Target, *, max_activities: int = 4, task_queue: str = TASK_QUEUE) -> None:
    client = await connect(target)
    with ThreadPoolExecutor(max_workers=max_activities + 2) as pool:
        worker = Worker(
            client,
            task_queue=task_queue,
            workflows=WORKFLOWS,
            activities=ACTIVITIES,
            activity_executor=pool,
            max_concurrent_activities=max_activities,
            identity=identity(),
            # The deploy's job id must reach Temporal within a second of being recorded (see activities.advance).
            max_heartbeat_throttle_interval=timedelta(seconds=1),
            default_heartbeat_throttle_interval=timedelta(seconds=1),
            graceful_shutdown_timeout=timedelta(seconds=5),
        )
        await worker.run()


def main(target: Target, *, max_activities: int = 4) -> None:
    asyncio.run(run_worker(target, max_activities=max_activities))
