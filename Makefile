# The two commands of the README: `make show` and `make test`. Both set everything up first.
.PHONY: show rehearse test check bench setup

VENV_STAMP := .venv/.installed

$(VENV_STAMP): pyproject.toml constraints.txt scripts/setup.sh
	bash scripts/setup.sh
	touch $@

setup: $(VENV_STAMP)

show: $(VENV_STAMP)
	.venv/bin/stage run show.toml

rehearse: $(VENV_STAMP)
	.venv/bin/stage rehearse show.toml

check: $(VENV_STAMP)
	.venv/bin/stage check show.toml

test: $(VENV_STAMP)
	.venv/bin/ruff check .
	.venv/bin/python -m pytest -q

bench: $(VENV_STAMP)
	.venv/bin/python bench/realtime.py
