"""Prepare from a catalogue (`--audio_dir`, `--tracks`, `--playlists_from`): a folder of generated audio in
several formats, a track table and M3U playlists with the usual mess, then training, export and
`cmir-search genre` by one of the catalogue's own genre names (docs/catalogue.md)."""

import json
import os
import shutil
import subprocess
import sys
import unicodedata

import numpy as np
import pytest
import soundfile as sf

from cmir_tf.data import catalogue as catalogue_source
from cmir_tf.data import prepare
from cmir_tf.data.catalogue import recipes
from cmir_tf.data.catalogue.mels import window
from cmir_tf.data.catalogue.words import normalise_word
from cmir_tf.data.prepared import DamagedFolderError, PreparedFolder

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV = {**os.environ, "PYTHONPATH": ROOT, "TF_CPP_MIN_LOG_LEVEL": "3"}
GENRES = ("Indie Rock", "Jazz", "Electronic")
FORMATS = ("wav", "flac", "ogg", "mp3" if "MP3" in sf.available_formats() else "flac")  # libsndfile >= 1.1
TINY = dict(songs_per_shard=8, cf_threads=1, cf_epochs=2, word2vec_dim=16, frames=300, min_tag_count=1)


def _tone(genre: int, track: int, seconds: float = 3.0, rate: int = 22050) -> np.ndarray:
    """A short stereo clip whose spectrum depends on its genre (so that genres are learnable) and its track."""
    t = np.arange(int(seconds * rate)) / rate
    base = 220.0 * (2 ** genre) * (1 + 0.03 * track)
    mono = 0.3 * np.sin(2 * np.pi * base * t) + 0.1 * np.sin(2 * np.pi * 3.1 * base * t)
    return np.stack([mono, mono * 0.9], axis=1).astype(np.float32)


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory):
    """(audio folder, tracks.csv, playlists folder): 24 tracks in 4 formats (Korean and spaced names), a table
    with mess (a missing file, a duplicate row, a row without genre, a malformed row, a non-UTF-8 line, a
    copy of one file under another name) and M3U playlists (relative, absolute, missing and URL entries)."""
    root = tmp_path_factory.mktemp("catalogue")
    audio = root / "music"
    rows = ["path,genre,artist,album"]
    paths = []
    for i in range(24):
        genre = i % 3
        folder = audio / ("한국 가요" if i % 4 == 0 else f"artist {i % 5}")
        folder.mkdir(parents=True, exist_ok=True)
        name = f"노래 {i}.{FORMATS[i % 4]}" if i % 2 else f"track {i}.{FORMATS[i % 4]}"
        with sf.SoundFile(str(folder / name), "w", 22050, 2) as f:
            if FORMATS[i % 4] != "wav":  # Vorbis comments and ID3, read back by mutagen without a table
                f.genre, f.artist = GENRES[genre], f"artist {i % 5}"
            f.write(_tone(genre, i))
        relative = f"{folder.name}/{name}"
        paths.append(relative)
        spelled = GENRES[genre].upper() if i % 5 == 0 else GENRES[genre]  # spellings of one genre meet
        rows.append(f'"{relative}","{spelled}|Pop",artist {i % 5},album {i % 3}')
    shutil.copy(audio / paths[1], audio / "copy of one.ogg" if paths[1].endswith(".ogg") else audio / "copy.flac")
    copy = "copy of one.ogg" if paths[1].endswith(".ogg") else "copy.flac"
    (audio / "broken.wav").write_bytes(b"RIFF not really audio")
    (audio / "no genre.wav").write_bytes((audio / paths[0]).read_bytes())
    rows += [f"{copy},Jazz,x,y", "broken.wav,Jazz,,", "no genre.wav,,,", "gone.wav,Jazz,,", f'"{paths[2]}",Jazz,,',
             "a,b,c,d,e,f"]
    table = root / "tracks.csv"
    table.write_bytes(("\n".join(rows) + "\n").encode() + b"caf\xe9.wav,Jazz,,\n")
    lists = root / "playlists"
    (lists / "sub").mkdir(parents=True)
    for k in range(6):
        entries = ["#EXTM3U", "#EXTINF:3,Someone - Something"] + [f"../music/{p}" for p in paths[k::3]]
        (lists / f"Summer Hits {k % 2}.m3u8").write_text("\n".join(entries) + "\n", encoding="utf-8")
    (lists / "sub" / "Night Drive.m3u").write_text(
        "\n".join([str(audio / paths[3]), str(audio / paths[6]), "https://radio.example/stream.mp3",
                   "../../music/missing.mp3", unicodedata.normalize("NFD", f"../../music/{paths[9]}")]) + "\n")
    (lists / "only urls.m3u8").write_text("http://example.com/a.mp3\n")
    return audio, table, lists


