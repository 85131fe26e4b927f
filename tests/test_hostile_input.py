"""Hostile and broken input: every limit is a located PolicyError (or RequestError), fast and small.

Exhaustion (size, non-regular files, alias bombs, nesting, value counts, message sizes), values
YAML cannot build, lone surrogates, OpenDSR times at the end of the calendar, and writing the
output (a missing folder, a full disk); then a fuzz test over mutations of the example policy.
"""

from __future__ import annotations

import errno
import io
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import privacy_kit as pk
from privacy_kit.cli._main import main
from privacy_kit.interop import opendsr
from privacy_kit.model import _reading
from privacy_kit.model._loading import read_document
from strategies import example_policy_data

EXAMPLE = pk.example_path().read_text(encoding="utf-8")
# the parsers to run each YAML test with: libyaml's (when installed) and PyYAML's own
PARSERS = [True, False] if yaml.__with_libyaml__ else [False]


def _policy_error(path_or_data: Any, **kwargs: Any) -> pk.PolicyError:
    with pytest.raises(pk.PolicyError) as info:
        pk.load_policy(path_or_data, **kwargs)
    return info.value


def _write(tmp_path: Path, text: str, name: str = "policy.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _messages(err: pk.PolicyError) -> dict[str, str]:
    return {p.location: p.message for p in err.problems}


# -- size and the kind of file ---------------------------------------------------------------------


def test_a_file_over_max_bytes_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, EXAMPLE)
    err = _policy_error(path, max_bytes=1000)
    assert _messages(err) == {
        "": "the file is larger than 1,000 bytes, the limit (raise it with max_bytes=)"
    }
    assert pk.load_policy(path, max_bytes=len(EXAMPLE.encode())).version == "2024.1"
    datamap = pk.example_path("datamap.yaml")
    with pytest.raises(pk.PolicyError, match="larger than 1,000 bytes"):
        pk.load_datamap(datamap, max_bytes=1000)
    with pytest.raises(pk.PolicyError, match=r"policy\.yaml: the file is larger than 9,000"):
        pk.load_datamap(datamap, policy=path, max_bytes=9000)  # the policy's path too


def test_the_default_limit_is_10_mib_and_nothing_is_read_past_it(tmp_path: Path) -> None:
    path = tmp_path / "sparse.yaml"
    with open(path, "wb") as handle:
        handle.truncate(10 * 1024 * 1024 + 1)  # a sparse file: nothing is written
    err = _policy_error(path)
    assert "larger than 10,485,760 bytes" in str(err)
    path.write_bytes(b"a: 1\n" * 1000)
    read_bytes: list[int] = []
    real_read = os.read

    def counting_read(fd: int, n: int) -> bytes:
        data = real_read(fd, n)
        read_bytes.append(len(data))
        return data

    # a file that says it is small but is not (it grew while being read): at most limit + 1 bytes
    real_fstat = os.fstat

    class Small:
        def __init__(self, fd: int) -> None:
            self.st_mode = real_fstat(fd).st_mode
            self.st_size = 10

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(_reading.os, "read", counting_read)
        mp.setattr(_reading.os, "fstat", Small)
        err = _policy_error(path, max_bytes=100)
    assert "larger than 100 bytes" in str(err)
    assert sum(read_bytes) == 101


def test_max_bytes_must_be_a_positive_integer() -> None:
    with pytest.raises(pk.ConfigurationError, match="max_bytes must be a positive integer, got 0"):
        pk.load_policy(pk.example_path(), max_bytes=0)
    with pytest.raises(pk.WrongTypeError, match="got str"):
        pk.load_policy(example_policy_data(), max_bytes="1")  # type: ignore[arg-type]
    with pytest.raises(pk.WrongTypeError, match="got bool"):
        read_document(pk.example_path(), max_bytes=True)


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_dev_zero_is_refused_before_it_is_read(capsys: pytest.CaptureFixture[str]) -> None:
    start = time.monotonic()
    err = _policy_error("/dev/zero")
    assert str(err) == "/dev/zero: cannot read file: a character device is not a regular file"
    assert main(["validate", "/dev/zero"], io.StringIO()) == 2  # cannot be read: exit 2
    assert capsys.readouterr().err == (
        "privacy-kit: /dev/zero: cannot read file: a character device is not a regular file\n"
    )
    assert time.monotonic() - start < 2


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_a_fifo_named_yaml_is_refused_without_waiting(tmp_path: Path) -> None:
    fifo = tmp_path / "policy.yaml"
    os.mkfifo(fifo)
    outcome: list[BaseException] = []

    def load() -> None:
        try:
            pk.load_policy(fifo)
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            outcome.append(exc)

    worker = threading.Thread(target=load, daemon=True)
    worker.start()
    worker.join(timeout=5)
    if worker.is_alive():  # unblock the reader so the thread ends, then fail
        with open(fifo, "wb"):
            pass
        pytest.fail("loading a FIFO blocked")
    assert len(outcome) == 1
    assert isinstance(outcome[0], pk.PolicyError)
    assert str(outcome[0]).endswith("cannot read file: a FIFO (named pipe) is not a regular file")


