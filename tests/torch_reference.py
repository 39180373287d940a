"""The authors' PyTorch `AudioEncoder` (needs the `[torch]` extra): the reference that the weight importer is
tested against (`tests/test_torch_import.py`) and that `benchmarks/bench_training.py` times. A test helper, not
part of the installed package; the benchmark imports it by path.

Input (B, 1, 48 mel, 256 time), NCHW; outputs the flattened conv output (B, 1024) and the 128-d embedding.
"""

from __future__ import annotations

from torch import nn


class ConvBlock(nn.Module):
    """The authors' `Conv_2d`: 3x3 conv (padding 1) -> BatchNorm2d -> ReLU -> MaxPool2d, on NCHW (mel, time)."""

    def __init__(self, in_channels: int, out_channels: int, pooling):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.bn = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU()
        self.mp = nn.MaxPool2d(pooling)

    def forward(self, x):
        return self.mp(self.relu(self.bn(self.conv(x))))


class ReferenceAudioEncoder(nn.Module):
    """The authors' `AudioEncoder`: (B, 1, 48 mel, 256 time) -> (flattened conv output (B, 1024), (B, 128))."""

    def __init__(self):
        super().__init__()
        channels = (1, 128, 128, 256, 256, 256, 256, 512)
        pools = (2, 2, 2, 2, (1, 2), (1, 2), 2)
        blocks = [ConvBlock(channels[i], channels[i + 1], pools[i]) for i in range(7)]
        self.audio_encoder = nn.Sequential(nn.BatchNorm2d(1), *blocks, nn.Flatten())
        self.fc_audio = nn.Sequential(
            nn.Linear(1024, 512),
            nn.BatchNorm1d(512),
            nn.ReLU(),
            nn.Dropout(0.5),
            nn.Linear(512, 128),
            nn.LayerNorm(128, eps=1e-6),
        )

    def forward(self, x):
        z = self.audio_encoder(x)
        return z, self.fc_audio(z)
