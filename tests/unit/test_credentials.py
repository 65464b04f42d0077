"""s3op.credentials: a one-shot run resolves afresh; a long-lived engine's cache
reuses a resolution for RESOLVE_TTL_SECONDS, then picks up new credentials."""

from __future__ import annotations

from pathlib import Path
from typing import Any, List

import pytest

from s3op.client import config_from_env
from s3op.credentials import RESOLVE_TTL_SECONDS, CredentialCache, client_config

OLD = "[default]\naws_access_key_id = AKIDOLD\naws_secret_access_key = s1\n"
NEW = "[default]\naws_access_key_id = AKIDNEW\naws_secret_access_key = s2\n"


@pytest.fixture
def creds(isolated_env: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A credentials file holding OLD, which the test may rewrite."""
    path = tmp_path / "credentials"
    path.write_text(OLD)
    (tmp_path / "config").write_text("")
    isolated_env.setenv("AWS_SHARED_CREDENTIALS_FILE", str(path))
    isolated_env.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    isolated_env.setenv("AWS_DEFAULT_REGION", "eu-west-3")
    return path


class Clock:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_cache_re_resolves_once_its_resolution_is_ttl_old(creds: Path) -> None:
    """A long-lived server (the shared engine) picks up new credentials from the
    credential chain once its cached resolution is RESOLVE_TTL_SECONDS old."""
    clock = Clock()
    cache = CredentialCache(clock=clock)
    raw = config_from_env(None, 4)
    first = cache.resolve(raw)
    creds.write_text(NEW)
    clock.now += RESOLVE_TTL_SECONDS - 1
    assert cache.resolve(raw) is first  # within the TTL: the cached resolution
    assert first.credentials is not None and first.credentials.access_key == "AKIDOLD"
    clock.now += 1
    again = cache.resolve(raw)
    assert again.credentials is not None and again.credentials.access_key == "AKIDNEW"


def test_configs_differing_in_pool_size_share_one_resolution(creds: Path) -> None:
    """The engine's warm-up resolves a get's and a put's configuration: once."""
    cache = CredentialCache()
    small = cache.resolve(config_from_env(None, 4))
    creds.write_text(NEW)
    big = cache.resolve(config_from_env(None, 128))
    assert (small.max_pool_connections, big.max_pool_connections) == (4, 128)
    assert big.credentials is small.credentials  # the same resolution, not a new one
    assert big.credentials is not None and big.credentials.access_key == "AKIDOLD"


def test_one_resolution_builds_one_botocore_session(
    creds: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Credentials and the endpoint come from one session (no endpoint URL: AWS)."""
    import botocore.session

    made: List[int] = []
    real = botocore.session.Session.__init__

    def counting(self: botocore.session.Session, *args: Any, **kwargs: Any) -> None:
        made.append(1)
        real(self, *args, **kwargs)

    monkeypatch.setattr(botocore.session.Session, "__init__", counting)
    config = client_config(None, 2, 300.0)
    assert config.fast == ("https://s3.eu-west-3.amazonaws.com", "eu-west-3", False)
    assert config.credentials is not None and config.credentials.access_key == "AKIDOLD"
    assert len(made) == 1


def test_without_a_cache_every_run_resolves_afresh(creds: Path) -> None:
    first = client_config(None, 2, 300.0)
    creds.write_text(NEW)
    second = client_config(None, 2, 300.0)
    assert first.credentials is not None and first.credentials.access_key == "AKIDOLD"
    assert second.credentials is not None and second.credentials.access_key == "AKIDNEW"


def test_a_resolution_without_credentials_is_not_kept(creds: Path) -> None:
    """A miss (the metadata service timed out, say) is tried again by the next batch."""
    creds.write_text("")
    cache = CredentialCache()
    raw = config_from_env(None, 4)
    assert cache.resolve(raw).credentials is None
    creds.write_text(NEW)
    found = cache.resolve(raw).credentials
    assert found is not None and found.access_key == "AKIDNEW"


def test_a_change_of_aws_environment_resolves_again(
    creds: Path, isolated_env: pytest.MonkeyPatch
) -> None:
    cache = CredentialCache()
    raw = config_from_env(None, 4)
    first = cache.resolve(raw)
    isolated_env.setenv("AWS_ACCESS_KEY_ID", "AKIDENV")
    isolated_env.setenv("AWS_SECRET_ACCESS_KEY", "secret-env")
    second = cache.resolve(raw)
    assert second is not first
    assert second.credentials is not None and second.credentials.access_key == "AKIDENV"


def test_the_deadline_caps_every_socket_wait(creds: Path) -> None:
    config = client_config(None, 8, 2.5, CredentialCache())
    assert config.read_timeout == config.connect_timeout == 2.5
    assert config.max_pool_connections == 16  # two a thread


def test_one_cache_serves_threads_at_once(creds: Path) -> None:
    """Dask workers may run shards on threads sharing one cache."""
    import threading

    cache = CredentialCache()
    raw = config_from_env(None, 4)
    seen: List[object] = []
    threads = [threading.Thread(target=lambda: seen.append(cache.resolve(raw))) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(seen) == 4 and all(s is seen[0] for s in seen)
