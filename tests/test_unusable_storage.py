"""`search --storage` with a database URL that cannot be used: one line naming it, before any work, quickly."""

import socket
import time

import pytest

from sklearn_ser.cli import main
from sklearn_ser.model_selection import _storage, make_storage


def search_with(storage, tmp_path):
    """Exit status, standard error and seconds of `sklearn-ser search --storage STORAGE` on a corpus not yet made."""
    argv = ["search", "--corpus", f"synthetic:{tmp_path / 'corpus'}", "--recipe", "svm-mfcc", "--n-trials", "1",
            "--storage", storage, "--study", "s"]  # fmt: skip
    start = time.monotonic()
    status = main(argv)
    return status, time.monotonic() - start


def check_one_line_naming(capsys, tmp_path, shown, *expected):
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith(f"sklearn-ser: error: storage={shown!r} cannot be used: "), err
    for text in expected:
        assert text in err, err
    assert not (tmp_path / "corpus").exists()  # refused before the corpus is read (here, made)
    return err


@pytest.mark.parametrize(
    "url, expected",
    [
        pytest.param("foo://x", ["SQLAlchemy knows no database 'foo'", "'journal:PATH'"], id="unknown database"),
        pytest.param(
            "postgresql+nosuchdriver://u@h/db",
            ["SQLAlchemy knows no driver 'nosuchdriver' for postgresql"],
            id="unknown driver",
        ),
        pytest.param("postgresql://u@h:notaport/db", ["not a valid database URL"], id="port not a number"),
    ],
)
def test_a_url_that_names_no_usable_database_is_one_line(url, expected, tmp_path, capsys):
    status, seconds = search_with(url, tmp_path)
    assert status == 1 and seconds < 10
    check_one_line_naming(capsys, tmp_path, url, *expected)


def test_a_sqlite_database_in_a_missing_folder_is_one_line(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'missing' / 'dir' / 's.db'}"
    status, seconds = search_with(url, tmp_path)
    assert status == 1 and seconds < 10
    check_one_line_naming(capsys, tmp_path, url, f"the folder {tmp_path / 'missing' / 'dir'} of its SQLite database")
    assert not (tmp_path / "missing").exists()


def test_a_file_that_is_not_a_sqlite_database_is_one_line(tmp_path, capsys):
    path = tmp_path / "notes.txt"
    path.write_text("not a database\n" * 100)
    status, _ = search_with(f"sqlite:///{path}", tmp_path)
    assert status == 1
    check_one_line_naming(capsys, tmp_path, f"sqlite:///{path}", "cannot be opened (file is not a database)")
    assert path.read_text() == "not a database\n" * 100


def test_an_unreachable_postgresql_server_is_one_line_without_the_password(tmp_path, capsys):
    status, seconds = search_with("postgresql://u:secret@127.0.0.1:1/db", tmp_path)
    assert status == 1 and seconds < 10
    err = check_one_line_naming(capsys, tmp_path, "postgresql://u:***@127.0.0.1:1/db")
    assert "secret" not in err
    # without the default driver of SQLAlchemy's (psycopg, psycopg2 before SQLAlchemy 2.1), it is named missing
    assert "cannot connect to its database (" in err or "driver is not installed" in err


def test_a_server_that_never_answers_fails_within_the_connect_timeout(tmp_path, capsys, monkeypatch):
    pytest.importorskip("psycopg")
    monkeypatch.setattr(_storage, "CONNECT_TIMEOUT_SECONDS", 2)
    with socket.socket() as silent:  # accepts connections (the kernel does) and never says a word
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"postgresql+psycopg://u@127.0.0.1:{silent.getsockname()[1]}/db"
        status, seconds = search_with(url, tmp_path)
    assert status == 1 and seconds < 8
    check_one_line_naming(capsys, tmp_path, url, "cannot connect to its database")


def test_a_connect_timeout_of_the_url_is_kept(monkeypatch):
    calls = []
    monkeypatch.setattr("optuna.storages.RDBStorage", lambda url, **kwargs: calls.append(kwargs["engine_kwargs"]))
    make_storage("postgresql+psycopg://u@h/db")
    make_storage("postgresql+psycopg://u@h/db?connect_timeout=30")
    make_storage("sqlite:///study.db")
    assert calls == [{"connect_args": {"connect_timeout": _storage.CONNECT_TIMEOUT_SECONDS}}, {}, {}]


def test_a_driver_that_is_not_installed_is_one_line(tmp_path, capsys):
    try:
        import pymysql  # noqa: F401

        pytest.skip("pymysql is installed")
    except ImportError:
        pass
    status, _ = search_with("mysql+pymysql://u@127.0.0.1:1/db", tmp_path)
    assert status == 1
    check_one_line_naming(
        capsys, tmp_path, "mysql+pymysql://u@127.0.0.1:1/db", "database driver is not installed (No module named"
    )
