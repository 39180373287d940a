"""Counting what a catalogue's inputs hold that cannot be used: every skipped item by reason, the first few named."""

from __future__ import annotations

from collections import Counter

EXAMPLES = 20  # items named per reason in report.json
IN_LINE = 3  # items named per reason in the stage line


class Mess:
    """Skipped items by reason: `counts[reason]` and the first `EXAMPLES` of each, as text."""

    def __init__(self) -> None:
        self.counts: Counter = Counter()
        self.examples: dict[str, list[str]] = {}

    def add(self, reason: str, item: str) -> None:
        self.counts[reason] += 1
        named = self.examples.setdefault(reason, [])
        if len(named) < EXAMPLES:
            named.append(item)

    def as_dict(self) -> dict:
        """{"counts": {reason: n}, "examples": {reason: [items]}} for report.json."""
        return {"counts": dict(sorted(self.counts.items())), "examples": dict(sorted(self.examples.items()))}

    def text(self) -> str:
        """"undecodable_audio 2 (a.mp3, b.wav), url_entry 1 (...)" for the stage line; "none" when empty."""
        parts = []
        for reason, n in sorted(self.counts.items()):
            named = self.examples[reason][:IN_LINE]
            parts.append(f"{reason} {n} ({', '.join(named)}{', ...' if n > len(named) else ''})")
        return ", ".join(parts) or "none"
