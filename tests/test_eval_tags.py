"""The playlist-tag evaluations (cmir_tf/evaluation/tags.py): Table 5's metric on planted vectors, both tag tasks
through the protocol on the demo corpus with planted audio and tag vectors, Tables 3 and 5, and evaluate.py end to
end on an exported (randomly initialised) contr_cf_g_t, with the skips of a model or a data folder without tags."""

import hashlib
import json
import os

import numpy as np
import pytest
from test_exported_model import evaluate

from cmir_tf.audio import chunk_mel
from cmir_tf.data import melon
from cmir_tf.data.prepared import PreparedFolder
from cmir_tf.evaluation import results
from cmir_tf.evaluation.playlist import build_queries, load_test_songs, mel_path
from cmir_tf.evaluation.tags import (MIN_TAG_POSITIVES, evaluate_tag_cold_start, evaluate_tag_retrieval,
                                     load_song_tags, tag_retrieval_metrics)
from cmir_tf.joint import JointSpace, MissingSignatureError, unit_rows

DIM = 128


def test_planted_audio_scores_its_tags_near_one_random_audio_near_half_and_rare_tags_are_left_out():
    rng = np.random.default_rng(0)
    tags = unit_rows(rng.standard_normal((12, DIM)))
    labels = (rng.random((400, 12)) < 0.2).astype(np.int64)
    labels[:, 10:] = 0
    labels[:MIN_TAG_POSITIVES, 10] = 1  # exactly the minimum: scored
    labels[:MIN_TAG_POSITIVES - 1, 11] = 1  # one short: left out
    planted = labels @ tags + 0.1 * rng.standard_normal((400, DIM))  # each song next to the sum of its tags
    found = tag_retrieval_metrics(labels, unit_rows(planted) @ tags.T)
    assert found["n_tags_scored"] == 11 and found["min_positives"] == MIN_TAG_POSITIVES
    assert found["roc_auc"] > 0.99 and found["pr_auc"] > 0.95
    assert found["random_baseline"]["roc_auc"] == pytest.approx(0.5, abs=0.05)
    unrelated = tag_retrieval_metrics(labels, unit_rows(rng.standard_normal((400, DIM))) @ tags.T)
    assert unrelated["roc_auc"] == pytest.approx(0.5, abs=0.05) and unrelated["n_tags_scored"] == 11
    with pytest.raises(ValueError, match=f"no playlist tag has {MIN_TAG_POSITIVES} positive test songs"):
        tag_retrieval_metrics(labels[:, 11:], planted[:, :1])


class PlantedEmbedder:
    """Every chunk of a planted song embeds to that song's planted vector (so does their mean); chunks are
    recognised by their bytes, as the protocol cuts them."""

    model_key, output, dim = "planted", "embedding", DIM

    def __init__(self, melon_dir: str, vectors: dict[int, np.ndarray]):
        self.table = {}
        for song, vector in vectors.items():
            for chunk in chunk_mel(np.load(mel_path(melon_dir, song)).T.astype(np.float32)).numpy():
                self.table[hashlib.sha256(chunk.tobytes()).digest()] = vector.astype(np.float32)

    def embed_chunks(self, chunks: np.ndarray) -> np.ndarray:
        return np.stack([self.table[hashlib.sha256(c.tobytes()).digest()] for c in chunks])


class PlantedTagSpace(JointSpace):
    """A joint space with the given tag vocabulary and (V, D) tag vectors; `tag_scores` and `tags_vector` are
    JointSpace's own."""

    def __init__(self, vocabulary: tuple[str, ...], vectors: np.ndarray):  # no model: the cached properties set
        self.signatures = {"embed_tags", "tag_vocabulary"}
        self.__dict__.update(tag_vocabulary=vocabulary, tag_embeddings=unit_rows(vectors))

    def require(self, signature: str, purpose: str) -> None:
        if signature not in self.signatures:
            raise MissingSignatureError(f"{purpose} needs {signature}")


@pytest.fixture(scope="module")
def planted(demo_corpus, prepared_demo):
    """(melon_dir, the demo's tag vocabulary, random tag vectors, an embedder whose test songs sit at the sum of
    their bag's tag vectors)."""
    melon_dir = os.path.join(demo_corpus, "melon")
    vocab = PreparedFolder(prepared_demo).tag_vocab()
    vocabulary = tuple(sorted(vocab, key=vocab.get))
    rng = np.random.default_rng(0)
    vectors = unit_rows(rng.standard_normal((len(vocabulary), DIM)))
    bags, row = load_song_tags(prepared_demo), {tag: i for i, tag in enumerate(vocabulary)}
    audio = {s: vectors[[row[t] for t in bags.get(s, ())]].sum(axis=0) + 0.05 * rng.standard_normal(DIM)
             for s in load_test_songs(prepared_demo).tolist()}
    return melon_dir, vocabulary, vectors, PlantedEmbedder(melon_dir, audio)


