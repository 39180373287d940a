"""Vectorised numpy rendering of music-like audio from a `Recipe` (used by `cmir_tf.synthetic`).

A recipe's fields fall into three acoustic factors, which the corpus ties to different latent variables:
- timbre (partials and their spectral envelope, odd-harmonic gain, note decay, noise colour):
  what a genre changes (`random_recipe`, `vary`);
- rhythm and dynamics (note density, percussive pulses, noise level, loudness): what the latent `energy`
  in [-1, 1] changes (`with_energy`), the audible part of a listener's mood;
- register and base tempo (lowest note, pitch range, notes per second before energy): drawn per song by
  `perform`, carrying no label at all.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy.signal import lfilter


@dataclasses.dataclass(frozen=True)
class Recipe:
    f0_low: float  # Hz, lowest note
    octaves: float  # pitch range above f0_low
    partials: int  # harmonics per note (fewer if they would pass 0.45 x sample rate)
    rolloff: float  # harmonic k has amplitude k ** -rolloff
    odd_gain: float  # extra gain of odd harmonics (clarinet-like when > 1)
    notes_per_second: float
    decay: float  # 1/s, exponential note decay
    noise_level: float  # noise rms relative to the tone
    noise_pole: float  # one-pole filter of the noise: > 0 darker (red), < 0 brighter (blue)
    pulses_per_second: float  # noise bursts (drum-like)


def random_recipe(rng: np.random.Generator) -> Recipe:
    """A timbre drawn from wide ranges (two draws usually sound clearly different), with a `perform` draw."""
    timbre = Recipe(
        f0_low=110.0,
        octaves=1.0,
        partials=int(rng.integers(1, 13)),
        rolloff=float(rng.uniform(0.3, 2.5)),
        odd_gain=float(rng.choice([1.0, 1.0, 3.0])),
        notes_per_second=2.0,
        decay=float(2 ** rng.uniform(-1, 4)),
        noise_level=0.1,
        noise_pole=float(rng.uniform(-0.8, 0.98)),
        pulses_per_second=0.0,
    )
    return perform(timbre, rng)


SONG_JITTER = 0.5  # `vary` amount between one song and its genre (Melon, GTZAN, MTG-Jamendo alike)


def vary(recipe: Recipe, rng: np.random.Generator, amount: float = 0.3) -> Recipe:
    """The same recipe with its timbre moved by about `amount` (relative; noise colour and partial count in
    proportion), e.g. a sub-genre of a genre, or one song of a genre. Other fields are left unchanged."""

    def scale(x: float) -> float:
        return float(x * 2 ** rng.uniform(-amount, amount))

    return dataclasses.replace(
        recipe,
        rolloff=scale(recipe.rolloff),
        decay=scale(recipe.decay),
        noise_pole=float(np.clip(recipe.noise_pole + rng.uniform(-amount, amount), -0.9, 0.99)),
        partials=int(np.clip(recipe.partials + rng.integers(-round(6 * amount), round(6 * amount) + 1), 1, 12)),
    )


def perform(recipe: Recipe, rng: np.random.Generator) -> Recipe:
    """The recipe's timbre with a register, pitch range and base tempo drawn for one song (label-free)."""
    return dataclasses.replace(
        recipe,
        f0_low=float(55 * 2 ** rng.uniform(0, 3.5)),
        octaves=float(rng.uniform(0.5, 2.0)),
        notes_per_second=float(2 ** rng.uniform(0.5, 2.8)),
        noise_level=float(10 ** rng.uniform(-1.7, -0.7)),
        pulses_per_second=float(rng.choice([0.0, 2 ** rng.uniform(0.5, 2.0)])),
    )


def with_energy(recipe: Recipe, energy: float) -> Recipe:
    """Energy in [-1, 1]: faster, noisier, more percussive and (in `render`) louder as it grows; timbre stays."""
    return dataclasses.replace(
        recipe,
        notes_per_second=recipe.notes_per_second * 2 ** (0.8 * energy),
        noise_level=recipe.noise_level * 2 ** energy,
        pulses_per_second=recipe.pulses_per_second * 2 ** (0.5 * energy) + max(0.0, energy) * 2,
    )


TABLE_SIZE = 4096  # samples of the one-period wavetable


def wavetable(recipe: Recipe, max_partials: int) -> np.ndarray:
    """One period (TABLE_SIZE,) float32 of the recipe's harmonic timbre, at most `max_partials` harmonics."""
    k = np.arange(1, max(1, min(recipe.partials, max_partials)) + 1)
    gains = k**-recipe.rolloff * np.where(k % 2 == 1, recipe.odd_gain, 1.0)
    gains[0] = 1.0
    angle = 2 * np.pi * np.arange(TABLE_SIZE) / TABLE_SIZE
    return (np.sin(np.outer(angle, k)) @ gains).astype(np.float32)


def render(
    recipe: Recipe, n_samples: int, sample_rate: int, rng: np.random.Generator, energy: float = 0.0
) -> np.ndarray:
    """Renders `n_samples` mono float32 samples in [-1, 1] at `sample_rate` Hz.

    Notes of equal length (1 / notes_per_second) on random semitones of the recipe's range, each a decaying
    wavetable tone; plus coloured noise and decaying noise bursts at `pulses_per_second`.
    """
    r = with_energy(recipe, energy)
    note_len = max(1, int(sample_rate / r.notes_per_second))
    n_notes = -(-n_samples // note_len)
    semitones = rng.integers(0, max(1, round(12 * r.octaves)) + 1, n_notes)
    f0 = (r.f0_low * 2.0 ** (semitones / 12.0)).astype(np.float32)
    table = wavetable(r, int(0.45 * sample_rate / f0.max()))
    # (notes, samples within a note): table index advances f0 * TABLE_SIZE / sample_rate per sample.
    steps = np.arange(note_len, dtype=np.float32) * np.float32(TABLE_SIZE / sample_rate)
    index = np.multiply.outer(f0, steps).astype(np.int32) & (TABLE_SIZE - 1)
    time_in_note = np.arange(note_len, dtype=np.float32) / sample_rate
    envelope = np.exp(-r.decay * time_in_note) * np.minimum(1.0, time_in_note / 0.005)
    tone = (table[index] * envelope).reshape(-1)[:n_samples]
    tone /= np.sqrt(np.mean(tone**2)) + 1e-9

    white = rng.standard_normal(n_samples, dtype=np.float32)
    noise = lfilter([1.0 - abs(r.noise_pole)], [1.0, -r.noise_pole], white).astype(np.float32)
    signal = tone + noise * np.float32(r.noise_level / (np.sqrt(np.mean(noise**2)) + 1e-9))
    if r.pulses_per_second > 0:
        pulse_len = max(1, int(sample_rate / r.pulses_per_second))
        burst = np.exp(-np.arange(pulse_len, dtype=np.float32) / (0.03 * sample_rate))
        signal += 1.5 * white * np.tile(burst, -(-n_samples // pulse_len))[:n_samples]
    loudness = 10 ** ((6 * energy - 8) / 20)
    return (signal * np.float32(loudness / (np.abs(signal).max() + 1e-9))).astype(np.float32)