def test_a_directory_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "policy.yaml"
    folder.mkdir()
    err = _policy_error(folder)
    assert _messages(err) == {"": "cannot read file: a directory is not a regular file"}


# -- YAML aliases ------------------------------------------------------------------------------------


def _bomb(levels: int = 9, width: int = 10) -> str:
    """A billion laughs in a flow list: each anchor is a list of ``width`` aliases of the last."""
    items = ["&l0 [" + ", ".join(["lol"] * width) + "]"]
    items += [
        f"&l{level} [" + ", ".join([f"*l{level - 1}"] * width) + "]" for level in range(1, levels)
    ]
    return "[" + ", ".join(items) + "]"


def test_an_alias_bomb_into_an_enum_field_is_refused_fast(tmp_path: Path) -> None:
    bomb = _bomb()
    text = EXAMPLE.replace("    source: provided\n", f"    source: {bomb}\n", 1)
    path = _write(tmp_path, text)
    start = time.monotonic()
    err = _policy_error(path)
    assert time.monotonic() - start < 2
    (problem,) = err.problems
    assert problem.location.startswith("line 74, column ")
    assert problem.message == (
        "the document holds more than 250,000 values once its aliases are expanded (an alias bomb?)"
    )
    assert len(str(err)) < 300


def test_a_merge_key_bomb_is_refused(tmp_path: Path) -> None:
    lines = ["a0: &a0 {k0: 1, k1: 2, k2: 3, k3: 4}"]
    lines += [
        f"a{level}: &a{level} {{<<: [*a{level - 1}, *a{level - 1}], n{level}: 1}}"
        for level in range(1, 40)
    ]
    path = _write(tmp_path, "\n".join(lines) + "\n")
    start = time.monotonic()
    err = _policy_error(path)
    assert time.monotonic() - start < 2
    assert "once its aliases are expanded" in str(err)


def test_a_recursive_alias_is_refused(tmp_path: Path) -> None:
    err = _policy_error(_write(tmp_path, "title: &t [a, *t]\n"))
    assert _messages(err) == {"line 1, column 8": "an alias refers to a value that contains it"}


def test_aliases_within_the_limits_load_as_before(tmp_path: Path) -> None:
    text = EXAMPLE.replace("    source: provided\n", "    source: &src provided\n", 1)
    assert text.count("    source: provided\n") >= 3
    text = text.replace("    source: provided\n", "    source: *src\n")
    policy = pk.load_policy(_write(tmp_path, text))
    assert policy == pk.load_policy(pk.example_path())


