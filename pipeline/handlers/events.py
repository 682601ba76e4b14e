"""The inputs the state machine sends to each function (docs/contracts.md)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from pipeline.stages.lifecycle import LifecycleAction


class OperationEvent(BaseModel):
    """`{operation_id}`: every acting stage."""

    model_config = ConfigDict(extra="ignore")

    operation_id: str = Field(min_length=1)


class CheckEvent(OperationEvent):
    """`{operation_id, attempt}`: the check stages of the wait loops."""

    attempt: int = Field(default=0, ge=0)


class RestoreEvent(OperationEvent):
    """`{operation_id, step}`: restore the cluster, then (once it is available) its instances."""

    step: Literal["cluster", "instances"] = "cluster"


class CheckRestoreEvent(CheckEvent):
    """`{operation_id, attempt, wait_for}`: the restored cluster alone, or with its instances."""

    wait_for: Literal["cluster", "instances"] = "instances"


class LifecycleEvent(OperationEvent):
    """`{operation_id, action, error?}`; `error` is the Catch's `{Error, Cause}`."""

    action: LifecycleAction
    error: dict[str, Any] | None = None
