"""Jobs (`dbx_job`), through `w.jobs`.

A job runs on the cluster its `cluster_ref` names: every task that names no compute of its
own gets that cluster's id, and tasks without a `task_key` are numbered `task_1`, `task_2`,
... The blueprint's `cron` and `timezone` (UTC unless given) become the job's schedule.

Tags are changed with a partial update (`jobs.update`); settings with `jobs.reset`, which
replaces the whole definition: a partial update would merge task lists by task key, so a task
removed from the blueprint would stay.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dpn_action.providers.base import Operation, ResourceState
from dpn_action.providers.databricks.kind import Kind, Partial, Resend, target
from dpn_action.providers.databricks.marks import TagMap
from dpn_action.providers.databricks.sdk import Args, Context, Kw, build

if TYPE_CHECKING:
    from databricks.sdk.service.jobs import JobSettings

#: task fields that name the compute a task runs on
_COMPUTE_KEYS = ("existing_cluster_id", "new_cluster", "job_cluster_key", "environment_key")


def _prepare_job(c: Context, kw: Kw, op: Operation, resolved: dict[str, ResourceState]) -> None:
    cluster_key = JOB.ref(op, "cluster_ref")
    cluster_id = target(op, resolved, cluster_key).resource_id if cluster_key else None
    tasks = []
    for i, task in enumerate(kw.get("tasks") or []):
        task = {"task_key": f"task_{i + 1}", **task}
        if cluster_id is not None and not any(k in task for k in _COMPUTE_KEYS):
            task["existing_cluster_id"] = cluster_id
        tasks.append(task)
    if tasks:
        kw["tasks"] = tasks
    cron = kw.pop("cron", None)
    timezone = kw.pop("timezone", None) or "UTC"
    if cron:
        kw["schedule"] = {"quartz_cron_expression": cron, "timezone_id": timezone}


def _create_job(c: Context, kw: Kw) -> str:
    from databricks.sdk.service.jobs import CronSchedule, JobEmailNotifications, Task

    a = Args("dbx_job", kw)
    answer = a.send(
        c.workspace_client.jobs.create,
        name=a.text("name"),
        tasks=a.sdk_list("tasks", Task),
        schedule=a.sdk("schedule", CronSchedule),
        max_concurrent_runs=a.number("max_concurrent_runs"),
        email_notifications=a.sdk("email_notifications", JobEmailNotifications),
        timeout_seconds=a.number("timeout_seconds"),
        description=a.text("description"),
        tags=a.strings("tags"),
    )
    return str(answer.job_id)


def _update_job(c: Context, job_id: str, fields: Kw, mask: str) -> None:
    from databricks.sdk.service.jobs import JobSettings

    c.workspace_client.jobs.update(job_id=int(job_id), new_settings=build(JobSettings, fields))


def _reset_job(c: Context, job_id: str, settings: JobSettings) -> None:
    c.workspace_client.jobs.reset(job_id=int(job_id), new_settings=settings)


JOB = Kind(
    type_key="dbx_job",
    create=_create_job,
    params={
        "tasks": "tasks",
        "cron": "cron",
        "timezone": "timezone",
        "max_concurrent_runs": "max_concurrent_runs",
        "email_notifications": "email_notifications",
        "timeout_seconds": "timeout_seconds",
        "description": "description",
    },
    own_refs=frozenset({"cluster_ref"}),
    prepare=_prepare_job,
    marks=TagMap("tags", "settings.tags"),
    lister=lambda c, name: c.workspace_client.jobs.list(name=name),
    name_attr="settings.name",
    id_attr="job_id",
    get_by_id=lambda c, job_id: c.workspace_client.jobs.get(job_id=int(job_id)),
    definition="settings",
    delete=lambda c, job_id: c.workspace_client.jobs.delete(job_id=int(job_id)),
    change=Partial(_update_job),
    # a partial update merges task lists by task key: settings are reset whole
    settings_change=Resend(_reset_job),
    settings=(
        "tasks",
        "cron",
        "timezone",
        "max_concurrent_runs",
        "email_notifications",
        "timeout_seconds",
        "description",
    ),
    setting_paths={
        "cron": "schedule.quartz_cron_expression",
        "timezone": "schedule.timezone_id",
    },
    unset={
        "tasks": None,
        "schedule": None,
        "max_concurrent_runs": 1,
        "email_notifications": None,
        "timeout_seconds": 0,
        "description": None,
    },
)

KINDS = (JOB,)
