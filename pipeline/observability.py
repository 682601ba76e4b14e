"""The one place that creates the Powertools logger, tracer and metrics for the pipeline."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer

SERVICE = "aurora-restore"

logger = Logger(service=SERVICE)
tracer = Tracer(service=SERVICE, disabled=None)
metrics = Metrics(service=SERVICE, namespace="AuroraRestore")
