"""The harness's Markdown: the side-by-side table, the per-process table, the scaling table, and a
reader for Markdown tables (so a test can check what the harness prints).  No I/O here."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace

from bench.measure import DIRECT, TargetResult
from bench.processes import is_store

MIB = 1 << 20


Extract = Callable[[TargetResult, "TargetResult | None"], "list[float] | None"]


def _span(values: list[float], spec: str) -> str:
    """One figure over several rounds: ``low–high``, or one value when they print alike."""
    low, high = format(min(values), spec), format(max(values), spec)
    return low if low == high else f"{low}–{high}"


def _cell(per_round: list[list[float] | None], template: str, specs: tuple[str, ...]) -> str:
    rounds = [values for values in per_round if values is not None]
    if not rounds:
        return "-"
    return template.format(*(_span([values[i] for values in rounds], spec) for i, spec in enumerate(specs)))


@dataclass(frozen=True)
class Figure:
    """A row of the comparison: how to read it from a result (and its round's direct run), how to print it."""

    label: str
    extract: Extract
    template: str
    specs: tuple[str, ...]
    direct: Figure | None = None  # how the direct upstream's column reads, if not "-"
    fallback: Figure | None = None  # how it reads when ``extract`` finds nothing (no direct run to relate to)


def _row(result: TargetResult, count: int):
    return result.rows.get(count)


def _figures(count: int) -> list[Figure]:
    def rps(r, _d):
        return [x.wrk.rps] if (x := _row(r, count)) else None

    def share(r, d):
        x, floor = _row(r, count), _row(d, count) if d else None
        return [x.wrk.rps, x.wrk.rps / floor.wrk.rps] if x and floor else None

    def latency(r, _d):
        return [x.wrk.p50_ms, x.wrk.p99_ms] if (x := _row(r, count)) else None

    def cpu(r, _d):
        return [x.server_cpu_ms, x.store_cpu_ms] if (x := _row(r, count)) else None

    def errors(r, _d):
        return [x.wrk.non_2xx, x.wrk.socket_errors] if (x := _row(r, count)) else None

    def elsewhere(r, _d):
        return [x.busy_elsewhere] if (x := _row(r, count)) else None

    def split(r, _d):
        return [x.busiest_share] if (x := _row(r, count)) and x.busiest_share is not None else None

    def upstream(r, _d):
        return [x.upstream_calls_per_request, x.per_request_ms(x.upstream_cpu)] if (x := _row(r, count)) else None

    plain_rps = Figure("", rps, "{}", (",.0f",))
    both_latencies = Figure(f"c={count} p50 / p99 ms", latency, "{} / {}", (".2f", ".2f"))
    both_errors = Figure(f"c={count} errors: non-2xx / socket", errors, "{} / {}", (",.0f", ",.0f"))
    busy_elsewhere = Figure(f"c={count} cores busy elsewhere (other users, harness)", elsewhere, "{}", (".0%",))
    return [
        Figure(f"c={count} req/s", share, "{} ({} of direct)", (",.0f", ".1%"), plain_rps, fallback=plain_rps),
        replace(both_latencies, direct=both_latencies),
        Figure(
            f"c={count} CPU ms per request (+ Redis/etcd)",
            cpu,
            "{} (+{})",
            (".2f", ".2f"),
            direct=Figure("", cpu, "{}", (".2f",)),
        ),
        replace(both_errors, direct=both_errors),
        replace(busy_elsewhere, direct=busy_elsewhere),
        Figure(f"c={count} upstream calls / CPU ms per proxied request", upstream, "{} / {}", (".2f", ".2f")),
        Figure(f"c={count} wrk's connections on the busiest front process", split, "{}", (".0%",)),
    ]


def _fixed_figures() -> list[Figure]:
    def startup(r, _d):
        return [r.startup_seconds] if r.startup_seconds is not None else None

    def memory(r, _d):
        return [r.memory.server / MIB, r.memory.server_processes] if r.memory else None

    def stores(r, _d):
        return [r.memory.stores / MIB] if r.memory and r.memory.stores else None

    own_memory = Figure("peak RSS, own processes (count)", memory, "{} MiB ({})", (".0f", ".0f"))
    return [
        Figure("first proxied answer after start", startup, "{} s", (".2f",)),
        replace(own_memory, direct=own_memory),
        Figure("peak RSS, its Redis/etcd", stores, "{} MiB", (".0f",)),
    ]


def comparison_table(rounds: list[list[TargetResult]]) -> str:
    """Rows are figures, columns are the servers (in the order of the first round); with several
    rounds each cell is the range ``low–high`` over them."""
    names = [result.name for result in rounds[0]]
    by_name = {name: [next((r for r in round_ if r.name == name), None) for round_ in rounds] for name in names}
    directs = [next((r for r in round_ if r.name == DIRECT), None) for round_ in rounds]
    counts = sorted({count for round_ in rounds for result in round_ for count in result.rows})
    figures = [figure for count in counts for figure in _figures(count)] + _fixed_figures()
    lines = ["| | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for figure in figures:
        cells = []
        for name in names:
            shown = figure.direct if name == DIRECT else figure
            if shown is None:
                cells.append("-")
                continue
            cells.append(_figure_cell(shown, by_name[name], directs))
        lines.append(f"| {figure.label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _figure_cell(figure: Figure, results: list[TargetResult | None], directs: list[TargetResult | None]) -> str:
    per_round = [figure.extract(r, d) if r else None for r, d in zip(results, directs)]
    if figure.fallback is not None and None in per_round:
        return _figure_cell(figure.fallback, results, directs)
    return _cell(per_round, figure.template, figure.specs)


def _share(value: float, floor: float | None) -> str:
    return f"{value:,.0f} ({value / floor:.1%} of direct)" if floor else f"{value:,.0f}"


def _server_memory(result: TargetResult) -> str:
    if result.memory is None:
        return "-"
    return f"{result.memory.server / MIB:.0f} MiB ({result.memory.server_processes})"


def process_table(rounds: list[list[TargetResult]]) -> str:
    """Per process kind: how many, peak RSS, CPU ms per request at each concurrency (ranges over rounds)."""
    counts = sorted({count for round_ in rounds for result in round_ for count in result.rows})
    header = "| server | process kind | processes | peak RSS MiB | " + " | ".join(f"CPU ms/req c={c}" for c in counts)
    lines = [header + " |", "|---" * (4 + len(counts)) + "|"]
    for name in dict.fromkeys(result.name for result in rounds[0]):
        results = [r for round_ in rounds for r in round_ if r.name == name and r.memory is not None]
        kinds = sorted({kind for r in results for kind in r.memory.by_kind}, key=lambda k: (is_store(k), k))
        for kind in kinds:
            seen = [r for r in results if kind in r.memory.by_kind]
            cells = [
                f"{kind} (store)" if is_store(kind) else kind,
                _span([r.memory.counts.get(kind, 0) for r in seen], ".0f"),
                _span([r.memory.by_kind[kind] / MIB for r in seen], ".0f"),
            ]
            for count in counts:
                cpu = [x.per_request_ms(x.cpu_by_kind.get(kind, 0.0)) for r in seen if (x := r.rows.get(count))]
                cells.append(_span(cpu, ".3f") if cpu else "-")
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def scaling_table(direct: TargetResult, runs: list[tuple[int, int, TargetResult]]) -> str:
    """``runs``: (front-door workers, signers, result) of webui-host; the direct upstream's rows first."""
    lines = [
        "| front doors | signers | c | req/s | p50 / p99 ms | CPU ms/req (+ Redis/etcd) | errors | cores busy elsewhere "
        "| peak RSS (count) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for count, row in sorted(direct.rows.items()):
        lines.append(
            f"| direct upstream | - | {count} | {row.wrk.rps:,.0f} | {row.wrk.p50_ms:.2f} / {row.wrk.p99_ms:.2f} "
            f"| {row.server_cpu_ms:.2f} | {row.wrk.errors} | {row.busy_elsewhere:.0%} | {_server_memory(direct)} |"
        )
    for workers, signers, result in runs:
        for count, row in sorted(result.rows.items()):
            floor = direct.rows[count].wrk.rps if count in direct.rows else None
            lines.append(
                f"| {workers} | {signers} | {count} | {_share(row.wrk.rps, floor)} "
                f"| {row.wrk.p50_ms:.2f} / {row.wrk.p99_ms:.2f} "
                f"| {row.server_cpu_ms:.2f} (+{row.store_cpu_ms:.2f}) | {row.wrk.errors} | {row.busy_elsewhere:.0%} "
                f"| {_server_memory(result)} |"
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