def test_tag_retrieval_of_planted_songs_is_near_perfect(planted, prepared_demo):
    melon_dir, vocabulary, vectors, embedder = planted
    result = evaluate_tag_retrieval(PlantedTagSpace(vocabulary, vectors), embedder, melon_dir, prepared_demo)
    bags, test = load_song_tags(prepared_demo), load_test_songs(prepared_demo).tolist()
    positives = {t: sum(t in bags.get(s, ()) for s in test) for t in vocabulary}
    assert result["n_songs"] == sum(s in bags for s in test) and result["n_songs_without_tags"] == sum(
        s not in bags for s in test)
    assert result["n_tags_scored"] == sum(result["n_songs"] > n >= MIN_TAG_POSITIVES for n in positives.values())
    assert result["n_tags_scored"] >= 3 and result["roc_auc"] > 0.95
    assert result["roc_auc"] > result["random_baseline"]["roc_auc"] + 0.2
    with pytest.raises(MissingSignatureError, match="embed_tags"):
        space = PlantedTagSpace(vocabulary, vectors)
        space.signatures = set()
        evaluate_tag_retrieval(space, embedder, melon_dir, prepared_demo)


def test_tag_cold_start_of_planted_songs_beats_random_on_the_protocols_queries(planted, prepared_demo):
    melon_dir, vocabulary, vectors, embedder = planted
    space = PlantedTagSpace(vocabulary, vectors)
    result = evaluate_tag_cold_start(space, embedder, melon_dir, prepared_demo)
    test = load_test_songs(prepared_demo)
    playlists = melon.read_playlists(melon_dir, PreparedFolder(prepared_demo).playlist_files())
    n_queries = len(build_queries([np.asarray(p["songs"]) for p in playlists], test).index)
    assert result["n_playlists"] + result["playlists_without_known_tags"] == n_queries
    assert result["n_candidates"] == len(test) and result["query_sample"] is None
    assert result["ndcg@100"] > result["random_baseline"]["ndcg@100"] + 0.05
    assert result["map@100"] > result["random_baseline"]["map@100"]
    # a vocabulary of two tags leaves out the playlists with neither; --query_sample and --test_songs as cold start
    narrow = evaluate_tag_cold_start(PlantedTagSpace(vocabulary[-2:], vectors[-2:]), embedder, melon_dir,
                                     prepared_demo)
    assert narrow["playlists_without_known_tags"] > result["playlists_without_known_tags"]
    sampled = evaluate_tag_cold_start(space, embedder, melon_dir, prepared_demo, query_sample=5,
                                      test_songs=test[:12])
    assert sampled["n_playlists"] <= 5 and sampled["n_candidates"] == 12
    assert sampled["query_sample"]["n"] == 5 and sampled["query_sample"]["seed"] == 0


def test_tables_show_tag_retrieval_and_tag_cold_start_with_dashes_for_models_without_tags():
    tags = {"ContrCF-G-T": {"roc_auc": 0.71, "pr_auc": 0.32, "random_baseline": {"roc_auc": 0.5, "pr_auc": 0.2}},
            "Skipped": {"skipped_reason": "no embed_tags"}}
    table = results.markdown_table("tags", tags)
    assert table.startswith("### Table 5: zero-shot playlist-tag retrieval of the Melon test split")
    assert f"at least {MIN_TAG_POSITIVES} positive test songs" in table and "| Model | ROC-AUC | PR-AUC |" in table
    assert "| ContrCF-G-T | 0.710 | 0.320 |" in table and "| Skipped | – | – |" in table
    assert "| Random scores | 0.500 | 0.200 |" in table
    ranking = {"random_baseline": {"ndcg@100": 0.1, "map@100": 0.02}}
    tag_run = {"ndcg@100": 0.3, "map@100": 0.1, **ranking, "cold_start": {"skipped_reason": "no vectors"},
               "tag_cold_start": {"ndcg@100": 0.22, "map@100": 0.07,
                                  "random_baseline": {"ndcg@100": 0.12, "map@100": 0.04}}}
    plain = {"ndcg@100": 0.2, "map@100": 0.05, **ranking, "tag_cold_start": {"skipped_reason": "no embed_tags"}}
    table = results.markdown_table("playlist", {"ContrCF-G-T": tag_run, "ContrCF-G": plain})
    assert "| Tag cold-start NDCG@100 | Tag cold-start MAP@100 | Paper NDCG@100 |" in table
    assert "| ContrCF-G-T | 0.3000 | 0.1000 | – | – | 0.2200 | 0.0700 |" in table
    assert "| ContrCF-G | 0.2000 | 0.0500 | – | – | – | – |" in table
    assert "| Random ranking | 0.1000 | 0.0200 | – | – | 0.1200 | 0.0400 |" in table  # kept from the tag run