def test_the_value_limit_without_aliases(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(_reading, "MAX_VALUES", 500)
    listed = "jurisdictions:\n" + "  - gdpr\n" * 600
    err = _policy_error(_write(tmp_path, listed))
    assert list(_messages(err).values()) == ["the document holds more than 500 values"]
    # a large file: the parser's events are counted before anything is built
    monkeypatch.setattr(_reading, "_COUNT_FIRST", 100)
    err = _policy_error(_write(tmp_path, listed))
    assert list(_messages(err).values()) == ["the document holds more than 500 values"]
    path = _write(tmp_path, json.dumps({"jurisdictions": ["gdpr"] * 600}), "p.json")
    err = _policy_error(path)
    assert list(_messages(err).values()) == ["the document holds more than 500 values"]
    err = _policy_error({"jurisdictions": ["gdpr"] * 600})
    assert list(_messages(err).values()) == ["the document holds more than 500 values"]


def test_a_huge_list_is_refused_in_well_under_a_second(tmp_path: Path) -> None:
    text = EXAMPLE.replace(
        "jurisdictions: [gdpr, uk_gdpr, ccpa]", "jurisdictions:\n" + "  - x\n" * 300_000
    )
    path = _write(tmp_path, text)
    start = time.monotonic()
    err = _policy_error(path)
    assert time.monotonic() - start < 3
    assert list(_messages(err).values()) == ["the document holds more than 250,000 values"]


# -- nesting -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("libyaml", PARSERS, ids=["libyaml", "pure"][-len(PARSERS) :])
@pytest.mark.parametrize("levels", [65, 200, 5000])
def test_deep_yaml_nesting_is_refused(libyaml: bool, levels: int) -> None:
    flow = "a: " + "[" * levels + "]" * levels + "\n"
    with pytest.raises(pk.PolicyError) as info:
        _reading.parse_yaml(flow, "p.yaml", libyaml=libyaml)
    ((location, message),) = _messages(info.value).items()
    assert location.startswith("line 1, column ")
    assert message == "nested more than 64 levels deep"
    levels = min(levels, 300)  # indented blocks grow with the square of the depth
    block = "".join(f"{' ' * i}k:\n" for i in range(levels)) + " " * levels + "1\n"
    with pytest.raises(pk.PolicyError) as info:
        _reading.parse_yaml(block, "p.yaml", libyaml=libyaml)
    ((location, message),) = _messages(info.value).items()
    assert location.startswith("line ")
    assert message == "nested more than 64 levels deep"


def test_nesting_up_to_the_limit_is_read() -> None:
    flow = "a: " + "[" * 63 + "1" + "]" * 63 + "\n"
    for libyaml in PARSERS:
        data = _reading.parse_yaml(flow, "p.yaml", libyaml=libyaml)
        depth = 0
        while isinstance(data, dict | list):
            data = data["a"] if isinstance(data, dict) else data[0]
            depth += 1
        assert (depth, data) == (64, 1)


def test_deep_json_and_mappings_are_refused(tmp_path: Path) -> None:
    deep: Any = 1
    for _ in range(100):
        deep = [deep]
    err = _policy_error(_write(tmp_path, json.dumps({"title": deep}), "p.json"))
    ((location, message),) = _messages(err).items()
    assert location == "title" + "[0]" * 63
    assert message == "nested more than 64 levels deep"
    err = _policy_error({"title": deep})
    assert _messages(err) == {location: message}
    cyclic: dict[str, Any] = {}
    cyclic["title"] = cyclic
    err = _policy_error(cyclic)
    assert list(_messages(err).values()) == ["nested more than 64 levels deep"]


# -- values YAML cannot build --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("!!float x", "invalid YAML: invalid number 'x'"),
        ("!!timestamp x", "invalid YAML: invalid date or time 'x'"),
        ("!!int x", "invalid YAML: invalid integer 'x'"),
        (
            "2024-02-30",
            "invalid YAML: invalid date or time '2024-02-30': day is out of range for month",
        ),
        ("9" * 5000, "invalid YAML: invalid integer: more than 4,300 digits"),
        ("!!bool x", "invalid YAML: invalid boolean 'x'"),
        ("!!set x", "invalid YAML: invalid set value 'x'"),
        ("!!map [1]", "invalid YAML: invalid map value"),
    ],
)
@pytest.mark.parametrize("libyaml", PARSERS, ids=["libyaml", "pure"][-len(PARSERS) :])
def test_a_value_yaml_cannot_build_is_located(
    value: str, message: str, libyaml: bool, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    if not libyaml:
        monkeypatch.setattr(yaml, "__with_libyaml__", False)
    text = EXAMPLE.replace("  minimum_age: 16", f"  minimum_age: {value}")
    err = _policy_error(_write(tmp_path, text))
    ((location, got),) = _messages(err).items()
    line = EXAMPLE.splitlines().index("  minimum_age: 16") + 1  # not a number to keep in step
    assert location == f"line {line}, column 16"
    assert got.startswith(message)


def test_an_impossible_date_in_json_text_is_a_located_field_error(tmp_path: Path) -> None:
    data = example_policy_data()
    data["effective"] = "2024-02-30"
    err = _policy_error(_write(tmp_path, json.dumps(data, default=str), "p.json"))
    assert set(_messages(err)) == {"effective"}


def test_huge_integers_and_durations_are_policy_errors(tmp_path: Path) -> None:
    data = example_policy_data()
    data["children"]["minimum_age"] = 10**4000
    data["retention"][0]["duration"] = "P" + "9" * 5000 + "D"
    data["breach"]["notify_within"] = "9" * 20 + " hours"
    err = _policy_error(data)
    messages = _messages(err)
    assert set(messages) == {
        "children.minimum_age",
        "retention[0].duration",
        "breach.notify_within",
    }
    assert "is too long (at most 1000 years)" in messages["retention[0].duration"]
    assert len(messages["retention[0].duration"]) < 300
    assert len(str(err)) < 2000


# -- lone surrogates -----------------------------------------------------------------------------------


def test_a_lone_surrogate_is_refused_at_load(tmp_path: Path) -> None:
    text = EXAMPLE.replace("en: Appointlet privacy notice", 'en: "Appointlet \\ud800 notice"')
    path = _write(tmp_path, text)
    for libyaml in PARSERS:
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(yaml, "__with_libyaml__", libyaml)
            err = _policy_error(path)
        ((location, message),) = _messages(err).items()
        if libyaml:  # libyaml refuses the escape itself
            assert location == "line 5, column 21"
        else:
            assert location == "title.en"
            assert message == (
                "text has a lone surrogate '\\ud800' at character 11, which cannot be written "
                "as UTF-8"
            )
    data = example_policy_data()
    data["controller"]["name"] = "Acme \udcff"
    data["summary"]["x\ud800"] = "text"
    err = _policy_error(data)
    assert set(_messages(err)) == {"controller.name", "summary"}
    assert _messages(err)["summary"].startswith("key 'x\\ud800' has a lone surrogate")


def test_a_lone_surrogate_in_text_is_refused_by_the_model() -> None:
    data = example_policy_data()
    data["title"] = {"en": "a\ud800b"}
    with pytest.raises(ValueError, match="text for 'en' has a lone surrogate"):
        pk.Policy.model_validate(data)
    with pytest.raises(ValueError, match="text for 'en' has a lone surrogate '\\\\udfff'"):
        pk.Policy.model_validate({**example_policy_data(), "summary": "\udfff"})


def test_render_refuses_a_policy_text_it_could_not_write() -> None:
    policy = pk.load_policy(pk.example_path())
    # a copy is not validated: nothing but the render stands between the text and the writer
    controller = policy.controller.model_copy(update={"name": "Acme \ud800"})
    policy = policy.model_copy(update={"controller": controller})
    for fmt in ("md", "html"):
        with pytest.raises(pk.PolicyError, match=r"lone surrogate '\\ud800'.*cannot be written"):
            pk.render_notice(policy, format=fmt)  # type: ignore[arg-type]


# -- messages stay small -------------------------------------------------------------------------------


def test_a_huge_input_is_cut_in_the_message(tmp_path: Path) -> None:
    data = example_policy_data()
    data["collection"][0]["source"] = "x" * 100_000
    data["retention"][0]["duration"] = "y" * 100_000
    err = _policy_error(data)
    messages = _messages(err)
    assert set(messages) == {"collection[0].source", "retention[0].duration"}
    assert all(len(m) < 500 for m in messages.values())
    assert "xxxx..." in messages["collection[0].source"]
    assert len(str(err)) < 1200


def test_at_most_50_problems_are_listed() -> None:
    data = example_policy_data()
    data["jurisdictions"] = [f"nope{i}" for i in range(200)]
    err = _policy_error(data)
    assert len(err.problems) == 51
    assert str(err.problems[-1]) == "and 150 more problems"
    assert str(err).splitlines()[0] == "<policy mapping>: 51 problems"


# -- OpenDSR at the end of the calendar -----------------------------------------------------------------


@pytest.mark.parametrize(
    "submitted", ["9999-12-30T00:00:00Z", "9999-12-31T23:59:59-05:00", "9999-12-15T00:00:00+14:00"]
)
def test_an_opendsr_time_near_the_year_9999_is_a_request_error(submitted: str) -> None:
    body = {
        "subject_request_id": "a7551968-d5d6-44b2-9831-815ac9017798",
        "regulation": "gdpr",
        "subject_request_type": "erasure",
        "submitted_time": submitted,
        "subject_identities": [
            {"identity_type": "email", "identity_value": "j@example.com", "identity_format": "raw"}
        ],
    }
    with pytest.raises(pk.RequestError, match="deadline falls after the year 9999"):
        opendsr.to_request(body, subject_kind="customer")
    # the same body received in an ordinary year is fine
    import datetime as dt

    request = opendsr.to_request(
        body, subject_kind="customer", received_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    )
    assert request.due_at.year == 2026


# -- writing the output --------------------------------------------------------------------------------


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    out = io.StringIO()
    code = main(argv, out)
    return code, out.getvalue(), capsys.readouterr().err


def test_render_into_a_missing_folder_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "missing" / "dir" / "file.html"
    code, _, err = _run(["render", "--format", "html", "-o", str(target)], capsys)
    assert (code, err) == (2, f"privacy-kit: {target}: No such file or directory\n")
    code, _, err = _run(["ropa", "-o", str(target)], capsys)
    assert (code, err) == (2, f"privacy-kit: {target}: No such file or directory\n")


def test_a_full_disk_names_the_file_and_leaves_the_old_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "notice.md"
    target.write_text("the previous notice\n", encoding="utf-8")

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    code, _, err = _run(["render", "-o", str(target)], capsys)
    assert (code, err) == (2, f"privacy-kit: {target}: No space left on device\n")
    assert target.read_text(encoding="utf-8") == "the previous notice\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notice.md"]  # no temporary left


