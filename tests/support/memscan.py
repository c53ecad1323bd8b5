"""Searching a live process's whole memory for byte strings (/proc/PID/maps + /proc/PID/mem, as root).

Used to prove that a secret never reached a process: every readable mapping is read (heap, anonymous
memory, stacks, file mappings) in chunks that overlap by the longest needle, so nothing is missed at
a chunk border.
"""

from __future__ import annotations

import base64
from collections import Counter

CHUNK = 32 << 20
SKIPPED = ("[vvar]", "[vsyscall]", "[vvar_vclock]")  # kernel pages that cannot be read this way


def encodings_of(secret: str) -> dict[str, bytes]:
    """The forms a secret may take in memory: raw (1, 2 and 4 bytes per character), hex, base64.

    Base64 depends on where the secret starts in the encoded data, so all three alignments are
    included, trimmed to the characters that depend on the secret alone.
    """
    raw = secret.encode()
    forms = {
        "raw": raw,
        "utf-16": secret.encode("utf-16-le"),
        "utf-32": secret.encode("utf-32-le"),
        "hex": raw.hex().encode(),
        "HEX": raw.hex().upper().encode(),
    }
    for shift in range(3):
        encoded = base64.b64encode(b"\0" * shift + raw)[4:-4]
        forms[f"base64+{shift}"] = encoded
        url_safe = encoded.replace(b"+", b"-").replace(b"/", b"_")
        if url_safe != encoded:
            forms[f"base64url+{shift}"] = url_safe
    return forms


def readable_regions(pid: int) -> list[tuple[int, int, str]]:
    """Readable mappings that hold something: a mapping never touched (no resident or swapped page)
    reads as zeros and cannot hold a secret, so it is skipped; that keeps a scan to seconds."""
    regions, current = [], None
    with open(f"/proc/{pid}/smaps") as smaps:
        for line in smaps:
            fields = line.split()
            if "-" in fields[0] and len(fields) >= 5:  # a mapping's header line
                current = None
                name = fields[5] if len(fields) > 5 else ""
                if fields[1].startswith("r") and name not in SKIPPED:
                    start, end = (int(part, 16) for part in fields[0].split("-"))
                    current = [start, end, name, 0]
                    regions.append(current)
            elif current is not None and fields[0] in ("Rss:", "Swap:"):
                current[3] += int(fields[1])
    return [(start, end, name) for start, end, name, kib in regions if kib > 0]


def scan_process(pid: int, needles: dict[str, bytes]) -> tuple[Counter, int]:
    """Occurrences of each needle in the process's memory, and the number of bytes read."""
    hits: Counter = Counter()
    overlap = max(len(needle) for needle in needles.values()) - 1
    scanned = 0
    with open(f"/proc/{pid}/mem", "rb", buffering=0) as memory:
        for start, end, _name in readable_regions(pid):
            position, tail = start, b""
            while position < end:
                try:
                    memory.seek(position)
                    chunk = memory.read(min(CHUNK, end - position))
                except (OSError, ValueError, OverflowError):
                    break  # a mapping that went away or cannot be read (guard pages, device memory)
                if not chunk:
                    break
                scanned += len(chunk)
                window = tail + chunk
                for label, needle in needles.items():  # matches wholly inside the tail were counted already
                    hits[label] += window.count(needle) - tail.count(needle)
                tail = window[-overlap:] if overlap else b""
                position += len(chunk)
    return hits, scanned
