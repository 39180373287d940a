"""Experiments that combine training and evaluation: `ablation` (the paper's six variants, Tables 1-3)."""
