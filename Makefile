# Two set-up commands: `make demo` and `make test`. Both install what they need into .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1

.PHONY: install test lint typecheck unit demo local synth bench clean rds-ca-bundle iam-policies iam-mutation

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy bot pipeline infra local_stack bench

unit: $(STAMP)
	$(BIN)/pytest

test: lint typecheck unit

demo: $(STAMP)
	$(BIN)/aurora-restore demo

local: $(STAMP)
	$(BIN)/aurora-restore local --stack-file .local-stack.json

synth: $(STAMP)
	$(BIN)/python -m infra.app --output cdk.out

# The local stack's IAM roles: each function's policy as the CDK app synthesizes it.
iam-policies: $(STAMP)
	$(BIN)/python -m local_stack.iam_policies --write

# Removes each Allow statement of each role in turn and shows that some test then fails (long:
# one run of the tests per statement; not part of `make test`). TESTS= picks other tests.
iam-mutation: $(STAMP)
	$(BIN)/python -m local_stack.iam_mutation $(TESTS)

bench: $(STAMP)
	$(BIN)/python -m bench.run

rds-ca-bundle:  # refresh infra/certs/rds-ca-bundle.pem (needs npm)
	infra/certs/refresh.sh

clean:
	rm -rf $(VENV) cdk.out .pytest_cache .mypy_cache .ruff_cache