@pytest.fixture(scope="module")
def prepared(catalogue, tmp_path_factory):
    audio, table, lists = catalogue
    out = str(tmp_path_factory.mktemp("prepared") / "catalogue")
    config = prepare.PrepareConfig(None, out, audio_dir=str(audio), tracks=str(table), playlists_from=str(lists),
                                   **TINY)
    return config, prepare.prepare(config)


def test_the_mess_is_counted_and_named(prepared):
    config, manifest = prepared
    report = json.loads(open(PreparedFolder(config.output_dir).report_path).read())["catalogue"]
    counts = report["skipped"]["counts"]
    assert counts == {"missing_audio": 1, "malformed_row": 1, "bad_encoding": 1, "duplicate_path": 1,
                      "undecodable_audio": 1, "no_genre": 1, "duplicate_content": 1, "url_entry": 2,
                      "no_such_track": 1, "empty_playlist": 1}
    named = report["skipped"]["examples"]
    assert named["undecodable_audio"] == ["broken.wav"] and named["bad_encoding"] == ["tracks.csv:32"]
    assert named["duplicate_content"][0].startswith("copy") and named["empty_playlist"] == ["only urls"]
    assert report["kept"] == 24 and report["playlists"] == {"read": 4, "kept": 3}
    assert manifest["source"]["audio_dir"] == os.path.abspath(config.audio_dir)
    assert sum(manifest["counts"].values()) == 24


def test_genre_words_are_normalised_into_one_vocabulary(prepared):
    config, _ = prepared
    folder = PreparedFolder(config.output_dir)
    assert set(folder.genre_vocab()) == {"indie rock", "jazz", "electronic", "pop"}
    assert folder.genre_names()["indie rock"] == "Indie Rock"
    assert folder.genre_word2vec().shape == (5, 16)
    assert normalise_word(" ＩＮＤＩＥ\tRock ") == "indie rock"


def test_a_rerun_resumes_and_a_changed_table_is_refused(prepared, catalogue, caplog):
    config, manifest = prepared
    with caplog.at_level("INFO"):
        assert prepare.prepare(config) == manifest
    assert "mels: 0 computed, 25 cached" in caplog.text  # 24 kept and the duplicate copy
    audio, table, _ = catalogue
    changed = table.parent / "changed.csv"
    changed.write_bytes(table.read_bytes().replace(b"Jazz", b"Blues"))
    with pytest.raises(prepare.fingerprint.OtherRecipeError, match="inputs.tracks_table"):
        prepare.prepare(prepare.PrepareConfig(None, config.output_dir, audio_dir=str(audio), tracks=str(changed),
                                              playlists_from=config.playlists_from, **TINY))


def test_without_a_table_the_files_tags_and_without_playlists_no_cf(prepared, catalogue, tmp_path):
    """No --tracks: the Vorbis comments (FLAC, Ogg) and ID3 tags (MP3) give genres and artists (the WAV files
    carry none here); no --playlists_from: no CF vectors. The mel cache of the first folder is shared."""
    config, _ = prepared
    audio, _, _ = catalogue
    out = str(tmp_path / "tags_only")
    manifest = prepare.prepare(prepare.PrepareConfig(None, out, audio_dir=str(audio), **TINY,
                                                     mel_cache_dir=PreparedFolder(config.output_dir).mel_cache_path))
    report = json.loads(open(PreparedFolder(out).report_path).read())["catalogue"]
    assert report["kept"] == 18 and report["mels"]["computed"] == 0  # the FLAC, Ogg and MP3 files, cached
    assert report["skipped"]["counts"] == {"no_genre": 8, "duplicate_content": 1, "unreadable_tags": 1}
    assert report["skipped"]["examples"]["unreadable_tags"] == ["broken.wav"]  # no_genre: it and 7 WAV files
    assert set(PreparedFolder(out).genre_vocab()) == {"indie rock", "jazz", "electronic"}
    assert manifest["with_cf"] == {"train": 0, "validation": 0, "test": 0}


def test_a_playlist_csv_with_tags(catalogue, tmp_path):
    audio, table, _ = catalogue
    rows = ["playlist,track,tags", "Late,/elsewhere/x.wav,",
            'Late,"한국 가요/track 0.wav",Chill|Night', 'Late,"한국 가요/track 0.wav",night;Rain', "Morning,gone.mp3,",
            "Broken,row"]
    (tmp_path / "playlists.csv").write_text("\n".join(rows) + "\n")
    found = catalogue_source.read_catalogue(str(audio), str(table), str(tmp_path / "playlists.csv"))
    late, morning = found.playlists
    assert late.tracks == ["한국 가요/track 0.wav"] and late.tags == ["Chill", "Night", "night", "Rain"]
    assert morning.tracks == [] and morning.tags == []
    counts = found.mess.counts
    assert counts["no_such_track"] == 2 and counts["duplicate_entry"] == 1 and counts["malformed_row"] == 2


