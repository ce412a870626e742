"""The ``[workers]`` section: where distributed steps are queued, how workers prove they are
alive, and how long a run waits for a job before it says why nothing happens.

The heartbeat and stall figures are procrastinate's own worker options
(``update_heartbeat_interval``, ``stalled_worker_timeout``) under LogoMesh's names, so one
setting drives both the worker that beats and the worker that rescues. It lives with the
feature it configures; ``config`` imports it, and nothing here imports ``config`` back.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

# A queue name is procrastinate's ``queue_name`` (varchar 128) and a CLI argument.
QUEUE_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$"


class WorkerSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    queue: str = Field(
        default="logomesh",
        pattern=QUEUE_NAME,
        description="The queue distributed pipeline steps go to (`logomesh worker --queue`).",
    )
    concurrency: int = Field(
        default=4, ge=1, le=256, description="Jobs one `logomesh worker` runs at once."
    )
    heartbeat_s: float = Field(
        default=10.0, gt=0, le=3600, description="How often a worker says it is alive."
    )
    stalled_after_s: float = Field(
        default=30.0,
        gt=0,
        le=86_400,
        description="A worker silent this long is gone: its running jobs are retried elsewhere.",
    )
    rescue_every_s: float = Field(
        default=10.0, gt=0, le=3600, description="How often a worker looks for such jobs."
    )
    poll_s: float = Field(
        default=0.1,
        gt=0,
        le=10,
        description="A waiting run re-reads its job when the worker's result is announced "
        "(NOTIFY), and at least every max(this, 5) s in case an announcement is lost.",
    )
    start_within_s: float = Field(
        default=600.0,
        gt=0,
        description="A job no worker has taken by then fails (is any worker running?).",
    )
    grace_s: float = Field(
        default=30.0,
        ge=0,
        description="A running job gets its command's timeout plus this before the run gives up.",
    )
