"""Joining a Ray 2.60 cluster that uses token authentication.

Ray 2.60 turns token authentication on for the clusters it starts, and a process that joins by
address (`RAY_ADDRESS`) sends its token only when `RAY_AUTH_MODE=token`: without it, `ray.init`
retries for about 20 s and raises a bare `ConnectionError`. `prepare_join` switches token mode on
when a token exists (Ray's own lookup: `RAY_AUTH_TOKEN`, `RAY_AUTH_TOKEN_PATH`, `~/.ray/auth_token`)
and asks the cluster's GCS once, in milliseconds, whether it lets this process in: a missing or
rejected token and an unreachable address are one clear error each, with a hint. `head_token_env`
is the environment a new head starts with.

Nothing here imports Ray at module level.
"""

from __future__ import annotations

import os
from pathlib import Path

from aegis_ray.errors import AegisError, ConfigError

AUTH_MODE = "RAY_AUTH_MODE"
DEFAULT_TOKEN = Path("~/.ray/auth_token")


class ClusterError(AegisError):
    """The Ray cluster cannot be started, reached or joined."""


def token_source() -> str:
    """Where Ray looks for the token first, in words."""
    if os.environ.get("RAY_AUTH_TOKEN"):
        return "RAY_AUTH_TOKEN"
    if os.environ.get("RAY_AUTH_TOKEN_PATH"):
        return f"RAY_AUTH_TOKEN_PATH ({os.environ['RAY_AUTH_TOKEN_PATH']})"
    return str(DEFAULT_TOKEN)


def _has_token() -> bool:
    from ray._raylet import AuthenticationTokenLoader

    loader = AuthenticationTokenLoader.instance()
    loader.reset_cache()  # the environment may have changed since Ray first looked
    return bool(loader.has_token(ignore_auth_mode=True))


def _token_mode() -> bool:
    return os.environ.get(AUTH_MODE, "").strip().lower() == "token"


def _enable_token_mode() -> None:
    from ray._private.authentication.authentication_token_setup import _enable_token_auth

    _enable_token_auth()  # RAY_AUTH_MODE=token, for this process and what it starts


def head_token_env() -> dict[str, str]:
    """The auth environment for a new head: token mode (unless `RAY_AUTH_MODE` says otherwise) with
    a token, created at ~/.ray/auth_token, as `ray.init()` does, if there is none."""
    if os.environ.get(AUTH_MODE) is not None and not _token_mode():
        return {}
    if not _has_token():
        if os.environ.get("RAY_AUTH_TOKEN_PATH"):
            raise ConfigError(f"RAY_AUTH_TOKEN_PATH names {os.environ['RAY_AUTH_TOKEN_PATH']}, which holds no token",
                              hint="write a token there (`ray get-auth-token --generate` makes one) or unset it")
        from ray._private.authentication.authentication_token_setup import generate_and_save_token

        generate_and_save_token()
    return {AUTH_MODE: "token"}


def _probeable(address: str) -> bool:
    return "://" not in address and address not in ("auto", "local") and ":" in address


def _probe(address: str, header: dict[str, str], timeout_s: float = 5.0) -> str:
    """One GCS call (GetClusterId) with this token: "ok", "unauthenticated" or "unreachable"."""
    import grpc
    from ray.core.generated import gcs_service_pb2, gcs_service_pb2_grpc

    metadata = tuple((k.lower(), v) for k, v in header.items())
    with grpc.insecure_channel(address) as channel:
        stub = gcs_service_pb2_grpc.NodeInfoGcsServiceStub(channel)
        try:
            stub.GetClusterId(gcs_service_pb2.GetClusterIdRequest(), timeout=timeout_s, metadata=metadata,
                              wait_for_ready=False)
        except grpc.RpcError as error:
            return "unauthenticated" if error.code() == grpc.StatusCode.UNAUTHENTICATED else "unreachable"
    return "ok"


def prepare_join(address: str) -> None:
    """Before `ray.init(address)`: token mode on when a token exists and `RAY_AUTH_MODE` is unset;
    then one quick question to the cluster, so that a missing or rejected token and an unreachable
    address fail now, clearly, and not after Ray's 20 s of retries with a traceback."""
    has_token = _has_token()
    if os.environ.get(AUTH_MODE) is None and has_token:
        _enable_token_mode()
    if _token_mode() and not has_token:
        raise ConfigError(
            f"RAY_AUTH_MODE=token but no Ray auth token was found (looked in {token_source()})",
            hint="copy the cluster's token (`ray get-auth-token` on its head) to ~/.ray/auth_token, "
                 "or set RAY_AUTH_TOKEN or RAY_AUTH_TOKEN_PATH")
    if not _probeable(address):
        return
    from ray._raylet import AuthenticationTokenLoader

    header = (AuthenticationTokenLoader.instance().get_token_for_http_header(ignore_auth_mode=True)
              if _token_mode() else {})
    outcome = _probe(address, header)
    if outcome == "unreachable":
        raise ClusterError(f"cannot reach the Ray cluster at {address}",
                           hint="check RAY_ADDRESS (host:port of the head's GCS) and that the head is up; "
                                "unset it to use a local cluster")
    if outcome == "unauthenticated" and header:
        raise ConfigError(
            f"the Ray cluster at {address} rejected the auth token from {token_source()}",
            hint="use the cluster's own token: `ray get-auth-token` on its head, then put it in "
                 "~/.ray/auth_token or RAY_AUTH_TOKEN")
    if outcome == "unauthenticated":
        hint = ("set RAY_AUTH_MODE=token (the token exists)" if has_token else
                "copy the cluster's token (`ray get-auth-token` on its head) to ~/.ray/auth_token, "
                "or set RAY_AUTH_TOKEN or RAY_AUTH_TOKEN_PATH")
        raise ConfigError(f"the Ray cluster at {address} requires token authentication and no token was "
                          f"sent (looked in {token_source()})", hint=hint)
