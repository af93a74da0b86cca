"""The Prefect automations driftgate ships: notify people of what needs them, run flows when events ask.

``driftgate automations apply`` creates or updates them by name (every name starts with ``driftgate``),
so applying twice leaves one of each:

- ``driftgate-notify-*``: a quarantined batch, detected drift, a rollback and a degraded champion are
  sent through a Prefect webhook notification block (``driftgate-notify``, built from
  ``DRIFTGATE_NOTIFY_WEBHOOK``) as a Slack-compatible ``{"text": ...}`` body. Without the setting they are
  skipped, and the answer says so.
- ``driftgate-train-on-arrival``: a batch stored by an ``ingest-batches`` run of its own runs the
  ``continuous-training`` deployment on what the lake holds (``ingest: false``).
- ``driftgate-score-on-promotion``: a new champion runs the ``batch-predict`` deployment with its
  configured inputs.

The two run automations are owned by their deployment, as ``prefect deploy`` makes the ``triggers:``
of ``prefect.yaml`` (which declares the same names): whichever runs last leaves one automation each.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from uuid import UUID

from driftgate.alerts.events import DEGRADED, DRIFT_DETECTED, INGESTED, PROMOTED, QUARANTINED, ROLLED_BACK

if TYPE_CHECKING:
    from prefect.client.orchestration import SyncPrefectClient
    from prefect.events.schemas.automations import AutomationCore

PREFIX = "driftgate"
NOTIFY_BLOCK = "driftgate-notify"
TRAIN_ON_ARRIVAL = "driftgate-train-on-arrival"
SCORE_ON_PROMOTION = "driftgate-score-on-promotion"
DATASET_OF_EVENT = "{{ event.resource['driftgate.dataset'] }}"


@dataclass(frozen=True)
class Notify:
    """Send one event's account through the webhook block."""

    name: str
    event: str
    body: str


@dataclass(frozen=True)
class RunOn:
    """Run a deployment when an event arrives (on resources with the ``match`` labels)."""

    name: str
    event: str
    deployment: str  # "<flow>/<deployment>"
    parameters: dict[str, Any]
    match: dict[str, str] = field(default_factory=dict)
    description: str = ""
    needs: tuple[str, ...] = ()  # parameters the deployment must give a default (the configured inputs)


NOTIFY = [
    Notify(
        "driftgate-notify-quarantine",
        QUARANTINED,
        "Batch {{ event.payload.batch }} of {{ event.payload.dataset }} was quarantined "
        "({{ event.payload.rows }} rows, {{ event.payload.failed }} of {{ event.payload.evaluated }} expectations "
        "failed): {{ event.payload.reason }}. Report: {{ event.payload.report }}",
    ),
    Notify(
        "driftgate-notify-drift",
        DRIFT_DETECTED,
        "Drift in {{ event.payload.dataset }} ({{ event.payload.source }}, batch {{ event.payload.batch }}): "
        "drift share {{ event.payload.drift_share }} (threshold {{ event.payload.threshold }}) over "
        "{{ event.payload.rows }} rows; drifted: {{ event.payload.drifted | join(', ') }}. {{ event.payload.reason }}",
    ),
    Notify(
        "driftgate-notify-rollback",
        ROLLED_BACK,
        "{{ event.resource['prefect.resource.name'] }} rolled back to version {{ event.payload.version }} "
        "(from {{ event.payload.previous }}): {{ event.payload.reason }}",
    ),
    Notify(
        "driftgate-notify-degraded",
        DEGRADED,
        "{{ event.resource['prefect.resource.name'] }} v{{ event.payload.version }} degraded: "
        "{{ event.payload.kind }} {{ event.payload.metric }} {{ event.payload.value }} "
        "(interval {{ event.payload.interval | join(' to ') }}, {{ event.payload.rows }} rows) against "
        "held-out {{ event.payload.held_out }}. {{ event.payload.reason }}",
    ),
]
RUNS = [
    RunOn(
        TRAIN_ON_ARRIVAL,
        INGESTED,
        "continuous-training/continuous-training",
        {"dataset": DATASET_OF_EVENT, "ingest": False},
        match={"driftgate.ingest.subflow": "false"},  # continuous-training's own ingest trains in that run
        description="Train on the lake's new batches when ingest-batches stores one.",
    ),
    RunOn(
        SCORE_ON_PROMOTION,
        PROMOTED,
        "batch-predict/batch-predict",
        {"dataset": DATASET_OF_EVENT},
        description="Score the configured inputs (the deployment's path) with the new champion.",
        needs=("path",),
    ),
]


@dataclass(frozen=True)
class Applied:
    """What ``apply`` did with one automation: ``created``, ``updated`` or ``skipped`` (and why)."""

    name: str
    action: str
    detail: str = ""

    def line(self) -> str:
        return f"{self.action:8} {self.name}" + (f": {self.detail}" if self.detail else "")


def trigger_spec(event: str, match: dict[str, str] | None = None) -> dict[str, Any]:
    """A reactive trigger: every ``event`` on a matching resource fires once."""
    return {
        "type": "event",
        "expect": [event],
        "match": {"prefect.resource.id": "driftgate.*", **(match or {})},
        "posture": "Reactive",
        "threshold": 1,
        "within": 0,
    }


