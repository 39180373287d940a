"""Every format a music library holds decodes (libsndfile first, FFmpeg through PyAV for the rest), the
decoder that read a file is recorded, and the same PCM gives the same embedding: WAV, FLAC and ALAC copies
bit-identically, lossy copies within a stated cosine. The files are made at test time (`audio_files`)."""

import logging

import numpy as np
import pytest
import soundfile as sf

import audio_files
from cmir_tf.audio import AudioDecodeError, load_audio
from cmir_tf.audio.chunker import file_chunks
from cmir_tf.audio.decoders import open_source
from cmir_tf.audio.input_contract import LOSSY_PEAK, warn_if_loud
from cmir_tf.export.exported import ExportedModel

RATE = 44100
SECONDS = 5.0
LOSSY_COSINE = 0.98  # lowest per-chunk cosine of a lossy copy's features to the WAV's (measured: WMA 0.9936, AAC 0.9975)


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    """A folder with the same 5 s of generated stereo music as WAV, FLAC and every `audio_files.FORMATS`."""
    root = tmp_path_factory.mktemp("library")
    pcm = audio_files.music(SECONDS, RATE)
    sf.write(root / "song.wav", pcm, RATE, subtype="PCM_16")
    sf.write(root / "song.flac", pcm, RATE, subtype="PCM_16")
    for kind in audio_files.FORMATS:
        rate = 48000 if kind == "webm" else RATE  # Opus runs at 48 kHz
        audio_files.write(str(root / f"song.{kind}"), audio_files.music(SECONDS, rate) if rate != RATE else pcm,
                          rate, kind)
    return root


def chunks_and_stream(path):
    """(the file's (n, 256, 48) log-mel chunks, its finished `AudioStream`)."""
    generator, blocks = file_chunks(str(path)), []
    while True:
        try:
            blocks.append(next(generator))
        except StopIteration as end:
            return np.concatenate(blocks), end.value


@pytest.mark.parametrize("kind, decoder", [("alac.m4a", "ffmpeg:alac"), ("m4a", "ffmpeg:aac"), ("mp4", "ffmpeg:aac"),
                                           ("wma", "ffmpeg:wmav2"), ("webm", "ffmpeg:opus"), ("mka", "ffmpeg:vorbis"),
                                           ("ac3", "ffmpeg:ac3"), ("flac", "libsndfile:FLAC/PCM_16")])
def test_every_format_decodes_and_names_its_decoder(library, kind, decoder):
    chunks, stream = chunks_and_stream(library / f"song.{kind}")
    assert stream.decoder == decoder and chunks.shape == (2, 256, 48)
    assert abs(stream.n_samples - SECONDS * 16000) < 0.05 * 16000  # codec priming and padding aside


def test_lossless_copies_embed_bit_identically_and_lossy_ones_closely(library, audio_export):
    embed = ExportedModel(audio_export).chunk_embedder("features")
    reference, _ = chunks_and_stream(library / "song.wav")
    vectors = embed(reference)
    for kind in ("flac", "alac.m4a"):
        chunks, _ = chunks_and_stream(library / f"song.{kind}")
        np.testing.assert_array_equal(chunks, reference)
        np.testing.assert_array_equal(embed(chunks), vectors)
    for kind in ("m4a", "mka", "ac3", "wma"):
        lossy = embed(chunks_and_stream(library / f"song.{kind}")[0])
        cosine = (lossy * vectors).sum(1) / np.linalg.norm(lossy, axis=1) / np.linalg.norm(vectors, axis=1)
        assert cosine.min() > LOSSY_COSINE, kind


def test_a_file_libsndfile_refuses_goes_to_ffmpeg_and_what_neither_reads_is_named(library, tmp_path):
    mislabelled = tmp_path / "really_aac.wav"
    mislabelled.write_bytes((library / "song.m4a").read_bytes())
    source = open_source(str(mislabelled))
    assert source.decoder == "ffmpeg:aac" and source.lossy and not source.integer
    assert open_source(str(library / "song.alac.m4a")).integer
    text = tmp_path / "notes.m4a"
    text.write_text("not audio at all " * 100)
    with pytest.raises(AudioDecodeError, match="notes.m4a: cannot decode"):
        load_audio(str(text))


def test_peak_warnings_give_four_digits_and_spare_a_lossy_decoders_small_overshoot(caplog):
    with caplog.at_level(logging.WARNING):
        warn_if_loud(1.003, "a.wav")
        warn_if_loud(1.05, "b.m4a", LOSSY_PEAK)  # +0.4 dB from an AAC decoder: normal, not warned
        warn_if_loud(1.2, "c.m4a", LOSSY_PEAK)
    messages = [r.getMessage() for r in caplog.records]
    assert messages == ["a.wav: peak 1.003 is above full scale (1): passed through as it is, not clipped",
                        "c.m4a: peak 1.2 is above full scale (1): passed through as it is, not clipped"]
