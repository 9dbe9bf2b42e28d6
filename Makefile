# The documented commands. `make demo` and `make test` work on a machine with only Python 3.11:
# uv is bootstrapped into .venv with pip when it is not on PATH.
PYTHON ?= python3.11
VENV := .venv
UV_PIN := 0.13.8
UV := $(or $(shell command -v uv 2>/dev/null),$(VENV)/bin/uv)
RUN := $(UV) run --frozen
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: install demo serve test lint format bench clean messages

$(VENV)/bin/uv:
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet uv==$(UV_PIN)

$(VENV)/.installed: pyproject.toml uv.lock $(if $(shell command -v uv 2>/dev/null),,$(VENV)/bin/uv)
	$(UV) sync --frozen --python $(PYTHON)
	@touch $@

install: $(VENV)/.installed

demo: install
	$(RUN) earnloop db upgrade
	$(RUN) earnloop demo seed
	$(RUN) earnloop serve --host 127.0.0.1 --port 8000

serve: install
	$(RUN) earnloop serve

test: install
	$(RUN) pytest -n 2 --dist loadgroup -q

lint: install
	$(RUN) ruff check src tests
	$(RUN) ruff format --check src tests
	$(RUN) mypy
	$(RUN) python scripts/check_sizes.py src
	$(RUN) lint-imports --no-logo

format: install
	$(RUN) ruff check --fix src tests
	$(RUN) ruff format src tests

# the app's strings: extract them and merge into the zh-TW catalog (then fill in every empty msgstr)
messages: install
	$(RUN) pybabel extract -F babel.cfg -k _ -k gettext -k ngettext:1,2 --no-location --omit-header -o var/messages.pot .
	$(RUN) pybabel update -i var/messages.pot -d src/earnloop/web/locale -D messages --no-fuzzy-matching

bench: install
	$(RUN) earnloop bench all

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache .hypothesis
