"""Stage 1 (ValidateRequest): make sure the plan the approvers will see still holds.

The bot resolves the plan once (pipeline.plan) and stores it with the operation; this stage
re-checks that plan's facts (the snapshot still available, the target not protected nor newly
there) rather than resolving it again, which could pick another snapshot (`latest:`) than the one
the card shows. An operation stored without a plan (started directly, not through the bot) has
its plan resolved here, once. Either way it then proves what AWS would refuse later
(pipeline.prechecks).
"""

from __future__ import annotations

from typing import TypedDict

from pipeline.context import PipelineContext
from pipeline.models import Plan, Stage, StageStatus
from pipeline.plan import describe_plan, recheck_plan, resolve_plan
from pipeline.prechecks import prove_restorable
from pipeline.rollback import recheck_rollback_plan, resolve_rollback_plan
from pipeline.stages.common import failing_stage


class ValidateResult(TypedDict):
    needs_copy: bool
    delete_target: bool
    swap_target: bool
    target_exists: bool
    rollback: bool  # a rollback: start the kept cluster, then swap (no copy, restore, set-up)
    wait_budgets: dict[str, int]  # each wait loop's maximum checks (pipeline.wait_budgets)


def validate_request(operation_id: str, ctx: PipelineContext) -> ValidateResult:
    """Check (or, without one, resolve and store) the plan; a retried invocation returns the
    plan already checked."""
    operation = ctx.store.get(operation_id)
    previous = operation.stages.get(Stage.VALIDATE)
    plan = operation.plan
    if plan is None or previous is None or previous.status != StageStatus.SUCCEEDED:
        request = operation.request
        ctx.reporter.started(
            operation_id,
            Stage.VALIDATE,
            f"Resolving `{request.snapshot}` for `{request.target_cluster}`",
        )
        with failing_stage(ctx, operation_id, Stage.VALIDATE):
            if request.rollback_of is not None:
                plan = _rollback_plan(plan, operation_id, ctx)
            elif plan is None:
                plan = resolve_plan(request, operation_id, ctx)
                ctx.store.update(operation_id, plan=plan)
            else:
                recheck_plan(plan, request, ctx)
            if not plan.rollback:  # a rollback restores nothing: no snapshot, class or quota
                prove_restorable(plan, ctx)  # what AWS would refuse later (pipeline.prechecks)
        ctx.reporter.finished(
            operation_id,
            Stage.VALIDATE,
            StageStatus.SUCCEEDED,
            describe_plan(plan),
            resources={"source_snapshot": plan.source_snapshot_arn},
        )
    return ValidateResult(
        needs_copy=plan.needs_copy,
        delete_target=plan.delete_target,
        swap_target=plan.swap_target,
        target_exists=plan.target_exists,
        rollback=plan.rollback,
        wait_budgets=ctx.settings.wait_budgets(),
    )


def _rollback_plan(plan: Plan | None, operation_id: str, ctx: PipelineContext) -> Plan:
    request = ctx.store.get(operation_id).request
    if plan is None:
        plan = resolve_rollback_plan(request, operation_id, ctx)
        ctx.store.update(operation_id, plan=plan)
    else:
        recheck_rollback_plan(plan, request, operation_id, ctx)
    return plan
