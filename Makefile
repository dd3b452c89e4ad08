# niiv — build, run and test. Each target installs what it needs first
# (scripts/setup.sh skips whatever is already present).

GO      ?= go
PYTHON  ?= /usr/bin/python3
export PYTHON
CONFIG  ?= lite
export PATH := $(PATH):/usr/local/go/bin:$(HOME)/go/bin

.PHONY: run build test test-go test-race test-py test-gui test-soak test-slurm soak fuzz train bundle setup setup-test clean

## run: build niiv and open the viewer on the bundled sample volume
run: build
	./niiv

## build: compile the niiv binary
build: setup
	$(GO) build -o niiv .

setup:
	@bash scripts/setup.sh build

setup-test:
	@bash scripts/setup.sh test

## test: the whole test suite (Go, Python training package, real window under Xvfb)
test: setup-test
	$(GO) vet ./...
	@test -z "$$(gofmt -l . | tee /dev/stderr)" || { echo "gofmt: files above need formatting"; exit 1; }
	$(MAKE) test-go test-race test-py test-gui test-soak test-slurm

test-go:
	$(GO) test -count=1 ./...

## test-race: the whole Go suite again under the race detector (decodes,
## encodes, caches, pipelines, the window's background tasks, GL; about 3 min)
RACE_PKGS ?= ./...
test-race:
	$(GO) test -race -count=1 $(RACE_PKGS)

test-py:
	$(MAKE) -C reconstruct/train test PY=$(PYTHON)

test-gui:
	@if [ -x scripts/gui-smoke.sh ]; then bash scripts/gui-smoke.sh; else echo "test-gui: no GUI smoke test yet"; fi

## test-soak: 60 random actions on the real window under Xvfb, then a timed
## close (about 2 minutes): fails on a crash, a close slower than 2 s or a gross
## leak (a short run cannot measure a slow one: see `make soak`)
test-soak:
	bash scripts/soak.sh --short --leak-limit 50

## test-slurm: sharded reconstruction on a one-node Slurm cluster started in a
## temp dir (installs slurm and munge; needs root or sudo; about 1 minute):
## job arrays, --finish, scancel and resume, all equal to one process
test-slurm: build
	bash scripts/slurm-test.sh --bin ./niiv

## soak: the long soak (SOAK_ARGS, default 600 actions on the ISBI stack when
## ../shared/data has it, else on the bundled sample; scripts/soak.sh --help)
SOAK_ARGS ?= --actions 600
soak: setup-test
	bash scripts/soak.sh $(SOAK_ARGS)

## fuzz: run the file-format fuzzers (FUZZTIME each, default 60s)
FUZZTIME ?= 60s
FUZZERS := ./io:FuzzNPY ./io:FuzzTIFF ./io:FuzzNPZ ./io/codec:FuzzBloscDecode ./io/codec:FuzzZstdDecode \
	./io/mrc:FuzzHeader ./io/zarr:FuzzZarrayJSON ./io/zarr:FuzzZarrJSON ./io/zarr:FuzzN5Attributes \
	./io/zarr:FuzzOMEMultiscales ./io/zarr:FuzzN5Block ./io/hdf5:FuzzOpen ./io:FuzzTIFFSource
fuzz: setup
	@for f in $(FUZZERS); do pkg=$${f%%:*}; name=$${f##*:}; \
		echo "fuzz $$pkg $$name"; \
		$(GO) test $$pkg -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) || exit 1; done

## train: train (resumable, MINUTES of budget) and export a preset (CONFIG=lite or paper) into
## assets/models/CONFIG, then evaluate it on Hemibrain and held-out medulla (needs ../shared/data)
MINUTES ?= 85
train: setup-test
	$(MAKE) -C reconstruct/train train CONFIG=$(CONFIG) MINUTES=$(MINUTES) PY=$(PYTHON)
	$(MAKE) -C reconstruct/train eval CONFIG=$(CONFIG) PY=$(PYTHON)

## bundle: desktop package with fyne (fyne.io/tools)
bundle: setup
	$(GO) install fyne.io/tools/cmd/fyne@v1.7.4
	fyne package --release

clean:
	rm -f niiv
