"""Every test gets its own cache folder: runs never read or write the user's cache."""
import pytest


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STS_KIT_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
