from pathlib import Path

from tuiapp.locations import default_db_path, demo_db_path, resolve_db_path


def test_db_path_order(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert default_db_path() == tmp_path / "data" / "tuiapp" / "tuiapp.db"
    assert demo_db_path() == tmp_path / "data" / "tuiapp" / "demo.db"
    assert resolve_db_path(None, {}) == (default_db_path(), False)
    assert resolve_db_path(None, {"TUIAPP_DB": "/srv/base.db"}) == (Path("/srv/base.db"), True)
    assert resolve_db_path("x.db", {"TUIAPP_DB": "/srv/base.db"}) == (Path("x.db"), True)
    assert resolve_db_path("~/x.db", {})[0] == Path.home() / "x.db"
