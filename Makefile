# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The CPU build of torch installs from local disk here; override on a CUDA machine,
# e.g. `make demo TORCH_SPEC=torch` to take the default (CUDA) build.
TORCH_SPEC ?= torch==2.13.0
STAMP := $(VENV)/.installed-stamp

# torch's OpenMP threads spin while waiting; on a shared or oversubscribed CPU that stalls
# them, so benchmarks and tests let idle threads sleep.
export OMP_WAIT_POLICY ?= PASSIVE

.PHONY: demo test venv bench bench-rir bench-scenes bench-metrics bench-models bench-train bench-baselines fidelity clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q "$(TORCH_SPEC)"
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/asabench demo --out out/demo

test: $(STAMP)
	$(BIN)/python -m pytest -q

# Speed benchmarks against the peers named in the issues; each prints its ratios.
bench-rir: $(STAMP)
	$(BIN)/python -m asabench.benchmark.perf.rir

bench-scenes: $(STAMP)
	$(BIN)/python -m asabench.benchmark.perf.scenes

bench-metrics: $(STAMP)
	$(BIN)/python -m asabench.benchmark.perf.separation
	$(BIN)/python -m asabench.benchmark.perf.seld
	$(BIN)/python -m asabench.benchmark.perf.scoring

bench-models: $(STAMP)
	$(BIN)/python -m asabench.benchmark.perf.models
	$(BIN)/python -m asabench.benchmark.perf.soundcompass

# Training step clips/s (tiny, paper), Mamba2 scan vs recurrence, on-the-fly scenes/s per worker.
bench-train: $(STAMP)
	$(BIN)/python -m asabench.benchmark.perf.train

# SELD DSP baselines: MUSIC maps before/after the per-cell rewrite, whole scenes (synthetic scenes).
bench-baselines: $(STAMP)
	$(BIN)/python -m asabench.benchmark.perf.dsp_seld --threads 1

bench: bench-rir bench-scenes bench-metrics bench-models bench-train bench-baselines

# Regenerate the model fidelity table (docs/fidelity.md).
fidelity: $(STAMP)
	$(BIN)/asabench fidelity --out docs/fidelity.md

clean:
	rm -rf $(VENV) build *.egg-info out .pytest_cache
