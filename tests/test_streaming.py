"""Long recordings at bounded memory: decoding, resampling and the log-mel run in blocks and give the same
chunks as the whole file computed at once; `embed_streams` keeps only a few chunk blocks per track in flight,
whatever the number and length of the tracks."""

import threading

import numpy as np
import pytest
import soundfile as sf
import soxr

from cmir_tf.audio import chunk_mel, decoders, log_mel_spectrogram, mel_numpy
from cmir_tf.audio.chunker import GROUP_SPAN, MelChunker, file_chunks
from cmir_tf.audio.decode import AudioStream, load_audio
from cmir_tf.export.chunk_batches import QUEUED_BLOCKS, embed_streams

TF_ROUNDING = {"rtol": 1e-5, "atol": 1e-4}  # cmir_tf.audio.mel_numpy against TensorFlow's log-mel, in dB
RATE = 48000
SECONDS = 40.0  # 2.4 log-mel groups of 16.4 s, 30 decoder blocks of 10,007 frames


@pytest.fixture(scope="module")
def long_flac(tmp_path_factory):
    """40 s of 48 kHz stereo 24-bit FLAC (tones and noise) and its samples."""
    rng = np.random.default_rng(0)
    t = np.arange(int(SECONDS * RATE)) / RATE
    left = 0.3 * np.sin(2 * np.pi * 220 * t * (1 + 0.1 * np.sin(t))) + 0.05 * rng.standard_normal(len(t))
    right = 0.3 * np.sin(2 * np.pi * 330 * t) + 0.05 * rng.standard_normal(len(t))
    path = tmp_path_factory.mktemp("long") / "long.flac"
    sf.write(path, np.stack([left, right], 1), RATE, subtype="PCM_24")
    return str(path)


def test_a_long_file_in_blocks_gives_the_chunks_of_the_whole_file(long_flac, monkeypatch):
    data, rate = sf.read(long_flac, dtype="float32", always_2d=True)  # the whole file at once, as before
    whole = soxr.resample(data.mean(axis=1, dtype=np.float32), rate, 16000, quality="HQ").astype(np.float32)
    expected = chunk_mel(log_mel_spectrogram(np.clip(whole, -1, 1))).numpy()
    monkeypatch.setattr(decoders, "BLOCK_FRAMES", 10007)  # odd blocks: every boundary lands mid-frame
    stream = AudioStream(long_flac)
    blocks = list(stream)
    assert max(len(b) for b in blocks) <= 2 * 10007 * 16000 // RATE and len(blocks) >= 30  # soxr releases unevenly
    np.testing.assert_array_equal(np.concatenate(blocks), np.clip(whole, -1, 1))
    generator, chunks = file_chunks(long_flac), []
    while True:
        try:
            chunks.append(next(generator))
        except StopIteration as end:
            assert end.value.n_samples == len(whole)
            break
    assert max(len(c) for c in chunks) <= 4
    np.testing.assert_allclose(np.concatenate(chunks), expected, **TF_ROUNDING)


@pytest.mark.parametrize("n_samples", [1, 65024, 65025, 262_399, 262_400, 262_401, 600_000])
def test_the_chunker_cuts_as_chunk_mel_whatever_the_blocks(n_samples):
    waveform = np.random.default_rng(n_samples).normal(0, 0.1, n_samples).astype(np.float32)
    expected = chunk_mel(log_mel_spectrogram(waveform)).numpy()  # the last chunk wrapped, a short one tiled
    results = []
    for block in (n_samples, 4099):
        chunker, chunks = MelChunker(), []
        for start in range(0, n_samples, block):
            chunks += list(chunker.push(waveform[start : start + block]))
            assert len(chunker._samples) - chunker._offset < GROUP_SPAN  # never more than one group held
        chunks += list(chunker.finish())
        results.append(np.concatenate(chunks))
        np.testing.assert_allclose(results[-1], expected, **TF_ROUNDING)
    np.testing.assert_array_equal(results[0], results[1])  # bit for bit, however the waveform is cut


@pytest.mark.parametrize("level", [0.5, 1e-5])  # a loud tone over noise; near-silence
def test_the_numpy_log_mel_is_tensorflows_to_float32_rounding(level):
    rng = np.random.default_rng(1)
    t = np.arange(80_000) / 16000
    waveform = (level * (np.sin(2 * np.pi * 440 * t) + 0.01 * rng.standard_normal(len(t)))).astype(np.float32)
    waveform[30_000:31_000] = 0  # digital silence: the -200 dB floor
    expected = log_mel_spectrogram(waveform).numpy()
    padded = np.pad(waveform, (256, (len(expected) - 1) * 256 + 256 - len(waveform)))
    got = mel_numpy.frames_log_mel(mel_numpy.frame_samples(padded))
    assert got.dtype == np.float32 and got.shape == expected.shape and expected.min() == -200.0
    np.testing.assert_allclose(got, expected, **TF_ROUNDING)


def test_centred_segment_streams_the_same_samples_as_slicing_the_whole(long_flac):
    whole = load_audio(long_flac)
    stream = AudioStream(long_flac, "center29.1")
    centre = np.concatenate(list(stream))
    assert stream.start == (len(whole) - 465_600) // 2 and len(centre) == 465_600
    np.testing.assert_array_equal(centre, whole[stream.start : stream.start + 465_600])


def test_tracks_in_flight_are_bounded_by_chunk_blocks_not_by_files():
    produced, lock = {}, threading.Lock()

    def source(key):  # a long track: 200 blocks of 4 chunks
        for _ in range(200):
            with lock:
                produced[key] = produced.get(key, 0) + 1
            yield np.zeros((4, 256, 48), np.float32)
        return key

    ahead = []

    def embed_chunks(chunks):
        with lock:
            ahead.append(sum(produced.values()) * 4 - embedded[0])  # chunks made but not yet embedded
        embedded[0] += len(chunks)
        return np.zeros((len(chunks), 2), np.float32)

    embedded = [0]
    keys = [f"t{i}" for i in range(6)]
    results = list(embed_streams(embed_chunks, keys, source, batch_size=16, workers=2))
    assert [key for key, _, info in results] == keys and all(info == key for key, _, info in results)
    assert all(rows.shape == (800, 2) for _, rows, _ in results)
    # Each of the (at most 3) tracks started holds at most QUEUED_BLOCKS blocks and one being made; plus a batch.
    assert max(ahead) <= 3 * (QUEUED_BLOCKS + 2) * 4 + 16
