"""The harness's tables, read back the way the smoke test and a reader of the README read them."""

import pytest

from bench.compare import parse_args, scaling_pairs
from bench.measure import DIRECT, Row, TargetResult
from bench.processes import MemoryPeaks
from bench.report import comparison_table, leading_number, parse_markdown_tables, process_table, scaling_table
from bench.wrk import WrkResult

MIB = 1 << 20


def wrk(requests: int, rps: float, p50: float, p99: float, non_2xx: int = 0) -> WrkResult:
    return WrkResult(requests, rps, p50, p99, non_2xx, 0)


def direct() -> TargetResult:
    result = TargetResult(DIRECT, memory=MemoryPeaks(server=40 * MIB, by_kind={"upstream": 40 * MIB}))
    result.memory.counts = {"upstream": 1}
    result.rows[16] = Row(16, wrk(100_000, 10_000, 1.5, 3.0), {"upstream": 9.0}, 9.0, 100_000)
    return result


def proxied() -> TargetResult:
    memory = MemoryPeaks(server=300 * MIB, stores=40 * MIB)
    memory.by_kind = {"frontdoor": 200 * MIB, "signer": 100 * MIB, "redis-server": 40 * MIB}
    memory.counts = {"frontdoor": 2, "signer": 2, "redis-server": 1}
    result = TargetResult("webui-host", startup_seconds=4.25, memory=memory)
    cpu = {"frontdoor": 10.0, "signer": 5.0, "redis-server": 1.0}
    result.rows[16] = Row(16, wrk(10_000, 1_000, 15.0, 50.0, non_2xx=3), cpu, 1.5, 20_000, busy_elsewhere=0.25)
    return result


def table_of(text: str, index: int = 0) -> dict[str, dict[str, str]]:
    rows = parse_markdown_tables(text)[index]
    return {row[""]: row for row in rows}


def test_the_comparison_puts_each_server_in_a_column_and_relates_throughput_to_direct():
    table = table_of(comparison_table([[direct(), proxied()]]))
    assert table["c=16 req/s"][DIRECT] == "10,000"
    assert table["c=16 req/s"]["webui-host"] == "1,000 (10.0% of direct)"
    assert table["c=16 p50 / p99 ms"]["webui-host"] == "15.00 / 50.00"


def test_cpu_per_request_keeps_the_stores_apart():
    table = table_of(comparison_table([[direct(), proxied()]]))
    assert table["c=16 CPU ms per request (+ Redis/etcd)"]["webui-host"] == "1.50 (+0.10)"
    assert table["c=16 CPU ms per request (+ Redis/etcd)"][DIRECT] == "0.09"


def test_errors_upstream_calls_start_and_memory_rows():
    table = table_of(comparison_table([[direct(), proxied()]]))
    assert table["c=16 errors: non-2xx / socket"]["webui-host"] == "3 / 0"
    assert table["c=16 errors: non-2xx / socket"][DIRECT] == "0 / 0"
    assert table["c=16 upstream calls / CPU ms per proxied request"]["webui-host"] == "2.00 / 0.15"
    assert table["c=16 upstream calls / CPU ms per proxied request"][DIRECT] == "-"
    assert table["c=16 cores busy elsewhere (other users, harness)"]["webui-host"] == "25%"
    assert table["c=16 cores busy elsewhere (other users, harness)"][DIRECT] == "0%"
    assert table["first proxied answer after start"]["webui-host"] == "4.25 s"
    assert table["first proxied answer after start"][DIRECT] == "-"
    assert table["peak RSS, own processes (count)"]["webui-host"] == "300 MiB (4)"
    assert table["peak RSS, its Redis/etcd"]["webui-host"] == "40 MiB"
    assert table["peak RSS, its Redis/etcd"][DIRECT] == "-"


def test_a_server_without_a_row_at_some_concurrency_shows_a_dash():
    other = proxied()
    other.rows[64] = Row(64, wrk(5_000, 500, 100.0, 200.0), {"frontdoor": 1.0}, 0.1, 5_000)
    table = table_of(comparison_table([[direct(), other]]))
    assert table["c=64 req/s"][DIRECT] == "-"
    assert table["c=64 req/s"]["webui-host"] == "500"


