"""The upstream-health gauge follows each endpoint's health through requests' and probes' outcomes."""

from __future__ import annotations

from frontdoor.endpoint_pool import EndpointPool
from frontdoor.endpoint_probe import record
from service_runtime.instruments import Instruments

URL = "http://manager-a:8081"


def test_the_gauge_follows_the_health_of_an_endpoint():
    instruments = Instruments("frontdoor")
    pool = EndpointPool([URL], unhealthy_after=2)

    def exported():
        labels = {"deployment": "manager", "endpoint": URL}
        return instruments.registry.get_sample_value("webui_host_upstream_healthy", labels)

    seen = []
    for alive in (True, True, False, False, False, True, True):
        record(instruments, pool, "manager", URL, alive)
        seen.append(exported())
    assert seen == [1.0, 1.0, 1.0, 0.0, 0.0, 1.0, 1.0]
    fresh = EndpointPool([URL], unhealthy_after=2)  # the upstream list changed: a new pool exports anew
    instruments.upstream_healthy.labels("manager", URL).set(0)
    record(instruments, fresh, "manager", URL, True)
    assert exported() == 1.0
