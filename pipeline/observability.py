"""The one place that creates the Powertools logger and tracer for the pipeline.

No Metrics object: the stages publish progress events, and infra.runtime.progress_metrics turns
them into CloudWatch metrics, so no stage code has to know about metrics.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger, Tracer

SERVICE = "aurora-restore"

logger = Logger(service=SERVICE)
tracer = Tracer(service=SERVICE, disabled=None)
