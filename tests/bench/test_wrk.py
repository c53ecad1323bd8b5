"""Reading wrk's output: the figures the harness reports come from here."""

import pytest

from bench.wrk import duration_ms, parse_wrk_output, wrk_command

# Printed by wrk 4.1.0 (-t1 -c4 -d1s --latency) against bench/fast_upstream.py.
CLEAN = """Running 1s test @ http://127.0.0.1:39999/x
  1 threads and 4 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     8.27ms   20.50ms 126.79ms   92.60%
    Req/Sec     3.36k     2.53k    7.85k    60.00%
  Latency Distribution
     50%  505.00us
     75%    4.71ms
     90%   21.39ms
     99%  111.76ms
  3366 requests in 1.02s, 594.97KB read
Requests/sec:   3309.86
Transfer/sec:    585.04KB
"""

# Against a server answering 404, with the socket-error line wrk prints when any occurred.
FAILING = """Running 1s test @ http://127.0.0.1:39997/nothing
  1 threads and 2 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     2.98ms    5.29ms  39.16ms   91.98%
    Req/Sec     1.17k   510.53     1.87k    70.00%
  Latency Distribution
     50%    1.04ms
     75%    2.74ms
     90%    6.61ms
     99%     1.20s
  1198 requests in 1.03s, 608.36KB read
  Socket errors: connect 0, read 3, write 1, timeout 12
  Non-2xx or 3xx responses: 1198
Requests/sec:   1164.92
Transfer/sec:    591.56KB
"""


def test_a_clean_run_has_its_rate_percentiles_and_no_errors():
    result = parse_wrk_output(CLEAN)
    assert result.requests == 3366
    assert result.rps == pytest.approx(3309.86)
    assert result.p50_ms == pytest.approx(0.505)
    assert result.p99_ms == pytest.approx(111.76)
    assert (result.non_2xx, result.socket_errors, result.errors) == (0, 0, 0)


def test_non_2xx_and_every_kind_of_socket_error_are_counted():
    result = parse_wrk_output(FAILING)
    assert result.non_2xx == 1198
    assert result.socket_errors == 16
    assert result.errors == 1214
    assert result.p99_ms == pytest.approx(1200.0)


def test_the_average_latency_is_not_taken_for_a_percentile():
    # "Latency     8.27ms" precedes the distribution; only the "50%" line is the median.
    assert parse_wrk_output(CLEAN).p50_ms != pytest.approx(8.27)


@pytest.mark.parametrize(
    "text, expected", [("812.00us", 0.812), ("3.41ms", 3.41), ("1.02s", 1020.0), ("1.50m", 90_000.0)]
)
def test_durations_in_every_unit_wrk_prints(text, expected):
    assert duration_ms(text) == pytest.approx(expected)


@pytest.mark.parametrize("text", ["12", "3.4 ms", "fast", "1h"])
def test_a_duration_without_a_known_unit_is_refused(text):
    with pytest.raises(ValueError):
        duration_ms(text)


def test_output_without_the_latency_distribution_is_refused():
    without = "\n".join(line for line in CLEAN.splitlines() if "%  " not in line)
    with pytest.raises(ValueError, match="50%"):
        parse_wrk_output(without)


def test_the_command_is_one_thread_with_latency_and_whole_seconds():
    command = wrk_command("http://127.0.0.1:1/func/x", {"Cookie": "a=b"}, 16, 0.4)
    assert command == ["wrk", "-t1", "-c16", "-d1s", "--latency", "-H", "Cookie: a=b", "http://127.0.0.1:1/func/x"]
    assert "-d10s" in wrk_command("http://h/", {}, 1, 10)
