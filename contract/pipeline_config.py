"""``[pipeline]`` (FastTrack) of Backend.AI's webserver.conf, and ``[service] enable_signup``'s neighbours.

Kept apart from ``contract.config`` so that module stays readable; ``Config.pipeline`` is this model.
The pipeline is a separate upstream: it gets a JWT signed with ``jwt.secret`` (not a Manager
credential) and never the user's Backend.AI signature.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from contract.fields import Field, Model, field_check

# Backend.AI's defaults (webserver.conf.sample), so config.toml shows what 23.09 shows.
DEFAULT_PIPELINE_ENDPOINT = "http://127.0.0.1:9500"
DEFAULT_FRONTEND_ENDPOINT = "http://127.0.0.1:3000"
DEFAULT_JWT_SECRET = "7<:~[X,^Z1XM!*,Pe:PHR!bv,H~Q#l177<7gf_XHD6.<*<.t<[o|V5W(=0x:jTh-"
MIN_SECRET_LENGTH = 32  # RFC 7518 §3.2: an HS256 key is at least 256 bits; shorter is guessable offline


def _http_url(value: str) -> str:
    # urllib's parser, not yarl's (the same verdicts here): yarl and multidict stay out of the signers
    # and the session daemon, which load this module with the configuration (~1.5 MiB each).
    problem = "must be an http(s) URL with a host and no user, query or fragment"
    try:
        url = urlsplit(value)
        url.port  # noqa: B018 - raises ValueError for a port that is no number in range
    except ValueError:
        raise ValueError(problem) from None
    if url.scheme not in ("http", "https") or not url.hostname or url.username or url.query or url.fragment:
        raise ValueError(problem)
    return value


class PipelineJwtConfig(Model, extra="forbid"):
    secret: str = Field(
        DEFAULT_JWT_SECRET,
        repr=False,  # never in a log line or a traceback
        description="HS256 secret of the X-BackendAI-SSO JWT sent to the pipeline (FastTrack) server; "
        "must match the pipeline server's. Change it from Backend.AI's sample value in production.",
    )

    @field_check("secret")
    def _long_enough(secret: str) -> str:
        if len(secret) < MIN_SECRET_LENGTH:
            raise ValueError(f"must be at least {MIN_SECRET_LENGTH} characters")
        return secret


class PipelineConfig(Model, extra="allow"):
    """A section shared with Backend.AI's webserver.conf: its other keys are kept, not refused."""

    endpoint: str = Field(
        DEFAULT_PIPELINE_ENDPOINT,
        description="FastTrack pipeline server that /pipeline/<path> is proxied to (its /<path>); "
        "also config.toml's [pipeline] endpoint.",
    )
    frontend_endpoint: str = Field(
        DEFAULT_FRONTEND_ENDPOINT,
        description="FastTrack's web frontend, shown to the Web UI as config.toml's frontendEndpoint.",
    )
    jwt: PipelineJwtConfig = Field(
        default_factory=PipelineJwtConfig, description="The pipeline server's single sign-on JWT."
    )

    _urls = field_check("endpoint", "frontend_endpoint")(_http_url)
