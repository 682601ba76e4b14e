"""Known secret values of a running stack, and where they must never appear: log records, process
output, anything sent to Slack (messages, ephemerals, response_url bodies, HTTP answers to Slack's
requests) and button values."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from local_stack.stack import LocalStack
from tests.reliability.spec import OPERATION_ID

# The project's own loggers are read at DEBUG; every other logger at INFO, as on Lambda (botocore's
# DEBUG output carries request bodies by design and is never enabled in production).
PROJECT_LOGGERS = ("aurora_restore", "aurora-restore", "bot", "pipeline", "local_stack")


class LogRecorder(logging.Handler):
    """Keeps every record's full content: message, arguments, extra fields and traceback."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self._lock_texts = threading.Lock()
        self.texts: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        parts = [record.getMessage(), repr(record.__dict__)]
        if record.exc_info:
            parts.append(logging.Formatter().formatException(record.exc_info))
        with self._lock_texts:
            self.texts.append("\n".join(parts))

    @contextmanager
    def attached(self, level: int = logging.DEBUG) -> Iterator[LogRecorder]:
        root = logging.getLogger()
        # Loggers that do not propagate (Powertools' service logger) get the handler directly.
        isolated = [
            logger
            for logger in logging.Logger.manager.loggerDict.values()
            if isinstance(logger, logging.Logger) and not logger.propagate
        ]
        project = [logging.getLogger(name) for name in PROJECT_LOGGERS]
        saved = {logger: logger.level for logger in [root, *project, *isolated]}
        root.setLevel(min(root.level or logging.WARNING, logging.INFO))
        for logger in project:
            logger.setLevel(level)
        for logger in [root, *isolated]:
            logger.addHandler(self)
        try:
            yield self
        finally:
            for logger in [root, *isolated]:
                logger.removeHandler(self)
            for logger, previous in saved.items():
                logger.setLevel(previous)


def known_secrets(stack: LocalStack) -> dict[str, str]:
    """Name → value of every secret the stack holds right now."""
    secrets = {
        "signing secret": str(stack.info["signing_secret"]),
        "bot token": str(stack.info["bot_token"]),
    }
    manager = stack.clients.secretsmanager
    for page in manager.get_paginator("list_secrets").paginate():
        for entry in page["SecretList"]:
            versions = manager.list_secret_version_ids(SecretId=entry["ARN"])["Versions"]
            for version in versions:
                value = manager.get_secret_value(
                    SecretId=entry["ARN"], VersionId=version["VersionId"]
                )
                text = str(value["SecretString"])
                try:  # the database credentials: JSON with a password
                    document = json.loads(text)
                except ValueError:  # the Slack secrets: the value itself
                    document = None
                label = f"{entry['Name']} ({version['VersionId']})"
                if not isinstance(document, dict):
                    secrets[f"value of {label}"] = text
                elif document.get("password"):
                    secrets[f"password in {label}"] = str(document["password"])
    dynamodb = stack.clients.dynamodb
    scan: dict[str, Any] = {
        "TableName": stack.info["operations_table"],
        "ProjectionExpression": "operation_id, task_token",
    }
    while True:
        answer = dynamodb.scan(**scan)
        for item in answer.get("Items", []):
            token = item.get("task_token", {}).get("S")
            if token:
                secrets[f"task token of {item['operation_id']['S']}"] = token
        if "LastEvaluatedKey" not in answer:
            return secrets
        scan["ExclusiveStartKey"] = answer["LastEvaluatedKey"]


def slack_traffic(stack: LocalStack, response_urls: Iterable[str]) -> list[str]:
    """Everything the bot sent towards Slack: Web API calls (messages, updates, ephemerals,
    views) and the bodies it posted to response_urls."""
    texts = [f"{method} {json.dumps(args, default=str)}" for method, args in stack.slack.calls]
    base = str(stack.info["response_url_base"])
    for url in response_urls:
        key = url.removeprefix(base)
        texts.extend(json.dumps(body, default=str) for body in stack.slack.responses(key))
    return texts


def button_values(stack: LocalStack) -> list[str]:
    values = []
    for method, args in stack.slack.calls:
        if method not in {"chat.postMessage", "chat.update", "chat.postEphemeral"}:
            continue
        blocks = args.get("blocks") or []
        if isinstance(blocks, str):
            blocks = json.loads(blocks)
        for block in blocks:
            for element in block.get("elements", []) if isinstance(block, dict) else []:
                if isinstance(element, dict) and element.get("type") == "button":
                    values.append(str(element.get("value", "")))
    return values


def find_leaks(secrets: Mapping[str, str], places: Mapping[str, Iterable[str]]) -> list[str]:
    leaks = []
    for where, texts in places.items():
        for text in texts:
            for name, value in secrets.items():
                if value and value in text:
                    leaks.append(f"{name} in {where}: …{_around(text, value)}…")
    return leaks


def _around(text: str, value: str) -> str:
    start = text.index(value)
    return text[max(0, start - 60) : start].replace(value, "<secret>") + "<secret>"


def assert_no_secrets_leaked(
    stack: LocalStack,
    recorder: LogRecorder,
    secrets: dict[str, str],
    *,
    response_urls: Iterable[str] = (),
    http_answers: Iterable[str] = (),
    output: Iterable[str] = (),
) -> None:
    values = button_values(stack)
    leaks = find_leaks(
        secrets,
        {
            "a log record": recorder.texts,
            "the process output": output,
            "Slack traffic": slack_traffic(stack, response_urls),
            "an HTTP answer to Slack": http_answers,
        },
    )
    assert not leaks, "\n".join(leaks)
    assert all(OPERATION_ID.fullmatch(value) for value in values), values
