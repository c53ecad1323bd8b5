"""The harness's Markdown: the side-by-side table, the per-process table, the scaling table, and a
reader for Markdown tables (so a test can check what the harness prints).  No I/O here."""

from __future__ import annotations

import re

from bench.measure import DIRECT, TargetResult
from bench.processes import is_store

MIB = 1 << 20


def _rps(value: float) -> str:
    return f"{value:,.0f}"


def _share(value: float, floor: float | None) -> str:
    return f"{_rps(value)} ({value / floor:.1%} of direct)" if floor else _rps(value)


def comparison_table(results: list[TargetResult]) -> str:
    """Rows are figures, columns are the servers (the direct upstream first when it was measured)."""
    direct = next((r for r in results if r.name == DIRECT), None)
    counts = sorted({count for result in results for count in result.rows})
    lines = ["| | " + " | ".join(r.name for r in results) + " |", "|---" * (len(results) + 1) + "|"]

    def row(label: str, cell) -> None:
        lines.append(f"| {label} | " + " | ".join(cell(r) for r in results) + " |")

    for count in counts:
        floor = direct.rows[count].wrk.rps if direct and count in direct.rows else None

        def rps(r: TargetResult, count=count, floor=floor) -> str:
            if count not in r.rows:
                return "-"
            return _rps(r.rows[count].wrk.rps) if r is direct else _share(r.rows[count].wrk.rps, floor)

        def latency(r: TargetResult, count=count) -> str:
            w = r.rows[count].wrk if count in r.rows else None
            return f"{w.p50_ms:.2f} / {w.p99_ms:.2f}" if w else "-"

        def cpu(r: TargetResult, count=count) -> str:
            if count not in r.rows:
                return "-"
            x = r.rows[count]
            return f"{x.server_cpu_ms:.2f}" if r is direct else f"{x.server_cpu_ms:.2f} (+{x.store_cpu_ms:.2f})"

        row(f"c={count} req/s", rps)
        row(f"c={count} p50 / p99 ms", latency)
        row(f"c={count} CPU ms per request (+ Redis/etcd)", cpu)
    row("errors (non-2xx + socket), all rows", lambda r: str(r.errors))
    row("upstream calls per proxied request", lambda r: "-" if r is direct else _calls(r))
    row("upstream CPU ms per proxied request", lambda r: "-" if r is direct else _upstream_cpu(r))
    row(
        "first proxied answer after start", lambda r: "-" if r.startup_seconds is None else f"{r.startup_seconds:.2f} s"
    )
    row("peak RSS, own processes (count)", _server_memory)
    row(
        "peak RSS, its Redis/etcd",
        lambda r: f"{r.memory.stores / MIB:.0f} MiB" if r.memory and r.memory.stores else "-",
    )
    return "\n".join(lines)


def _calls(result: TargetResult) -> str:
    return " / ".join(f"{row.upstream_calls_per_request:.2f}" for row in result.rows.values())


def _upstream_cpu(result: TargetResult) -> str:
    return " / ".join(f"{row.per_request_ms(row.upstream_cpu):.2f}" for row in result.rows.values())


def _server_memory(result: TargetResult) -> str:
    if result.memory is None:
        return "-"
    return f"{result.memory.server / MIB:.0f} MiB ({result.memory.server_processes})"


def process_table(results: list[TargetResult]) -> str:
    """Per process kind: how many, peak RSS, CPU ms per request at each concurrency."""
    counts = sorted({count for result in results for count in result.rows})
    header = "| server | process kind | processes | peak RSS MiB | " + " | ".join(f"CPU ms/req c={c}" for c in counts)
    lines = [header + " |", "|---" * (4 + len(counts)) + "|"]
    for result in results:
        if result.memory is None:
            continue
        for kind in sorted(result.memory.by_kind, key=lambda k: (is_store(k), k)):
            cpu = [
                f"{result.rows[c].per_request_ms(result.rows[c].cpu_by_kind.get(kind, 0.0)):.3f}"
                if c in result.rows
                else "-"
                for c in counts
            ]
            label = f"{kind} (store)" if is_store(kind) else kind
            peak = result.memory.by_kind[kind] / MIB
            lines.append(
                f"| {result.name} | {label} | {result.memory.counts.get(kind, 0)} | {peak:.0f} | "
                + " | ".join(cpu)
                + " |"
            )
    return "\n".join(lines)


def scaling_table(direct: TargetResult, runs: list[tuple[int, int, TargetResult]]) -> str:
    """``runs``: (front-door workers, signers, result) of webui-host."""
    lines = [
        "| front doors | signers | c | req/s | p50 / p99 ms | CPU ms/req (+ Redis/etcd) | errors | peak RSS MiB (count) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for workers, signers, result in runs:
        for count, row in sorted(result.rows.items()):
            floor = direct.rows[count].wrk.rps if count in direct.rows else None
            lines.append(
                f"| {workers} | {signers} | {count} | {_share(row.wrk.rps, floor)} "
                f"| {row.wrk.p50_ms:.2f} / {row.wrk.p99_ms:.2f} "
                f"| {row.server_cpu_ms:.2f} (+{row.store_cpu_ms:.2f}) | {row.wrk.errors} | {_server_memory(result)} |"
            )
    return "\n".join(lines)


def parse_markdown_tables(text: str) -> list[list[dict[str, str]]]:
    """Every Markdown table in ``text``, each as a list of {header: cell} rows (the delimiter row dropped)."""
    tables: list[list[dict[str, str]]] = []
    header: list[str] | None = None
    for line in text.splitlines() + [""]:
        line = line.strip()
        if not (line.startswith("|") and line.endswith("|")):
            header = None
            continue
        cells = [cell.strip() for cell in line[1:-1].split("|")]
        if header is None:
            header = cells
            tables.append([])
        elif all(re.fullmatch(r":?-+:?", cell) for cell in cells):
            continue
        else:
            tables[-1].append(dict(zip(header, cells)))
    return tables


def leading_number(cell: str) -> float:
    """The first number of a cell (``"1,234 (5.8% of direct)"`` -> 1234.0); ValueError if none."""
    match = re.match(r"\s*([\d,]*\.?\d+)", cell)
    if match is None:
        raise ValueError(f"no number in {cell!r}")
    return float(match.group(1).replace(",", ""))