def test_one_source_exactly(tmp_path):
    for melon_dir, audio_dir in ((None, None), (str(tmp_path), str(tmp_path))):
        with pytest.raises(prepare.PrepareUsageError, match="give one source"):
            prepare.prepare(prepare.PrepareConfig(melon_dir, str(tmp_path / "out"), audio_dir=audio_dir))


def test_the_window_is_melons_20_to_50_s_or_the_last_30_s():
    assert window(np.arange(60 * 16000))[0] == 20 * 16000 and len(window(np.arange(60 * 16000))) == 30 * 16000
    assert window(np.arange(40 * 16000))[0] == 10 * 16000
    assert len(window(np.arange(5 * 16000))) == 5 * 16000


def test_a_damaged_manifest_is_a_damaged_folder_error(prepared, tmp_path):
    config, _ = prepared
    copy = tmp_path / "copy"
    shutil.copytree(config.output_dir, copy, ignore=shutil.ignore_patterns("catalogue"))
    (copy / "manifest.json").write_text("{not json")
    with pytest.raises(DamagedFolderError, match="manifest.json is damaged"):
        PreparedFolder(str(copy)).manifest()


def test_fma_and_jamendo_metadata_become_track_tables(tmp_path):
    """Small files in the real formats: FMA's tracks.csv (two header rows, genres_all ids) + genres.csv, and
    MTG-Jamendo's autotagging TSV (tags tab-separated after the fifth column)."""
    (tmp_path / "genres.csv").write_text("genre_id,#tracks,parent,title,top_level\n12,100,0,Rock,12\n"
                                         "25,50,12,Punk,12\n21,80,0,Hip-Hop,21\n")
    (tmp_path / "tracks.csv").write_text(
        ",album,album,artist,track,track,track\n"
        ",title,id,name,genre_top,genres,genres_all\n"
        "track_id,,,,,,\n"
        '2,AWOL,1,AWOL,Hip-Hop,[21],[21]\n'
        '140,Punk Album,5,"Band, The",Rock,[25],"[12, 25]"\n'
        '141,x,6,y,,[],[]\n')
    fma = recipes.fma_track_table(str(tmp_path / "tracks.csv"), str(tmp_path / "genres.csv"),
                                  str(tmp_path / "fma.csv"))
    lines = (tmp_path / "fma.csv").read_text().splitlines()
    assert lines[0] == "path,genre,artist,album" and lines[1] == "000/000002.mp3,Hip-Hop,AWOL,AWOL"
    assert lines[2] == '000/000140.mp3,Rock|Punk,"Band, The",Punk Album' and fma == 3
    (tmp_path / "autotagging.tsv").write_text(
        "TRACK_ID\tARTIST_ID\tALBUM_ID\tPATH\tDURATION\tTAGS\n"
        "track_0000214\tartist_000014\talbum_000031\t14/214.mp3\t124.6\tgenre---punkrock\tmood/theme---energetic\n"
        "track_0000215\tartist_000014\talbum_000031\t15/215.mp3\t167.1\tgenre---metal\tgenre---rock\n")
    assert recipes.jamendo_track_table(str(tmp_path / "autotagging.tsv"), str(tmp_path / "j.csv"), "genre") == 2
    assert (tmp_path / "j.csv").read_text().splitlines() == [
        "path,genre,artist,album", "14/214.mp3,punkrock,artist_000014,album_000031",
        "15/215.mp3,metal|rock,artist_000014,album_000031"]


def test_train_export_and_search_by_a_catalogue_genre_name(prepared, catalogue, tmp_path):
    """Training and the index run in this process (their commands are tested on Melon); `cmir-search genre`
    is run as users run it, by the catalogue's genre name in another spelling."""
    from cmir_tf.joint import JointSpace
    from cmir_tf.search import build_index
    from cmir_tf.training.config import TrainConfig
    from cmir_tf.training.loop import train

    config, _ = prepared
    audio, _, _ = catalogue
    result = train(TrainConfig(variant="contr_g", data_dir=config.output_dir, model_dir=str(tmp_path / "model"),
                               batch_size=4, num_heads=2, epochs=1, steps_per_epoch=2, validation_steps=1,
                               precision="float32", shuffle_buffer=8))
    space = JointSpace(result["export_dir"])
    assert "indie rock" in space.vocabulary.codes
    paths = sorted(str(p) for p in audio.rglob("*") if p.suffix in (".wav", ".flac", ".ogg", ".mp3"))
    summary = build_index(space, paths, str(tmp_path / "index"), n_trees=2)
    assert summary.indexed == len(paths) - 1  # broken.wav
    found = subprocess.run([sys.executable, "-m", "cmir_tf", "search", "genre", "Indie  ROCK",
                            f"--index={tmp_path / 'index'}", "--top_k=3"], env=ENV, capture_output=True, text=True,
                           timeout=300)
    assert found.returncode == 0, found.stderr[-3000:]
    assert len(found.stdout.splitlines()) == 3
