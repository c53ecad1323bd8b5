"""Instruments: one object per process built from contract.instruments; any number of them in one process."""

from __future__ import annotations

from contract import instruments as definitions
from contract.instruments import CounterSpec, GaugeSpec, HistogramSpec
from service_runtime.instruments import Instruments
from service_runtime.metrics import MULTIPROC_ENV, render_latest
from tests.service_runtime.test_metrics import sample


def test_instances_in_one_process_keep_their_own_samples(monkeypatch):
    monkeypatch.delenv(MULTIPROC_ENV, raising=False)
    first, second = Instruments("frontdoor"), Instruments("signer_worker")  # no clash in a global registry
    first.logins.labels("success").inc(3)
    second.zmq_rejected.labels(second.role, "bad_mac").inc()
    text = render_latest(first.registry)[0].decode()
    assert sample(text, 'webui_host_logins_total{result="success"}') == 3
    assert "webui_host_zmq_rejected_total{" not in text
    text = render_latest(second.registry)[0].decode()
    assert sample(text, 'webui_host_zmq_rejected_total{process="signer_worker",reason="bad_mac"}') == 1
    assert sample(text, 'webui_host_logins_total{result="success"}') is None


def test_a_label_set_has_one_child():
    instruments = Instruments()
    assert instruments.upstream_errors.labels("unreachable") is instruments.upstream_errors.labels("unreachable")
    assert instruments.upstream_errors.labels("unreachable") is not instruments.upstream_errors.labels("broken_body")


def test_every_definition_is_built_as_defined():
    specs = [
        value for value in vars(definitions).values() if isinstance(value, (CounterSpec, GaugeSpec, HistogramSpec))
    ]
    kinds = {CounterSpec: "counter", GaugeSpec: "gauge", HistogramSpec: "histogram"}
    built = {metric.name: metric for metric in Instruments().registry.collect()}
    assert len(built) == len(specs)
    for spec in specs:
        name = spec.name.removesuffix("_total") if isinstance(spec, CounterSpec) else spec.name
        assert built[name].type == kinds[type(spec)]
        assert built[name].documentation == spec.documentation
