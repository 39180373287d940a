"""Audio front end: decoding (libsndfile, FFmpeg; whole or in blocks), the Melon/Essentia log-mel in TensorFlow,
segments and chunks."""

from cmir_tf.audio.decode import AUDIO_EXTENSIONS, AudioDecodeError, AudioStream, load_audio
from cmir_tf.audio.input_contract import MAX_PEAK, PEAK_REFUSAL, AudioInputError, check_finite, check_levels
from cmir_tf.audio.mel import (FLOOR_DB, FRONT_END_PARAMS, FRONT_END_VERSION, log_mel_spectrogram, mel_filterbank,
                               num_frames)
from cmir_tf.audio.recipe import FrontEndMismatchError, check_front_end
from cmir_tf.audio.segments import CHUNK_PADDING, SEGMENT_MODES, chunk_centers_ms, chunk_mel, select_segment

__all__ = [
    "AUDIO_EXTENSIONS",
    "AudioDecodeError",
    "AudioInputError",
    "AudioStream",
    "CHUNK_PADDING",
    "FLOOR_DB",
    "FRONT_END_PARAMS",
    "FRONT_END_VERSION",
    "FrontEndMismatchError",
    "MAX_PEAK",
    "PEAK_REFUSAL",
    "SEGMENT_MODES",
    "check_finite",
    "check_levels",
    "check_front_end",
    "chunk_centers_ms",
    "chunk_mel",
    "load_audio",
    "log_mel_spectrogram",
    "mel_filterbank",
    "num_frames",
    "select_segment",
]