def test_evaluate_tags_end_to_end_on_an_exported_tag_model(tag_model, demo_corpus, prepared_demo,
                                                             tmp_path, capsys):
    _, model = tag_model
    common = [f"--model={model}", "--name=ContrCF-G-T", f"--melon_dir={os.path.join(demo_corpus, 'melon')}",
              f"--data_dir={prepared_demo}", f"--results_dir={tmp_path}", f"--cache_dir={tmp_path / 'cache'}"]
    assert evaluate("--task=playlist", "--exact", "--noembedding_map", *common) == 0
    assert evaluate("--task=tags", *common) == 0
    out = capsys.readouterr().out
    assert "Table 5: zero-shot playlist-tag retrieval" in out and "skipped" not in out
    found = json.loads((tmp_path / "tags.json").read_text())["ContrCF-G-T"]
    bags, test = load_song_tags(prepared_demo), load_test_songs(prepared_demo).tolist()
    assert found["n_songs"] == sum(s in bags for s in test) and found["n_tags_scored"] >= 3
    assert 0 <= found["roc_auc"] <= 1 and set(found["random_baseline"]) == {"roc_auc", "pr_auc"}
    assert "| ContrCF-G-T |" in (tmp_path / "tags.md").read_text()
    tag_cold_start = json.loads((tmp_path / "playlist.json").read_text())["ContrCF-G-T"]["tag_cold_start"]
    assert tag_cold_start["n_playlists"] >= 10 and 0 <= tag_cold_start["ndcg@100"] <= 1
    assert "playlists_without_known_tags" in tag_cold_start
    assert "| Tag cold-start NDCG@100 |" in (tmp_path / "playlist.md").read_text()
    assert len(os.listdir(tmp_path / "cache")) == 1  # one model, its songs embedded once for both tasks


def test_a_model_or_a_data_folder_without_tags_is_skipped_with_its_reason(tag_model, audio_export,
                                                                          eval_corpus, tmp_path, capsys):
    melon_dir = f"--melon_dir={eval_corpus / 'demo' / 'melon'}"
    data_dir = f"--data_dir={eval_corpus / 'prepared'}"  # splits.json only: prepared before tags
    assert evaluate(f"--model={audio_export}", "--name=x", "--task=tags", melon_dir) == 2
    assert capsys.readouterr().err.strip().endswith("cmir-evaluate: error: evaluating tags needs --data_dir")
    assert evaluate(f"--model={audio_export}", "--name=bline", "--task=tags", melon_dir, data_dir,
                    f"--results_dir={tmp_path}") == 0
    assert capsys.readouterr().out.strip().startswith(
        f"zero-shot playlist-tag retrieval: skipped, the model at {audio_export} (variant bline_g) has no `embed_tags` "
        "signature: only contrastive variants trained with a playlist-tag encoder export it")
    assert evaluate(f"--model={tag_model[1]}", "--name=tagged", "--task=tags", melon_dir, data_dir,
                    f"--results_dir={tmp_path}") == 0
    reason = capsys.readouterr().out.strip()
    assert reason.startswith("zero-shot playlist-tag retrieval: skipped, ")
    assert "prepared before playlist tags" in reason
    assert not (tmp_path / "tags.json").exists()


def test_the_ablation_evaluates_the_tag_tasks_of_models_with_tag_signatures_only(tag_model, audio_export,
                                                                                demo_corpus, prepared_demo, tmp_path):
    import dataclasses

    from cmir_tf.evaluation.run import evaluate_model
    from cmir_tf.experiments import ablation

    config = ablation.AblationConfig(str(tmp_path), data_dir=prepared_demo, melon_dir=os.path.join(demo_corpus, "melon"),
                                     gtzan_dir=os.path.join(demo_corpus, "gtzan"),
                                     jamendo_dir=os.path.join(demo_corpus, "mtg-jamendo"))
    melon_tasks = dataclasses.replace(ablation.evaluation_config(config, "contr_cf_g_t"), tasks=("playlist", "tags"))
    found = evaluate_model(tag_model[1], melon_tasks)
    assert found["tags"]["n_tags_scored"] >= 3 and found["playlist"]["tag_cold_start"]["n_playlists"] >= 10
    plain = evaluate_model(audio_export, melon_tasks)
    assert "tags" not in plain and "skipped_reason" in plain["playlist"]["tag_cold_start"]