def test_several_rounds_print_as_ranges_each_relative_to_its_own_rounds_direct_run():
    slower_direct, slower = direct(), proxied()
    slower_direct.rows[16] = Row(16, wrk(50_000, 5_000, 2.5, 9.0), {"upstream": 5.0}, 5.0, 50_000)
    slower.rows[16] = Row(16, wrk(9_000, 900, 15.0, 70.0), {"frontdoor": 9.0}, 1.0, 9_000)
    slower.startup_seconds = 5.0
    table = table_of(comparison_table([[direct(), proxied()], [slower_direct, slower]]))
    assert table["c=16 req/s"][DIRECT] == "5,000–10,000"
    assert table["c=16 req/s"]["webui-host"] == "900–1,000 (10.0%–18.0% of direct)"
    assert table["c=16 p50 / p99 ms"]["webui-host"] == "15.00 / 50.00–70.00"
    assert table["first proxied answer after start"]["webui-host"] == "4.25–5.00 s"
    rows = parse_markdown_tables(process_table([[direct(), proxied()], [slower_direct, slower]]))[0]
    frontdoor = next(row for row in rows if row["process kind"] == "frontdoor")
    assert frontdoor["CPU ms/req c=16"] == "1.000"


def test_the_process_table_lists_each_kind_with_stores_last():
    rows = parse_markdown_tables(process_table([[direct(), proxied()]]))[0]
    kinds = [(row["server"], row["process kind"]) for row in rows]
    assert kinds == [
        (DIRECT, "upstream"),
        ("webui-host", "frontdoor"),
        ("webui-host", "signer"),
        ("webui-host", "redis-server (store)"),
    ]
    frontdoor = rows[1]
    assert (frontdoor["processes"], frontdoor["peak RSS MiB"], frontdoor["CPU ms/req c=16"]) == ("2", "200", "1.000")


def test_the_scaling_table_has_the_direct_rows_then_a_line_per_setting_and_concurrency():
    rows = parse_markdown_tables(scaling_table(direct(), [(1, 2, proxied()), (4, 2, proxied())]))[0]
    settings = [(row["front doors"], row["signers"], row["c"]) for row in rows]
    assert settings == [("direct upstream", "-", "16"), ("1", "2", "16"), ("4", "2", "16")]
    assert rows[0]["req/s"] == "10,000"
    assert rows[1]["req/s"] == "1,000 (10.0% of direct)"
    assert rows[1]["cores busy elsewhere"] == "25%"


def test_settings_of_one_server_stay_apart_in_the_process_table():
    one, other = proxied(), proxied()
    other.name = "webui-host 4x2"
    other.memory.by_kind = {**other.memory.by_kind, "frontdoor": 400 * MIB}
    rows = parse_markdown_tables(process_table([[one, other]]))[0]
    frontdoors = [(row["server"], row["peak RSS MiB"]) for row in rows if row["process kind"] == "frontdoor"]
    assert frontdoors == [("webui-host", "200"), ("webui-host 4x2", "400")]


def test_several_tables_and_prose_between_them_are_told_apart():
    text = "# title\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\nprose\n| c |\n|:-:|\n| 3 |\n| 4 |\n"
    assert parse_markdown_tables(text) == [[{"a": "1", "b": "2"}], [{"c": "3"}, {"c": "4"}]]


@pytest.mark.parametrize("cell, number", [("1,234 (5.8% of direct)", 1234.0), ("0.25 / 3.10", 0.25), ("7", 7.0)])
def test_leading_number(cell, number):
    assert leading_number(cell) == number


def test_a_cell_without_a_number_is_refused():
    with pytest.raises(ValueError):
        leading_number("-")


def test_scaling_varies_one_setting_at_a_time_unless_asked_for_the_grid():
    assert scaling_pairs([1, 2, 4], [1, 2, 4], grid=False) == [(1, 2), (2, 2), (4, 2), (2, 1), (2, 4)]
    assert len(scaling_pairs([1, 2, 4], [1, 2, 4], grid=True)) == 9


def test_default_concurrencies_per_mode_and_unknown_servers_are_refused():
    assert parse_args(["compare"]).connections == [1, 16, 64]
    assert parse_args(["scaling"]).connections == [16, 64]
    assert parse_args(["compare", "--repeat", "3"]).repeat == 3
    assert parse_args(["compare", "--connections", "2,8"]).connections == [2, 8]
    with pytest.raises(SystemExit):
        parse_args(["compare", "--servers", "direct,nginx"])
    with pytest.raises(SystemExit):
        parse_args(["scaling", "--repeat", "2"])


def test_the_busiest_front_process_share_shows_where_several_serve_and_a_dash_elsewhere():
    split, single = proxied(), proxied()
    split.rows[16].busiest_share = 0.75
    single.name = "one front door"
    table = table_of(comparison_table([[direct(), split, single]]))
    row = table["c=16 wrk's connections on the busiest front process"]
    assert (row[DIRECT], row["webui-host"], row["one front door"]) == ("-", "75%", "-")