def notify_automation(notify: Notify, block_id: UUID) -> AutomationCore:
    from prefect.events.actions import SendNotification
    from prefect.events.schemas.automations import AutomationCore, EventTrigger

    return AutomationCore(
        name=notify.name,
        description=f"Tell people of {notify.event} through the {NOTIFY_BLOCK} webhook block.",
        enabled=True,
        trigger=EventTrigger.model_validate(trigger_spec(notify.event)),
        actions=[
            SendNotification(
                block_document_id=block_id,
                subject="driftgate: {{ event.event }} ({{ event.resource['prefect.resource.name'] }})",
                body=notify.body,
            )
        ],
    )


def run_automation(run: RunOn, deployment_id: UUID) -> AutomationCore:
    from prefect.events.actions import RunDeployment
    from prefect.events.schemas.automations import AutomationCore, EventTrigger

    return AutomationCore(
        name=run.name,
        description=run.description,
        enabled=True,
        trigger=EventTrigger.model_validate(trigger_spec(run.event, run.match)),
        actions=[RunDeployment(source="selected", deployment_id=deployment_id, parameters=run.parameters)],
        owner_resource=f"prefect.deployment.{deployment_id}",
    )


def save_notify_block(webhook: str) -> UUID:
    """The ``driftgate-notify`` webhook block (created or overwritten); its document id.

    The URL is a credential (a chat webhook carries its token): it is stored among the block's
    secrets, which Prefect keeps obfuscated in its UI and API, and put into the URL when sending.
    """
    from prefect.blocks.notifications import CustomWebhookNotificationBlock

    block = CustomWebhookNotificationBlock(
        name=NOTIFY_BLOCK,
        url="{{webhook_url}}",
        method="POST",
        json_data={"text": "{{subject}}\n{{body}}"},
        secrets={"webhook_url": webhook},
    )
    return UUID(str(block.save(NOTIFY_BLOCK, overwrite=True)))


def upsert(client: SyncPrefectClient, automation: AutomationCore) -> Applied:
    """Create ``automation`` or update the one of its name (removing extra copies of that name)."""
    existing = client.read_automations_by_name(automation.name)
    if not existing:
        client.create_automation(automation)
        return Applied(automation.name, "created")
    first, *extra = existing
    if first.owner_resource != automation.owner_resource:  # an owner is fixed at creation
        client.delete_automation(first.id)
        client.create_automation(automation)
    else:  # the whole automation (Prefect's update_automation leaves out fields at their defaults)
        body = automation.model_dump(mode="json", exclude={"owner_resource"})
        client.request("PUT", "/automations/{id}", path_params={"id": first.id}, json=body)
    for copy in extra:
        client.delete_automation(copy.id)
    return Applied(automation.name, "updated", f"removed {len(extra)} duplicates" if extra else "")


def apply_automations(client: SyncPrefectClient, *, webhook: str | None) -> list[Applied]:
    """Create or update every driftgate automation on the client's Prefect server.

    Args:
        client: a synchronous Prefect client (``get_client(sync_client=True)``).
        webhook: the notify URL; None skips the notify automations (each answer says so).

    Returns:
        One :class:`Applied` per automation, in a fixed order.
    """
    from prefect.exceptions import ObjectNotFound

    done: list[Applied] = []
    block_id = save_notify_block(webhook) if webhook else None
    for notify in NOTIFY:
        if block_id is None:
            done.append(Applied(notify.name, "skipped", "DRIFTGATE_NOTIFY_WEBHOOK is not set"))
        else:
            done.append(upsert(client, notify_automation(notify, block_id)))
    for run in RUNS:
        try:
            deployment = client.read_deployment_by_name(run.deployment)
        except ObjectNotFound:
            done.append(Applied(run.name, "skipped", f"no deployment {run.deployment} (prefect deploy --all)"))
            continue
        missing = [p for p in run.needs if deployment.parameters.get(p) is None]
        if missing:
            detail = f"deployment {run.deployment} has no default {', '.join(missing)} to run with"
            done.append(Applied(run.name, "skipped", detail))
            continue
        done.append(upsert(client, run_automation(run, deployment.id)))
    return done


@dataclass(frozen=True)
class Listed:
    """One automation on the server: its name, whether it is on, what it waits for and does."""

    name: str
    enabled: bool
    events: list[str]
    actions: list[str]

    def line(self) -> str:
        state = "on " if self.enabled else "off"
        return f"{state} {self.name}: {', '.join(self.events) or 'any event'} -> {', '.join(self.actions)}"


def list_automations(client: SyncPrefectClient) -> list[Listed]:
    """The server's automations whose names start with ``driftgate``, by name."""
    found = []
    for a in client.read_automations():
        if not a.name.startswith(PREFIX):
            continue
        events = sorted(getattr(a.trigger, "expect", set()))
        found.append(Listed(a.name, a.enabled, events, [act.type for act in a.actions]))
    return sorted(found, key=lambda x: x.name)
