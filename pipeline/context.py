"""What every stage needs (settings, AWS clients, store, progress reporter), built lazily once."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from pipeline.aws import AwsClients
from pipeline.progress import ProgressPublisher, StageReporter
from pipeline.settings import PipelineSettings, get_settings
from pipeline.store import OperationStore


@dataclass
class PipelineContext:
    """Handlers build one per cold start; tests and the local stack pass their own."""

    settings: PipelineSettings
    clients: AwsClients

    @classmethod
    def from_environment(cls) -> PipelineContext:
        settings = get_settings()
        return cls(
            settings, AwsClients(region=settings.region, endpoint_url=settings.aws_endpoint_url)
        )

    @cached_property
    def store(self) -> OperationStore:
        return OperationStore(
            self.clients.dynamodb,
            self.settings.operations_table,
            self.settings.audit_table,
            audit_retention_days=self.settings.audit_retention_days,
        )

    @cached_property
    def reporter(self) -> StageReporter:
        return StageReporter(
            store=self.store,
            publisher=ProgressPublisher(self.clients.sns, self.settings.progress_topic_arn),
        )


_context: PipelineContext | None = None


def default_context() -> PipelineContext:
    """The process-wide context of a Lambda container (cold start validates the settings)."""
    global _context
    if _context is None:
        _context = PipelineContext.from_environment()
    return _context


def set_default_context(context: PipelineContext | None) -> None:
    """The local stack runs every handler in one process against its own context."""
    global _context
    _context = context