def test_the_output_error_is_a_privacy_kit_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from privacy_kit.cli import _main

    monkeypatch.setattr(
        os, "fsync", lambda fd: (_ for _ in ()).throw(OSError(errno.ENOSPC, "full"))
    )
    with pytest.raises(pk.PrivacyKitError, match=r"notice\.md: full") as info:
        _main._write_file(tmp_path / "notice.md", "text")
    assert isinstance(info.value, OSError)
    assert info.value.errno == errno.ENOSPC


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_a_real_full_device(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(["render", "-o", "/dev/full"], capsys)
    assert (code, err) == (2, "privacy-kit: /dev/full: No space left on device\n")


def test_a_full_standard_output_and_one_that_cannot_encode(
    capsys: pytest.CaptureFixture[str],
) -> None:
    class Full(io.StringIO):
        def write(self, text: str) -> int:
            raise OSError(errno.ENOSPC, "No space left on device")

    assert main(["render"], Full()) == 2
    assert capsys.readouterr().err == "privacy-kit: standard output: No space left on device\n"
    ascii_out = io.TextIOWrapper(io.BytesIO(), encoding="ascii")
    assert main(["render", "--lang", "ar"], ascii_out) == 2  # type: ignore[arg-type]
    err = capsys.readouterr().err
    assert err.startswith("privacy-kit: the output cannot be written as ascii: ")
    assert err.count("\n") == 1


def test_writing_keeps_permissions_and_follows_links(tmp_path: Path) -> None:
    if sys.platform == "win32":  # pragma: no cover
        pytest.skip("POSIX permissions and links")
    real = tmp_path / "real.md"
    real.write_text("old", encoding="utf-8")
    real.chmod(0o640)
    link = tmp_path / "link.md"
    link.symlink_to(real)
    assert main(["render", "-o", str(link)], io.StringIO()) == 0
    assert link.is_symlink()
    assert real.read_text(encoding="utf-8").startswith("# Appointlet privacy notice")
    assert real.stat().st_mode & 0o777 == 0o640


# -- fuzz: mutations of the example policy ----------------------------------------------------------

EXAMPLE_JSON = json.dumps(yaml.safe_load(EXAMPLE), default=str, indent=1, ensure_ascii=False)
_TOKENS = [
    "!!float x",
    "!!timestamp x",
    "2024-02-30",
    "9" * 4400,
    "[[[[",
    "&a",
    "*a",
    "<<: *a",
    '"\\ud800"',
    "- ",
    ": ",
    "{",
    "}",
    "\t",
    "null",
    "~",
    "!!binary x",
    "!!python/object:os.system x",
    "-1",
    "P99999999999Y",
    "\x00",
    "\ufeff",
]

_edit = st.one_of(
    st.tuples(st.just("byte"), st.floats(0, 1), st.binary(min_size=0, max_size=3)),
    st.tuples(st.just("delete_line"), st.floats(0, 1), st.just(b"")),
    st.tuples(st.just("duplicate_line"), st.floats(0, 1), st.just(b"")),
    st.tuples(
        st.just("token"),
        st.floats(0, 1),
        st.sampled_from(_TOKENS).map(lambda t: t.encode("utf-8")),
    ),
)


def _mutate(text: str, edits: list[tuple[str, float, bytes]]) -> bytes:
    """``text`` with each edit applied at a relative position (0 the start, 1 the end)."""
    raw = text.encode("utf-8")
    for kind, where, payload in edits:
        if kind in ("delete_line", "duplicate_line"):
            lines = raw.splitlines(keepends=True)
            at = min(int(where * len(lines)), len(lines) - 1)
            if kind == "delete_line":
                del lines[at]
            else:
                lines.insert(at, lines[at])
            raw = b"".join(lines)
        else:
            at = min(int(where * len(raw)), len(raw))
            raw = raw[:at] + payload + raw[at + (1 if kind == "byte" else 0) :]
    return raw


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(edits=st.lists(_edit, min_size=1, max_size=4), suffix=st.sampled_from([".yaml", ".json"]))
def test_fuzz_a_mutated_example_is_a_policy_or_a_policy_error(
    edits: list[tuple[str, float, bytes]], suffix: str
) -> None:
    raw = _mutate(EXAMPLE if suffix == ".yaml" else EXAMPLE_JSON, edits)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"policy{suffix}"
        path.write_bytes(raw)
        outcome: object
        try:
            outcome = pk.load_policy(path)
        except pk.PolicyError as err:
            outcome = err
        # never anything else (a bare ValueError, RecursionError, MemoryError ...)
        assert isinstance(outcome, pk.Policy | pk.PolicyError)
        if isinstance(outcome, pk.PolicyError):
            assert outcome.problems
            assert len(str(outcome)) < 60_000


@pytest.mark.parametrize("jurisdiction", ["gdpr", "ccpa", "lgpd"])
@pytest.mark.parametrize(
    "received",
    [
        "9999-12-30T00:00:00+00:00",
        "9999-12-31T23:59:59-05:00",
    ],
)
def test_a_request_received_near_the_year_9999_is_a_request_error_naming_the_date(
    jurisdiction: str, received: str
) -> None:
    """``DataSubjectRequest.receive`` itself refuses, naming the date; nothing is audited."""
    import datetime as dt

    from privacy_kit.rights import DataSubjectRequest

    log = pk.AuditLog.memory()
    at = dt.datetime.fromisoformat(received)
    with pytest.raises(pk.RequestError, match="deadline falls after the year 9999") as info:
        DataSubjectRequest.receive(
            "access",
            "customer",
            {"email": "j@example.com"},
            jurisdiction=jurisdiction,
            received_at=at,
            audit=log,
        )
    assert f"received at {at.isoformat()}" in str(info.value)
    assert not isinstance(info.value.__cause__, pk.PrivacyKitError)  # the date arithmetic's
    assert list(log.entries()) == []
    # a year earlier, the same request is received and its deadline audited
    earlier = at.replace(year=9998)
    request = DataSubjectRequest.receive(
        "access",
        "customer",
        {"email": "j@example.com"},
        jurisdiction=jurisdiction,
        received_at=earlier,
        audit=log,
    )
    assert request.due_at > earlier
    assert [e.action for e in log.entries()] == ["request.received"]


def _nested(levels: int) -> Any:
    value: Any = "leaf"
    for i in range(levels):
        value = {"k": value} if i % 2 else [value]
    return value


@pytest.mark.parametrize(
    ("data", "where"),
    [
        (_nested(_reading.MAX_DEPTH + 1), "[0].k" * 32),
        ({"a": ("x", {"b": "ok\udc80"})}, "a[1].b"),
        ({"a": [{"b\ud800": 1}]}, "a[0]"),
        ({"a": list(range(_reading.MAX_VALUES + 1))}, "a["),
    ],
)
def test_data_problems_finds_each_problem_past_its_quick_check(data: Any, where: str) -> None:
    """A sound document is checked without building each value's path; one with a problem is
    still walked with them, and each problem located (deep, surrogate text or key, too many)."""
    assert _reading.data_problems(_nested(_reading.MAX_DEPTH - 1)) == []
    assert _reading.data_problems({"a": ("x", {"b": "ok \u00e9"})}) == []
    problems = _reading.data_problems(data)
    assert len(problems) == 1
    assert problems[0].location.startswith(where)
