# Two entry points, each doing its own set-up in .venv:
#   make demo   runs the main job on the embedded synthetic corpus
#   make test   runs the test suite
PYTHON ?= python3
VENV := .venv
INSTALLED := $(VENV)/.installed

.PHONY: demo test benchmark benchmark-gpu docs clean

$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -e '.[test]'
	touch $@

demo: $(INSTALLED)
	$(VENV)/bin/sklearn-ser demo

# Two worker processes: the 2-core machine the suite is sized for runs it in about 7 minutes instead of 10.
test: $(INSTALLED)
	$(VENV)/bin/python -m pytest -n 2 --dist worksteal

benchmark: $(INSTALLED)
	$(VENV)/bin/python benchmarks/extraction.py

# On a machine with a CUDA GPU: the suite (its CUDA tests run there) and the GPU training figures.
benchmark-gpu: $(INSTALLED)
	$(VENV)/bin/python -m pytest -q
	$(VENV)/bin/python benchmarks/training.py --device cuda --batch-sizes 32 128 --utterances all --epochs 4

# The HTML documentation in docs/_build/html; any warning fails the build.
docs: $(INSTALLED)
	$(VENV)/bin/python -m sphinx -W --keep-going -b html docs docs/_build/html

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache docs/_build
