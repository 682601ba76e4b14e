"""The Slack bot: the `/restore` endpoint, the approval task and the progress notifier.

Where the bot does by hand what a library already does, on purpose (measured by `make bench`,
cold_start: the Slack endpoint answers its first request within Slack's three seconds, cold):
- `bot.self_invoke`: Bolt's lazy self-invocation without building a boto3 Lambda client (the
  service model's load was the largest single cost of the first answer);
- `bot.secrets_extension`: the Parameters and Secrets extension read over localhost rather than
  Powertools Parameters (no SDK client on the cold path; Powertools stays the fallback);
- `bot.settings`: a checked frozen dataclass rather than pydantic-settings (importing pydantic
  cost the first answer about as much as Bolt's own set-up);
- stdlib `logging` rather than Powertools Logger: the functions log in Lambda's JSON format
  (infra.functions: `logging_format=JSON`), which already writes each record as JSON with its
  level, time and request id, while importing Powertools' logging adds about 30 ms to the
  endpoint's ~250 ms of imports (python -X importtime, on these 2 CPUs);
- `bot.delivery`: exactly-once delivery markers rather than Powertools idempotency (its
  docstring says why: markers for the steps inside one delivery).
The notifier's FIFO batch handling is Powertools' (`SqsFifoPartialProcessor`).
"""
