# cmir-tf: the two set-up commands are `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
BASE_STAMP := $(VENV)/.installed-base
DEMO_DIR ?= demo_run
ABLATION_DIR ?= ablation_run

.PHONY: install test demo ablation ablation-extended bench clean

# Two install stamps: the package alone (what `make demo` needs), then the test and torch extras on top.
$(BASE_STAMP): setup.cfg pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e .
	touch $(BASE_STAMP)

$(STAMP): $(BASE_STAMP)
	$(PY) -m pip install -q "torch==2.13.0"  # the CPU build on these machines; the [torch] extra then adds nothing
	$(PY) -m pip install -q -e ".[dev,torch]"
	touch $(STAMP)

install: $(STAMP)

# The suite in pytest-xdist workers, one per core up to 4, each test module in one worker (module fixtures built
# once): on 2 cores the subprocess trainings and the in-process tests overlap.
TEST_WORKERS ?= auto
test: $(STAMP)
	$(PY) -m pytest -q tests -n $(TEST_WORKERS) --maxprocesses=4 --dist loadscope

# The main job end to end on the embedded demo corpus (docs: docs/demo_corpus.md, docs/evaluation.md). Each step skips or
# resumes what an earlier run finished, so a rerun is quick. Budget: <= 10 min from a fresh clone on 2 AVX2
# cores, venv included; the flags below are what to retune (shorter songs and clips mean fewer chunks to embed).
DEMO_CORPUS_FLAGS ?= --min_frames=256 --max_frames=512 --gtzan_seconds=4 --jamendo_seconds=8
DEMO_TRAIN_FLAGS ?= --batch_size=32 --epochs=3 --steps_per_epoch=25 --validation_steps=4 --learning_rate=3e-4 \
	--log_every=5
DEMO_EVAL_FLAGS ?= --repeats=3 --epochs=60
# ContrCF-G plus the playlist-tag terms (docs/playlist_tags.md), so that the demo ends with a text query
DEMO_VARIANT := contr_cf_g_t
DEMO_QUERY ?= 운동 신나는

demo: $(BASE_STAMP)
	test -f $(DEMO_DIR)/corpus/corpus.json || \
		$(PY) -m cmir_tf corpus --output_dir=$(DEMO_DIR)/corpus $(DEMO_CORPUS_FLAGS)
	$(PY) -m cmir_tf prepare --melon_dir=$(DEMO_DIR)/corpus/melon --output_dir=$(DEMO_DIR)/prepared \
		--word2vec_dim=64 --songs_per_shard=500
	$(PY) train.py --flagfile=contrcf_g_t.flags --data_dir=$(DEMO_DIR)/prepared --model_dir=$(DEMO_DIR)/$(DEMO_VARIANT) \
		$(DEMO_TRAIN_FLAGS)
	$(PY) evaluate.py --task=all --model=$(DEMO_DIR)/$(DEMO_VARIANT)/export --name=ContrCF-G-T-demo \
		--gtzan_dir=$(DEMO_DIR)/corpus/gtzan --jamendo_dir=$(DEMO_DIR)/corpus/mtg-jamendo \
		--melon_dir=$(DEMO_DIR)/corpus/melon \
		--data_dir=$(DEMO_DIR)/prepared --results_dir=$(DEMO_DIR)/results --cache_dir=$(DEMO_DIR)/embedding_cache \
		$(DEMO_EVAL_FLAGS)
	$(PY) -m cmir_tf search index $(DEMO_DIR)/corpus/gtzan/genres --model=$(DEMO_DIR)/$(DEMO_VARIANT)/export \
		--index=$(DEMO_DIR)/gtzan.idx --overwrite
	@echo "Text query \"$(DEMO_QUERY)\" (playlist tags) over the demo's GTZAN clips:"
	$(PY) -m cmir_tf search text "$(DEMO_QUERY)" --index=$(DEMO_DIR)/gtzan.idx --top_k=5
	@echo "Embedding map (t-SNE of the Melon test songs by genre): $(DEMO_DIR)/results/embedding_map_ContrCF-G-T-demo.png"
	@echo "TensorBoard: $(VENV)/bin/tensorboard --logdir $(DEMO_DIR)/$(DEMO_VARIANT)/tensorboard"
	@echo "See and hear the GTZAN index (docs/explore.md; Ctrl-C stops): $(VENV)/bin/cmir-explore --index=$(DEMO_DIR)/gtzan.idx"

# The paper's ablation (six variants, an untrained reference, Tables 1-3, figure) on the demo corpus; resumable,
# not part of `make test` (docs: docs/evaluation.md). Real data: add --data_dir/--melon_dir/--gtzan_dir/--jamendo_dir.
ablation: $(STAMP)
	$(PY) -m cmir_tf ablation --output_dir=$(ABLATION_DIR)

# The claims run (docs/intra_modal.md, docs/measured.md): the paper's six, hybrid, pl_pos and self, three training
# seeds, 3 probe repeats, on a corpus of `make demo`'s size (shorter songs and clips than `make ablation`'s, so that
# it fits one session on 2 cores); writes claims.md beside tables.md. Resumable; more rows: EXTENDED_VARIANTS.
CLAIMS_DIR ?= claims_run
EXTENDED_VARIANTS ?= contr_cf_g,bline_cf_g,contr_g,bline_g,contr_cf,bline_cf,hybrid,pl_pos,self
ABLATION_EXTENDED_FLAGS ?= --seeds=3 --repeats=3
ablation-extended: $(STAMP)
	test -f $(CLAIMS_DIR)/corpus/corpus.json || \
		$(PY) -m cmir_tf corpus --output_dir=$(CLAIMS_DIR)/corpus $(DEMO_CORPUS_FLAGS)
	$(PY) -m cmir_tf prepare --melon_dir=$(CLAIMS_DIR)/corpus/melon --output_dir=$(CLAIMS_DIR)/prepared \
		--word2vec_dim=64 --songs_per_shard=500
	$(PY) -m cmir_tf ablation --output_dir=$(CLAIMS_DIR)/ablation --data_dir=$(CLAIMS_DIR)/prepared \
		--melon_dir=$(CLAIMS_DIR)/corpus/melon --gtzan_dir=$(CLAIMS_DIR)/corpus/gtzan \
		--jamendo_dir=$(CLAIMS_DIR)/corpus/mtg-jamendo --variants=$(EXTENDED_VARIANTS) $(ABLATION_EXTENDED_FLAGS)

bench: $(STAMP)
	for b in benchmarks/bench_*.py; do $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) $(DEMO_DIR) $(ABLATION_DIR) $(CLAIMS_DIR) build *.egg-info
