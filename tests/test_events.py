"""The `events` connector (DESIGN section 3): CSV and JSON Lines read into canonical rows plus rejects."""

from __future__ import annotations

import hashlib
import json
from datetime import date

import pandas as pd
import pyarrow as pa
import pytest
from click.testing import CliRunner

from roi.config import SourceConfig
from roi.connectors import Window, registry
from roi.errors import ConnectorError
from tests.conftest import FIXTURES

HEADER = "event_id,ts,tenant,channel,provider,model,input_tokens,output_tokens,cached_input_tokens,cost_usd,outcome,human_review_minutes"
GOOD = "e{n},2026-01-10T10:00:00Z,acme,web,openai,gpt-4o-mini,100,20,0,,resolved,"


def connector(project, path: str, **options):
    source = SourceConfig(name="bot", type="events", path=path, **options)
    return registry.create(source, project.root)


def read_all(project, path: str, **options):
    """Every batch of the source read fully: (frames concatenated per file, rejects, rows read)."""
    found = {}
    for batch in connector(project, path, **options).batches(Window()):
        frames, rejects, read = [], [], 0
        for chunk in batch.read():
            frames.append(chunk.frame)
            rejects.extend(chunk.rejects)
            read += chunk.rows_read
        found[batch.label] = (frames, rejects, read)
    return found


def as_pandas(frame) -> pd.DataFrame:
    """A chunk's canonical frame (Arrow or pandas) as pandas, to read in assertions."""
    return frame.to_pandas() if isinstance(frame, pa.Table) else frame


def only(found):
    (value,) = found.values()
    frames, rejects, read = value
    return pd.concat([as_pandas(f) for f in frames], ignore_index=True) if frames else None, rejects, read


def reasons(rejects):
    return [(reject.line, reject.reason) for reject in rejects]


# ------------------------------------------------------------------ CSV


def test_csv_good_rows(project):
    path = project.write_data(
        "a.csv",
        HEADER + "\n"
        "e1,2026-01-10T10:00:00Z,acme,web,openai,gpt-4o-mini,1000,200,100,0.25,resolved,1.5\n"
        "e2,2026-01-10T11:00:00+02:00,beta,,anthropic,claude,5,6,0,,,\n",
    )
    frame, rejects, read = only(read_all(project, str(path)))
    assert rejects == [] and read == 2
    assert list(frame["event_id"]) == ["e1", "e2"]
    assert list(frame["ts"].astype(str)) == ["2026-01-10 10:00:00+00:00", "2026-01-10 09:00:00+00:00"]
    assert list(frame["channel"]) == ["web", ""]
    assert list(frame["input_tokens"]) == [1000, 5]
    assert list(frame["cached_input_tokens"]) == [100, 0]
    assert frame["cost"].iloc[0] == 0.25 and frame["cost"].isna().iloc[1]
    assert list(frame["resolved"]) == [1, 0]
    assert list(frame["requests"]) == [1, 1]
    assert list(frame["human_review_minutes"]) == [1.5, 0.0]


BAD_ROWS = [
    ("e2,not-a-date,acme,web,openai,gpt-4o-mini,1,1,0,,resolved,", "ts is not an ISO 8601 timestamp (got 'not-a-date')"),
    ("e3,2026-01-10T10:00:00,acme,web,openai,gpt-4o-mini,1,1,0,,resolved,",
     "ts has no UTC offset (write Z or +HH:MM) (got '2026-01-10T10:00:00')"),
    ("e4,2026-01-10T10:00:00Z,acme,web,openai,gpt-4o-mini,-5,1,0,,resolved,",
     "input_tokens is not a whole number >= 0 (got '-5')"),
    ("e5,2026-01-10T10:00:00Z,acme,web,openai,gpt-4o-mini,1,lots,0,,resolved,",
     "output_tokens is not a whole number >= 0 (got 'lots')"),
    ("e6,2026-01-10T10:00:00Z,acme,web,openai,gpt-4o-mini,1,1,0,,solved,",
     "outcome is not one of resolved, escalated, abandoned, reopened (got 'solved')"),
    (",2026-01-10T10:00:00Z,acme,web,openai,gpt-4o-mini,1,1,0,,resolved,", "event_id is missing"),
    ("e8,2026-01-10T10:00:00Z,acme,web", "expected 12 columns, found 4"),
    ("e9,2026-01-10T10:00:00Z,acme,web,openai,gpt-4o-mini,1,1,0,-0.5,,", "cost_usd is not a number >= 0 (got '-0.5')"),
    ("e10,2026-01-10T10:00:00Z,acme,web,openai,gpt-4o-mini,1,1,0,,,-2",
     "human_review_minutes is not a number >= 0 (got '-2')"),
    ("e11,2026-01-10T10:00:00Z,acme,web,openai,gpt-4o-mini,1,1,5,,,",
     "cached_input_tokens exceeds input_tokens (input_tokens includes the cached ones)"),
    ("e12,,acme,web,openai,gpt-4o-mini,1,1,0,,,", "ts is missing"),
    ("e13,2026-01-10T10:00:00Z,acme,web,openai,gpt-4o-mini,1.5,1,0,,,",
     "input_tokens is not a whole number >= 0 (got '1.5')"),
    # 19 digits that int64 still holds: Arrow's integer parser takes them, the 18-digit rule does not
    # (a few such rows would overflow a cell's sum)
    ("e14,2026-01-10T10:00:00Z,acme,web,openai,gpt-4o-mini,9223372036854775807,1,0,,,",
     "input_tokens is not a whole number >= 0 (got '9223372036854775807')"),
    # finite, but two of them sum to infinity (and a report of it crashed): amounts stop below 10^12
    ("e15,2026-01-10T10:00:00Z,acme,web,openai,gpt-4o-mini,1,1,0,1e308,,",
     "cost_usd is too large (accepted: below 10^12) (got '1e308')"),
    ("e16,2026-01-10T10:00:00Z,acme,web,openai,gpt-4o-mini,1,1,0,,,1000000000000",
     "human_review_minutes is too large (accepted: below 10^12) (got '1000000000000')"),
    # an offset written wrongly is no missing offset
    ("e3b,2026-01-10T10:00:00+1:00,acme,web,openai,gpt-4o-mini,1,1,0,,resolved,",
     "ts is not an ISO 8601 timestamp (got '2026-01-10T10:00:00+1:00')"),
    ("e3c,2026-01-10T10:00:00+01:00Z,acme,web,openai,gpt-4o-mini,1,1,0,,resolved,",
     "ts is not an ISO 8601 timestamp (got '2026-01-10T10:00:00+01:00Z')"),
    ("e3d,2026-01-10T10:00:00+05:30:15,acme,web,openai,gpt-4o-mini,1,1,0,,resolved,",
     "ts is not an ISO 8601 timestamp (got '2026-01-10T10:00:00+05:30:15')"),
]


def test_csv_each_bad_row_kind_is_quarantined_with_line_and_reason(project):
    lines = [HEADER, GOOD.format(n=1)] + [row for row, _ in BAD_ROWS] + [GOOD.format(n=99)]
    path = project.write_data("a.csv", "\n".join(lines) + "\n")
    frame, rejects, read = only(read_all(project, str(path)))
    assert read == len(lines) - 1
    assert list(frame["event_id"]) == ["e1", "e99"]
    # the header is line 1, the first good row line 2, the bad rows lines 3..
    assert reasons(rejects) == [(index + 3, reason) for index, (_, reason) in enumerate(BAD_ROWS)]
    assert {reject.file for reject in rejects} == {str(path)}
    assert rejects[0].raw.startswith("e2,not-a-date,acme")
    assert rejects[6].raw == "e8,2026-01-10T10:00:00Z,acme,web"


def test_a_row_with_several_problems_lists_them_all(project):
    path = project.write_data("a.csv", HEADER + "\n,nope,acme,web,,,x,1,0,,maybe,\n")
    _, rejects, _ = only(read_all(project, str(path)))
    assert reasons(rejects) == [(2, "event_id is missing; ts is not an ISO 8601 timestamp (got 'nope'); "
                                   "input_tokens is not a whole number >= 0 (got 'x'); "
                                   "outcome is not one of resolved, escalated, abandoned, reopened (got 'maybe')")]


def test_blank_lines_are_skipped_and_lines_still_count(project):
    path = project.write_data(
        "a.csv",
        HEADER + "\n" + GOOD.format(n=1) + "\n\n\n" + BAD_ROWS[0][0] + "\n\n",
    )
    frame, rejects, read = only(read_all(project, str(path)))
    assert list(frame["event_id"]) == ["e1"]
    assert reasons(rejects) == [(5, BAD_ROWS[0][1])]
    assert read == 2


@pytest.mark.parametrize("careful", [False, True])
def test_a_line_of_spaces_is_a_blank_line_too(project, careful):
    """As in JSON Lines: skipped, not counted, not "expected 12 columns, found 1" (with a quote over lines
    elsewhere in the file too, which sends it to the careful reader)."""
    quoted = '"q\n1",2026-01-10T10:00:00Z,acme,web,openai,gpt-4o-mini,100,20,0,,resolved,\n' if careful else ""
    path = project.root / "data" / "a.csv"  # (written as it is: write_data's dedent would empty the lines of spaces)
    path.write_text(HEADER + "\n" + GOOD.format(n=1) + "\n   \n\t\n" + quoted + BAD_ROWS[0][0] + "\n \n")
    frame, rejects, read = only(read_all(project, str(path)))
    assert list(frame["event_id"]) == (["e1", "q\n1"] if careful else ["e1"])
    assert reasons(rejects) == [(7 if careful else 5, BAD_ROWS[0][1])]
    assert read == (3 if careful else 2)


def test_line_numbers_after_a_quoted_newline(project):
    path = project.write_data(
        "a.csv",
        HEADER + '\n"e1",2026-01-10T10:00:00Z,"acme\ncorp",web,,,1,1,0,,,\n' + BAD_ROWS[0][0] + "\n",
    )
    frame, rejects, _ = only(read_all(project, str(path)))
    assert list(frame["tenant"]) == ["acme\ncorp"]
    assert reasons(rejects) == [(4, BAD_ROWS[0][1])]


def test_a_count_too_large_is_quarantined(project):
    path = project.write_data(
        "a.csv",
        HEADER + "\n" + GOOD.format(n=1) + "\n"
        "e2,2026-01-10T10:00:00Z,acme,web,openai,gpt-4o-mini,99999999999999999999,1,0,,,\n",
    )
    frame, rejects, _ = only(read_all(project, str(path)))
    assert list(frame["event_id"]) == ["e1"]
    assert [reject.line for reject in rejects] == [3]


@pytest.mark.parametrize("name", ["a.csv", "a.jsonl"])
def test_a_date_without_offset_is_quarantined(project, name):
    if name.endswith(".csv"):
        text = "event_id,ts,outcome\ne1,2026-01-10,resolved\n"
    else:
        text = json.dumps({"event_id": "e1", "ts": "2026-01-10", "outcome": "resolved"}) + "\n"
    path = project.write_data(name, text)
    frame, rejects, _ = only(read_all(project, str(path)))
    assert len(frame) == 0
    assert reasons(rejects) == [(2 if name.endswith(".csv") else 1, "ts has no UTC offset (write Z or +HH:MM) (got '2026-01-10')")]


def test_header_in_any_order_with_extra_columns_and_bom(project):
    path = project.root / "data" / "a.csv"
    path.write_bytes(
        "\ufeffnote,outcome,ts,event_id,tenant\r\n"
        "hello,resolved,2026-01-10T10:00:00Z,e1,acme\r\n"
        "bye,escalated,2026-01-10T10:00:00Z,e2,beta\r\n".encode()
    )
    frame, rejects, read = only(read_all(project, str(path)))
    assert rejects == [] and read == 2
    assert list(frame["tenant"]) == ["acme", "beta"]
    assert list(frame["resolved"]) == [1, 0] and list(frame["escalated"]) == [0, 1]
    # outcome-only rows are not requests
    assert list(frame["requests"]) == [0, 0]


def test_spaces_around_header_names(project):
    path = project.write_data("a.csv", "event_id, ts , outcome\ne1,2026-01-10T10:00:00Z,resolved\n")
    frame, rejects, _ = only(read_all(project, str(path)))
    assert list(frame["event_id"]) == ["e1"] and list(frame["resolved"]) == [1]


def test_missing_header_column_cannot_be_read(project):
    path = project.write_data("a.csv", "id,ts,tenant\ne1,2026-01-10T10:00:00Z,acme\n")
    with pytest.raises(ConnectorError) as caught:
        only(read_all(project, str(path)))
    assert str(caught.value) == f"{path}: line 1: the header lacks event_id (found: 'id,ts,tenant')"


def test_no_matching_file(project):
    with pytest.raises(ConnectorError) as caught:
        read_all(project, "data/none-*.csv")
    assert str(caught.value) == f"source 'bot': no file matches path '{project.root / 'data' / 'none-*.csv'}'"


def test_quoted_fields_and_spaces(project):
    path = project.write_data(
        "a.csv",
        HEADER + '\n"e1", 2026-01-10T10:00:00Z ,"Acme, Inc.", web ,openai,gpt-4o-mini, 7 ,1,0, 0.5 ,Resolved,\n',
    )
    frame, rejects, _ = only(read_all(project, str(path)))
    assert rejects == []
    assert list(frame["tenant"]) == ["Acme, Inc."]
    assert list(frame["channel"]) == ["web"]
    assert list(frame["input_tokens"]) == [7]
    assert list(frame["cost"]) == [0.5]
    assert list(frame["resolved"]) == [1]


def test_line_numbers_across_csv_blocks(project):
    # a file bigger than one read block (16 MiB) so rows arrive in several chunks
    pad = "x" * 230
    lines = ["note," + HEADER]
    bad = {30_000: "e,2026-01-10T10:00:00Z", 70_000: None, 95_000: None}
    for number in range(2, 100_002):
        if number == 30_000:
            lines.append(f"{pad},e{number},2026-01-10T10:00:00Z")
        elif number in bad:
            lines.append(f"{pad},e{number},2026-01-10T10:00:00Z,a,b,c,d,-1,1,0,,,")
        else:
            lines.append(f"{pad},e{number},2026-01-10T10:00:00Z,a,b,c,d,1,1,0,,,")
    path = project.write_data("big.csv", "\n".join(lines) + "\n")
    assert path.stat().st_size > 20 << 20
    (batch,) = connector(project, str(path), chunk_rows=1000).batches(Window())
    chunks = list(batch.read())
    assert len(chunks) >= 2
    rejects = [reject for chunk in chunks for reject in chunk.rejects]
    assert [(reject.line, reject.reason) for reject in rejects] == [
        (30_000, "expected 13 columns, found 3"),
        (70_000, "input_tokens is not a whole number >= 0 (got '-1')"),
        (95_000, "input_tokens is not a whole number >= 0 (got '-1')"),
    ]
    assert sum(chunk.rows_read for chunk in chunks) == 100_000
    assert sum(len(chunk.frame) for chunk in chunks) == 100_000 - 3
    for reject in rejects:  # each as written, the column roi does not read too (its first 2,000 characters)
        assert reject.raw == lines[reject.line - 1][:2000]


# ------------------------------------------------------------------ JSON Lines


def test_jsonl_rows_and_bad_lines(project):
    records = [
        {"event_id": "j1", "ts": "2026-01-10T10:00:00+01:00", "tenant": "beta", "input_tokens": 10,
         "output_tokens": 5, "cost_usd": 0.1, "outcome": "resolved", "human_review_minutes": 2},
        "{not json",
        [1, 2],
        {"event_id": "j2", "ts": "2026-01-10T10:00:00Z", "input_tokens": -1},
        {"event_id": "j3", "ts": "2026-01-10T10:00:00Z", "input_tokens": 1.5},
        "",
        {"event_id": "j4", "ts": "2026-01-10T10:00:00Z", "outcome": "abandoned"},
        {"ts": "2026-01-10T10:00:00Z", "outcome": "abandoned"},
        {"event_id": 17, "ts": "2026-01-10T10:00:00Z", "tenant": "t", "input_tokens": 3.0, "cost_usd": None},
        {"event_id": "j5", "ts": "2026-01-10T10:00:00Z", "input_tokens": True},
        {"event_id": "j6", "ts": "2026-01-10T10:00:00", "outcome": "resolved"},
    ]
    text = "\n".join(item if isinstance(item, str) else json.dumps(item) for item in records) + "\n"
    path = project.write_data("a.jsonl", text)
    frame, rejects, read = only(read_all(project, str(path)))
    assert read == 10  # the blank line is not a row
    assert list(frame["event_id"]) == ["j1", "j4", "17"]
    assert list(frame["requests"]) == [1, 0, 1]
    assert list(frame["input_tokens"]) == [10, 0, 3]
    assert list(frame["human_review_minutes"]) == [2.0, 0.0, 0.0]
    assert list(frame["ts"].astype(str))[0] == "2026-01-10 09:00:00+00:00"
    found = reasons(rejects)
    assert found[0] == (2, "not a JSON object: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)")
    assert found[1] == (3, "not a JSON object")
    assert found[2:] == [
        (4, "input_tokens is not a whole number >= 0 (got '-1')"),
        (5, "input_tokens is not a whole number >= 0 (got '1.5')"),
        (8, "event_id is missing"),
        (10, "input_tokens is not a whole number >= 0 (got 'true')"),
        (11, "ts has no UTC offset (write Z or +HH:MM) (got '2026-01-10T10:00:00')"),
    ]
    assert {reject.file for reject in rejects} == {str(path)}


def test_jsonl_chunks_keep_line_numbers(project):
    lines = []
    for number in range(1, 2_501):
        count = -1 if number in (1_500, 2_400) else 1
        lines.append(json.dumps({"event_id": f"j{number}", "ts": "2026-01-10T10:00:00Z", "input_tokens": count}))
    path = project.write_data("a.jsonl", "\n".join(lines) + "\n")
    (batch,) = connector(project, str(path), chunk_rows=1000).batches(Window())
    chunks = list(batch.read())
    assert [chunk.rows_read for chunk in chunks] == [1000, 1000, 500]
    assert [reject.line for chunk in chunks for reject in chunk.rejects] == [1_500, 2_400]
    assert sum(len(chunk.frame) for chunk in chunks) == 2_498


def test_format_option_overrides_the_suffix(project):
    path = project.write_data("events.log", json.dumps({"event_id": "j1", "ts": "2026-01-10T10:00:00Z"}) + "\n")
    frame, rejects, _ = only(read_all(project, str(path), format="jsonl"))
    assert list(frame["event_id"]) == ["j1"] and rejects == []


def test_options_are_checked(project):
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        connector(project, "data/*.csv", chunk_rows=10)
    with pytest.raises(ValidationError):
        connector(project, "data/*.csv", format="xml")


# ------------------------------------------------------------------ globs and batches


def test_glob_over_several_files_one_batch_each(project):
    (project.root / "data" / "jan").mkdir()
    project.write_data("jan/a.csv", HEADER + "\n" + GOOD.format(n=1) + "\n")
    project.write_data("jan/b.csv", HEADER + "\n" + GOOD.format(n=2) + "\n" + GOOD.format(n=3) + "\n")
    project.write_data("jan/c.jsonl", json.dumps({"event_id": "j1", "ts": "2026-01-10T10:00:00Z"}) + "\n")
    project.write_data("jan/ignored.txt", "nothing")
    csv_only = read_all(project, "data/**/*.csv")
    assert sorted(label.rsplit("/", 1)[-1] for label in csv_only) == ["a.csv", "b.csv"]
    assert sorted(read for _, _, read in csv_only.values()) == [1, 2]
    both = read_all(project, "data/jan/*.*sv*")
    assert len(both) == 2
    every = read_all(project, "data/jan/[abc].*")
    assert len(every) == 3


def test_batch_keys_and_fingerprints(project):
    first = project.write_data("a.csv", HEADER + "\n" + GOOD.format(n=1) + "\n")
    project.write_data("b.csv", HEADER + "\n" + GOOD.format(n=1) + "\n")
    batches = list(connector(project, "data/*.csv").batches(Window()))
    # keys are relative to the config's folder, so the project can move
    assert [batch.key for batch in batches] == ["file:data/a.csv", "file:data/b.csv"]
    # same content, same fingerprint; different content, a different one
    before = batches[0].content_fingerprint()
    assert before == batches[1].content_fingerprint()
    first.write_text(HEADER + "\n" + GOOD.format(n=2) + "\n")
    again = list(connector(project, "data/*.csv").batches(Window()))
    assert again[0].content_fingerprint() != before


def test_a_file_outside_the_project_keeps_its_absolute_key(project, tmp_path_factory):
    outside = tmp_path_factory.mktemp("elsewhere") / "x.csv"
    outside.write_text(HEADER + "\n" + GOOD.format(n=1) + "\n")
    (batch,) = connector(project, str(outside)).batches(Window())
    assert batch.key == f"file:{outside.resolve().as_posix()}"


def test_moving_the_project_folder_counts_nothing_twice(project, runner, tmp_path_factory):
    import shutil

    from roi.cli import main

    project.write_data("a.csv", HEADER + "\n" + GOOD.format(n=1) + "\n")
    text = project.config_path.read_text()
    # a database outside the project, as a deployment that mounts the project elsewhere has
    database = tmp_path_factory.mktemp("db") / "roi.db"
    project.write_config(body=text.replace(project.database_url, f"sqlite:///{database}"))
    assert runner.invoke(main, ["--config", str(project.config_path), "ingest"]).exit_code == 0
    moved = tmp_path_factory.mktemp("moved") / "project"
    shutil.copytree(project.root, moved)
    result = runner.invoke(main, ["--config", str(moved / "roi.toml"), "ingest"])
    assert result.exit_code == 0, result.output
    report = runner.invoke(main, ["--config", str(moved / "roi.toml"), "report", "--period", "2026-01"])
    assert '"requests": 1,' in report.output.split('"totals"')[1]


# ------------------------------------------------------------------ a file renamed or moved


def _ingest(project, *args):
    from roi.cli import main

    result = CliRunner().invoke(main, ["--config", str(project.config_path), "ingest", *args])
    assert result.exit_code == 0, result.output
    return result


def _requests(project) -> int:
    from roi.cli import main

    report = CliRunner().invoke(main, ["--config", str(project.config_path), "report", "--period", "2026-01"])
    assert report.exit_code == 0, report.output
    return json.loads(report.output)["totals"]["requests"]


def _stored(project):
    """(batch key, label, fingerprint) of each stored batch, and (file, line) of each quarantined row."""
    from roi.services import store_for

    store = store_for(project.settings())
    try:
        batches = [(batch.batch_key, batch.label, batch.fingerprint) for batch in store.batches()]
        with store.engine.connect() as connection:
            quarantined = sorted(tuple(row) for row in connection.exec_driver_sql(
                "SELECT file, line FROM roi_quarantine"))
    finally:
        store.engine.dispose()
    return batches, quarantined


def _rows(*numbers: int) -> str:
    return HEADER + "\n" + "".join(GOOD.format(n=n) + "\n" for n in numbers)


@pytest.mark.parametrize("where", ["b.csv", "archive/2026/a.csv"])
def test_a_file_renamed_or_moved_keeps_its_batch_and_counts_once(any_project, where):
    any_project.write_config(body=(FIXTURES / "base/roi.toml").read_text().replace("data/*.csv", "data/**/*.csv")
                             .format(database_url=any_project.database_url, timezone="UTC"))
    first = any_project.write_data("a.csv", _rows(1, 2) + "e3,yesterday,acme\n")
    _ingest(any_project)
    assert _requests(any_project) == 2
    target = any_project.root / "data" / where
    target.parent.mkdir(parents=True, exist_ok=True)
    first.rename(target)
    result = _ingest(any_project)
    assert f"{first} -> {target}: a file renamed or moved keeps its stored batch" in result.output
    assert _requests(any_project) == 2
    (batch,), quarantined = _stored(any_project)
    assert batch[:2] == (f"file:data/{where}", str(target))
    assert quarantined == [(str(target), 4)]  # its quarantined row names the file where it is now
    again = _ingest(any_project)  # and the batch is the new name's from now on: unchanged
    assert "renamed" not in again.output
    assert again.output.splitlines()[1].split()[1:3] == ["1", "1"]  # files, unchanged
    target.write_text(_rows(1, 2, 4))  # the file grows under its new name: replaced, not added
    _ingest(any_project)
    assert _requests(any_project) == 3


@pytest.mark.parametrize("archive", ["0-archive.csv", "z-archive.csv"])  # read before a.csv, after it
def test_log_rotation_stores_each_file_once_whichever_name_is_read_first(project, archive):
    """a.csv becomes an archive and a new a.csv starts: both are stored, each once."""
    first = project.write_data("a.csv", _rows(1, 2))
    _ingest(project)
    first.rename(project.root / "data" / archive)
    first.write_text(_rows(3, 4, 5))
    _ingest(project)
    assert _requests(project) == 5
    batches, _ = _stored(project)
    assert sorted(key for key, _label, _fp in batches) == sorted(["file:data/a.csv", f"file:data/{archive}"])


def test_a_copy_beside_its_original_is_a_file_of_its_own(project):
    """Two listed files with the same content are two batches (event ids are deduplicated within a
    batch, as the design says): only a file no longer listed hands its batch on."""
    project.write_data("a.csv", _rows(1, 2))
    _ingest(project)
    project.write_data("b.csv", _rows(1, 2))
    result = _ingest(project)
    assert "renamed" not in result.output
    assert _requests(project) == 4


def test_a_renamed_file_under_a_reshaped_config_is_read_again_under_its_new_name(project):
    first = project.write_data("a.csv", _rows(1, 2).replace("T10:00:00Z", "T02:00:00Z"))
    _ingest(project)
    first.rename(project.root / "data" / "b.csv")
    project.write_config(timezone="America/New_York")  # its cells' days change: 9 January, not 10
    result = _ingest(project)
    assert "a file renamed or moved keeps its stored batch" in result.output
    (batch,), _ = _stored(project)
    assert batch[0] == "file:data/b.csv"
    from roi.services import store_for

    store = store_for(project.settings())
    try:
        assert store.days_with_data() == [date(2026, 1, 9)]
    finally:
        store.engine.dispose()


def test_a_rename_with_force_is_read_again_and_counts_once(project):
    first = project.write_data("a.csv", _rows(1, 2))
    _ingest(project)
    first.rename(project.root / "data" / "b.csv")
    _ingest(project, "--force")
    assert _requests(project) == 2
    assert [key for key, _label, _fp in _stored(project)[0]] == ["file:data/b.csv"]


def test_a_batch_stored_before_fingerprints_kept_content_is_upgraded_then_follows_a_rename(project):
    import sqlite3

    first = project.write_data("a.csv", _rows(1, 2))
    _ingest(project)
    with sqlite3.connect(project.root / "roi.db") as connection:  # as an earlier version stored it
        connection.execute("UPDATE roi_batches SET fingerprint = substr(fingerprint, 1, 32)")
    result = _ingest(project)
    assert result.output.splitlines()[1].split()[1:3] == ["1", "1"]  # unchanged: not read again
    ((_key, _label, fingerprint),), _ = _stored(project)
    content = first.read_bytes()
    digest = hashlib.sha256(content).hexdigest()
    assert fingerprint.endswith(f"/{digest}:{len(content)}:{digest[:16]}")  # (under 64 KiB: its start is all of it)
    first.rename(project.root / "data" / "b.csv")
    _ingest(project)
    assert _requests(project) == 2


def _read_and_unchanged(result) -> list[str]:
    """The ingest summary's (files, unchanged) for the one source."""
    (row,) = [line.split() for line in result.output.splitlines() if line.split()[:1] == ["bot"]]
    return row[1:3]


def test_a_rename_onto_a_stored_name_moves_its_batch_and_keeps_the_one_it_replaced(project):
    """mv a.csv b.csv where b.csv was stored: a's batch is b's now, and b's old rows, gone from every
    file, stay counted as a file removed for good does."""
    first = project.write_data("a.csv", _rows(1, 2))
    second = project.write_data("b.csv", _rows(3, 4, 5))
    _ingest(project)
    first.rename(second)
    result = _ingest(project)
    assert f"{first} -> {second}: a file renamed or moved keeps its stored batch" in result.output
    assert _read_and_unchanged(result) == ["1", "1"]  # nothing read again
    assert _requests(project) == 5
    moved, removed = sorted(key for key, _label, _fp in _stored(project)[0])
    assert moved == "file:data/b.csv" and removed.startswith("removed:") and removed.endswith(":file:data/b.csv")


@pytest.mark.parametrize("days", [3, 5])
def test_a_bounded_rotation_keeps_the_file_it_removes_and_reads_only_the_new_one(project, days):
    """logrotate's `rotate 2`, once a day: app.csv.2 removed, .1 -> .2, app.csv -> .1, a new app.csv."""
    project.write_config(body=(FIXTURES / "base/roi.toml").read_text().replace("data/*.csv", "data/app.csv*")
                         .format(database_url=project.database_url, timezone="UTC"))
    data = project.root / "data"
    for day in range(days):
        (data / "app.csv.2").unlink(missing_ok=True)
        for old, new in (("app.csv.1", "app.csv.2"), ("app.csv", "app.csv.1")):
            if (data / old).exists():
                (data / old).rename(data / new)
        project.write_data("app.csv", _rows(*(10 * day + n for n in (1, 2, 3))))
        result = _ingest(project)
        assert _read_and_unchanged(result) == [str(min(day + 1, 3)), str(min(day, 2))]  # only app.csv is read
        assert _requests(project) == 3 * (day + 1)


def test_a_rotation_down_a_chain_of_names_reads_only_the_new_file(project):
    """app.csv.1 becomes app.csv.2, app.csv becomes app.csv.1, a new app.csv starts: each of the
    stored batches follows its content, and only the new file is read."""
    project.write_config(body=(FIXTURES / "base/roi.toml").read_text().replace("data/*.csv", "data/app.csv*")
                         .format(database_url=project.database_url, timezone="UTC"))
    data = project.root / "data"
    project.write_data("app.csv.1", _rows(1, 2))
    project.write_data("app.csv", _rows(3, 4, 5))
    _ingest(project)
    (data / "app.csv.1").rename(data / "app.csv.2")
    (data / "app.csv").rename(data / "app.csv.1")
    project.write_data("app.csv", _rows(6))
    result = _ingest(project)
    assert f"{data / 'app.csv.1'} -> {data / 'app.csv.2'}" in result.output
    assert f"{data / 'app.csv'} -> {data / 'app.csv.1'}" in result.output
    assert _read_and_unchanged(result) == ["3", "2"]
    assert _requests(project) == 6
    labels = {key: label for key, label, _fp in _stored(project)[0]}
    assert labels == {f"file:data/{name}": str(data / name) for name in ("app.csv", "app.csv.1", "app.csv.2")}


def test_two_files_that_swapped_names_still_count_once(project):
    first = project.write_data("a.csv", _rows(1, 2))
    second = project.write_data("b.csv", _rows(3, 4, 5))
    _ingest(project)
    first.rename(project.root / "swap")
    second.rename(first)
    (project.root / "swap").rename(second)
    _ingest(project)
    assert _requests(project) == 5


def test_a_copy_seen_half_written_takes_its_original_batch_once_complete(project):
    """A move to another filesystem is a copy, then a delete: an ingest between the two sees the
    original and part of its copy. Once the original is gone, the complete copy is the original's
    batch and the part stored before goes: the rows count once."""
    first = project.write_data("a.csv", _rows(1, 2, 3))
    _ingest(project)
    copy = project.write_data("b.csv", _rows(1, 2))  # half written
    _ingest(project)
    assert _requests(project) == 5  # a.csv's 3 and the half copy's 2: both files were there
    copy.write_bytes(first.read_bytes())
    first.unlink()
    result = _ingest(project)
    assert f"{first} -> {copy}" in result.output
    assert _requests(project) == 3
    assert [key for key, _label, _fp in _stored(project)[0]] == ["file:data/b.csv"]


def test_a_rename_that_changes_how_a_file_is_read_reads_it_again(project):
    """events.jsonl renamed events.csv is read as CSV from then on (format = "auto" goes by the
    name): its batch follows it, but is not taken as unchanged. Here the read fails (JSON lines
    are no CSV header), so it says so, and the batch stays as it was, under the new name."""
    from roi.cli import main

    project.write_config(body=(FIXTURES / "base/roi.toml").read_text().replace("data/*.csv", "data/events.*")
                         .format(database_url=project.database_url, timezone="UTC"))
    lines = [dict(zip(HEADER.split(","), GOOD.format(n=n).split(","), strict=True)) for n in (1, 2)]
    first = project.write_data("events.jsonl", "".join(json.dumps({**line, "cost_usd": None,
                                                                   "human_review_minutes": None}) + "\n"
                                                       for line in lines))
    _ingest(project)
    assert _requests(project) == 2
    first.rename(project.root / "data" / "events.csv")
    result = CliRunner().invoke(main, ["--config", str(project.config_path), "ingest"])
    assert result.exit_code == 1
    assert "a file renamed or moved keeps its stored batch" in result.output
    assert "events.csv: line 1: the header lacks event_id, ts" in result.output
    assert _requests(project) == 2
    assert [key for key, _label, _fp in _stored(project)[0]] == ["file:data/events.csv"]


@pytest.mark.parametrize("rows", [2, 1500])  # under and over the 64 KiB whose hash is a first look
def test_a_file_appended_to_then_archived_takes_its_batch_and_is_read_again(project, rows):
    """The last rows of a day's log arrive after the last ingest, then the log is archived: its
    batch, whose content is the archive's start, follows it, and the whole archive is read. Other
    removed files (of the same length, another start) are not taken for it."""
    project.write_config(body=(FIXTURES / "base/roi.toml").read_text().replace("data/*.csv", "data/**/*.csv")
                         .format(database_url=project.database_url, timezone="UTC"))
    other = project.write_data("other.csv", _rows(*range(1001, 1001 + rows)))
    first = project.write_data("app.csv", _rows(*range(1, rows + 1)))
    _ingest(project)
    other.unlink()
    with first.open("a") as handle:
        handle.write(GOOD.format(n=99_999) + "\n")
    (project.root / "data" / "archive").mkdir()
    first.rename(project.root / "data" / "archive" / "2026-01-10.csv")
    result = _ingest(project)
    assert f"{first} -> {project.root / 'data' / 'archive' / '2026-01-10.csv'}" in result.output
    assert _read_and_unchanged(result) == ["1", "0"]
    assert _requests(project) == 2 * rows + 1


def test_a_rotation_while_an_ingest_reads_is_set_right_by_the_next(project, monkeypatch):
    """Files are hashed before they are read: one renamed over in between is not what was hashed,
    so its batch is marked unsettled, and the next ingest matches and reads what is there."""
    from roi.services import batches

    project.write_config(body=(FIXTURES / "base/roi.toml").read_text().replace("data/*.csv", "data/app.csv*")
                         .format(database_url=project.database_url, timezone="UTC"))
    data = project.root / "data"

    def rotate(*numbers):
        for old, new in (("app.csv.1", "app.csv.2"), ("app.csv", "app.csv.1")):
            if (data / old).exists():
                (data / old).replace(data / new)
        project.write_data("app.csv", _rows(*numbers))

    project.write_data("app.csv", _rows(1))
    _ingest(project)
    rotate(2, 3)
    planned = batches.follow_moves

    def then_rotated(*args):
        moved = planned(*args)
        rotate(4, 5, 6, 7)
        return moved

    monkeypatch.setattr(batches, "follow_moves", then_rotated)
    _ingest(project)
    monkeypatch.setattr(batches, "follow_moves", planned)
    _ingest(project)
    assert _requests(project) == 7
    assert _read_and_unchanged(_ingest(project)) == ["3", "3"]


def test_of_two_batches_with_the_same_content_a_gone_file_s_is_handed_on_first(project):
    """b.csv and its copy a.csv; then a.csv is renamed c.csv and b.csv rewritten: c.csv takes a's
    batch (its file is gone), not b's (its file is still there, with other content)."""
    project.write_data("b.csv", _rows(1, 2))
    _ingest(project)
    project.write_data("a.csv", _rows(1, 2))
    _ingest(project)
    (project.root / "data" / "a.csv").rename(project.root / "data" / "c.csv")
    project.write_data("b.csv", _rows(7))
    result = _ingest(project)
    assert f"{project.root / 'data' / 'a.csv'} -> {project.root / 'data' / 'c.csv'}" in result.output
    assert _requests(project) == 3


def test_a_batch_stored_before_fingerprints_kept_content_is_never_handed_on_nor_replaced_by_a_move(project):
    import sqlite3

    project.write_data("a.csv", _rows(1, 2))
    copy = project.write_data("b.csv", _rows(1, 2))
    _ingest(project)
    with sqlite3.connect(project.root / "roi.db") as connection:  # a.csv's, as an earlier version stored it
        connection.execute("UPDATE roi_batches SET fingerprint = substr(fingerprint, 1, 32) "
                           "WHERE batch_key = 'file:data/a.csv'")
    copy.unlink()  # removed for good: its batch stays, and is not a.csv's
    result = _ingest(project)
    assert "renamed" not in result.output
    assert _requests(project) == 4


def test_a_grown_file_takes_the_longest_batch_it_starts_with(project):
    """A removed file of the header alone is the start of every CSV file: an appended, then moved,
    file takes its own batch (the longest start), and the header's stays as a removed file's."""
    first = project.write_data("a.csv", _rows(1, 2, 3))
    empty = project.write_data("e.csv", HEADER + "\n")
    _ingest(project)
    empty.unlink()
    with first.open("a") as handle:
        handle.write(GOOD.format(n=4) + "\n")
    first.rename(project.root / "data" / "c.csv")
    result = _ingest(project)
    assert f"{first} -> {project.root / 'data' / 'c.csv'}" in result.output
    assert _requests(project) == 4


def test_a_new_file_under_a_removed_file_s_name_is_a_file_of_its_own(project):
    """export.csv is removed (an ingest sees it gone), then a new export.csv comes: the removed one's
    rows stay, as a file removed for good's do, and the new one's are added. If the old content
    comes back, it takes its batch back."""
    first = project.write_data("export.csv", _rows(1, 2, 3))
    project.write_data("other.csv", _rows(9))
    _ingest(project)
    old = first.read_bytes()
    first.unlink()
    _ingest(project)
    assert _requests(project) == 4
    project.write_data("export.csv", _rows(4, 5))
    _ingest(project)
    assert _requests(project) == 6
    project.write_data("back.csv", old.decode())
    result = _ingest(project)
    assert f"{first} -> {project.root / 'data' / 'back.csv'}" in result.output
    assert _requests(project) == 6


def test_a_batch_fingerprinted_by_the_previous_version_follows_a_rename(project):
    """Fingerprints stored by the version before this one keep the content's digest alone (no length,
    no start): a rename is still recognised by it."""
    import sqlite3

    first = project.write_data("a.csv", _rows(1, 2))
    _ingest(project)
    with sqlite3.connect(project.root / "roi.db") as connection:  # "<hash>/<digest>", as that version stored it
        connection.execute("UPDATE roi_batches SET fingerprint = substr(fingerprint, 1, 97)")
    first.rename(project.root / "data" / "b.csv")
    result = _ingest(project)
    assert "a file renamed or moved keeps its stored batch" in result.output
    assert _requests(project) == 2


def test_moves_planned_on_batches_another_ingest_changed_since_change_nothing(any_project):
    """Two ingests at once: the batches a plan of moves was made on were replaced meanwhile. The
    moves are refused whole (the other ingest's batches stand), and a plan made now goes through."""
    from roi.services import store_for
    from roi.store.batch_moves import Move, move_batches, stored_files

    first = any_project.write_data("a.csv", _rows(1, 2))
    any_project.write_data("b.csv", _rows(3))
    _ingest(any_project)
    store = store_for(any_project.settings())
    try:
        planned = stored_files(store.engine, "bot")
        first.write_text(_rows(1, 2, 4))
        _ingest(any_project)  # the other ingest: a.csv's batch replaced
        moves = [Move(batch, key=f"file:data/{name}.csv", label=name) for batch, name in zip(planned, "cd", strict=True)]
        assert move_batches(store.engine, "bot", moves) is False
        assert [(batch.key, batch.label) for batch in stored_files(store.engine, "bot")] == [
            ("file:data/b.csv", str(any_project.root / "data" / "b.csv")),
            ("file:data/a.csv", str(first))]
        now = stored_files(store.engine, "bot")
        assert move_batches(store.engine, "bot", [Move(now[0], key=now[1].key, label="a"),
                                                  Move(now[1], key=now[0].key, label="b")]) is True
        assert [(batch.id, batch.key) for batch in stored_files(store.engine, "bot")] == [
            (now[0].id, now[1].key), (now[1].id, now[0].key)]  # swapped, ids kept
    finally:
        store.engine.dispose()


def test_a_file_name_that_is_not_utf8_is_stored_under_an_escaped_name_and_the_others_land(project):
    """Its key can be no other file's: a file named as its escape reads (a backslash, u, dc, e9) has
    its backslash written twice."""
    import os

    project.write_data("a.csv", _rows(1, 2))
    project.write_data("caf\\udce9.csv", _rows(4, 5))
    odd = os.path.join(os.fsencode(project.root / "data"), b"caf\xe9.csv")
    with open(odd, "wb") as handle:
        handle.write(_rows(3).encode())
    _ingest(project)
    assert _requests(project) == 5
    assert sorted(key for key, _label, _fp in _stored(project)[0]) == [
        "file:data/a.csv", "file:data/caf\\\\udce9.csv", "file:data/caf\\udce9.csv"]
    again = _ingest(project)
    assert _read_and_unchanged(again) == ["3", "3"]


# ------------------------------------------------------------------ the whitespace look at event ids


@pytest.mark.parametrize("values", [
    ["e1", "e2"], [" e1", "e2"], ["e1", "e2\t"], ["e1\u00a0"], ["\u2003e1"], ["é", "e"], ["", ""], [],
    [None, "e1"], ["e1", None, " "], ["a\nb"], ["e1\r"], ["\x0be1"], ["e1\x1f"], ["\x1ce1"], ["e1\x1d", "e2"],
])
@pytest.mark.parametrize("large", [False, True])
def test_a_trim_is_never_skipped_when_it_would_change_an_id(values, large):
    import pyarrow as pa
    import pyarrow.compute as pc

    from roi.connectors.event_columns import _may_need_trim

    array = pa.array(["pad", *values, "pad"], pa.large_string() if large else pa.string())
    for column in (array, array.slice(1, len(values))):  # a slice reads from an offset
        trimmed = pc.utf8_trim_whitespace(column.fill_null(""))
        changes = not trimmed.equals(column.fill_null(""))
        assert _may_need_trim(column) or not changes
        if not changes and all(v is None or (v.isascii() and v == v.strip()) for v in column.to_pylist()):
            assert not _may_need_trim(column)  # plain ids take the fast path


def test_padded_ids_dedup_with_their_trimmed_spelling(project):
    padded = GOOD.format(n=1).replace("e1,", " e1 ,", 1)
    data = project.write_data("a.csv", HEADER + "\n" + GOOD.format(n=1) + "\n" + padded + "\n")
    chunks = list(connector(project, "data/a.csv").read_file(str(data)))
    assert chunks[0].frame.column("event_id").to_pylist() == ["e1", "e1"]


@pytest.mark.parametrize("name", ["a.csv", "a.jsonl"])
@pytest.mark.parametrize("given", ["0x10", "0X1F", "1_000", "1e3", "١٢"])
def test_counts_are_decimal_digits_only(project, name, given):
    """Arrow's integer cast reads "0x10" as 16; a count is decimal digits, or the row is quarantined."""
    if name.endswith(".csv"):
        text = f"{HEADER}\n{GOOD.format(n=1)}\ne2,2026-01-10T10:00:00Z,acme,web,openai,gpt-4o-mini,{given},1,0,,,\n"
    else:
        good = dict(zip(HEADER.split(","), GOOD.format(n=1).split(","), strict=True))
        bad = {"event_id": "e2", "ts": "2026-01-10T10:00:00Z", "input_tokens": given, "output_tokens": "1"}
        text = json.dumps(good) + "\n" + json.dumps(bad) + "\n"
    path = project.write_data(name, text)
    frame, rejects, _ = only(read_all(project, str(path)))
    assert list(frame["event_id"]) == ["e1"]
    line = 3 if name.endswith(".csv") else 2
    assert reasons(rejects) == [(line, f"input_tokens is not a whole number >= 0 (got {given!r})")]


@pytest.mark.parametrize("given", [" resolved", "RESOLVED", "Resolved "])
def test_outcomes_are_trimmed_and_case_folded_as_documented(project, given):
    path = project.write_data("a.csv", f"event_id,ts,outcome\ne1,2026-01-10T10:00:00Z,{given}\n")
    frame, rejects, _ = only(read_all(project, str(path)))
    assert rejects == [] and list(frame["resolved"]) == [1]


def test_holds_nul_reads_only_the_values_of_a_slice():
    from roi.connectors.event_columns import holds_nul

    column = pa.array(["a\x00", "b", "c", None, "d\x00e"])
    assert holds_nul(column).tolist() == [True, False, False, False, True]
    assert holds_nul(column.slice(1, 3)) is None  # the NULs lie outside the slice's bytes
    assert holds_nul(column.slice(3, 2)).tolist() == [False, True]
    assert holds_nul(column.dictionary_encode()).tolist() == [True, False, False, False, True]
    assert holds_nul(pa.array(["x", "y"]).dictionary_encode()) is None
    assert holds_nul(pa.array([1, 2])) is None and holds_nul(None) is None


ODD_NUMBERS = ["0", "-0", "-00", "+0", "+5", "5", "05", " 5", "5 ", "-0.0", "-.0", "-0e3", "+1.5", "1.5", ".5", "5.",
               "1e3", "1E+2", "1e-05", "-1", "-1.5", "inf", "+inf", "-inf", "nan", "NaN", "-nan", "Infinity",
               "1e400", "0x10", "1_000", "1,5", "9" * 18, "9" * 19, "0" * 20 + "5", "1e15", "", "  ",
               "-1e-400", "-2e-324", "-0e-400"]


@pytest.mark.parametrize("name", ["input_tokens", "cost_usd"])
@pytest.mark.parametrize("given", ODD_NUMBERS)
def test_a_value_reads_the_same_whatever_else_its_chunk_holds(name, given):
    """Arrow's parser reads a column whose values all parse; the text rules read it otherwise. Both
    must read each value alike: "-0" or "+1.5" was a number beside good values and quarantined beside
    a bad one."""
    import numpy as np

    from roi.connectors.event_columns import RawTable, to_chunk

    def read(values: list[str]):
        columns = {"event_id": pa.array([f"e{i}" for i in range(len(values))]),
                   "ts": pa.array(["2026-01-10T10:00:00Z"] * len(values)), name: pa.array(values)}
        chunk = to_chunk(RawTable(columns, np.arange(2, 2 + len(values)), "a.csv"), rows_read=len(values))
        kept = chunk.frame.to_pylist()
        value = kept[0]["input_tokens" if name == "input_tokens" else "cost"] if kept and kept[0]["event_id"] == "e0" \
            else None
        return value, [reject.reason for reject in chunk.rejects if reject.line == 2]

    alone = read([given])
    for company in (["5"], ["abc"], ["-1"], [""]):  # a good value, and ones that send the column to the text rules
        beside = read([given, *company])
        assert beside[1] == alone[1]
        assert beside[0] == alone[0] or (beside[0] != beside[0] and alone[0] != alone[0])  # (NaN: no cost given)
    if alone[0] is not None and name == "cost_usd" and alone[0] == alone[0]:
        assert str(alone[0]) != "-0.0"  # a cost of "-0" is 0, not a negative zero in the sums


@pytest.mark.parametrize(("name", "written"), [("cost_usd", "1e400"), ("cost_usd", "-1e400"), ("cost_usd", "NaN"),
                                               ("cost_usd", "-1e-400"), ("input_tokens", "-1e-400"),
                                               ("cost_usd", "Infinity"), ("input_tokens", "1e400")])
def test_a_json_number_no_float_holds_gets_its_csv_twins_reason(project, name, written):
    """json.loads reads 1e400 as inf and NaN as nan: the reason quotes what the line wrote, as for CSV."""
    good = f'{{"event_id": "e1", "ts": "2026-01-10T10:00:00Z", "{name}": 5}}'
    json_path = project.write_data("a.jsonl", good + f'\n{{"event_id": "e2", "ts": "2026-01-10T10:00:00Z", "{name}": {written}}}\n')
    csv_path = project.write_data("a.csv", f"event_id,ts,{name}\ne1,2026-01-10T10:00:00Z,5\ne2,2026-01-10T10:00:00Z,{written}\n")
    (_, json_rejects, _), (_, csv_rejects, _) = only(read_all(project, str(json_path))), only(read_all(project, str(csv_path)))
    assert [reject.reason for reject in json_rejects] == [reject.reason for reject in csv_rejects]
    assert written in json_rejects[0].reason


@pytest.mark.parametrize("written", ["inf", "-inf", "Infinity", "NaN", "nan", " +INF ", "1e400"])
def test_an_amount_that_is_no_finite_number_says_so(project, written):
    """inf, NaN and 1e400 are numbers, not finite ones (docs/connectors.md), where `abc` is no number."""
    path = project.write_data("a.csv", f"event_id,ts,cost_usd\ne1,2026-01-10T10:00:00Z,{written}\n"
                                       "e2,2026-01-10T10:00:00Z,abc\n")
    _, rejects, _ = only(read_all(project, str(path)))
    assert [reject.reason for reject in rejects] == [f"cost_usd is not a finite number (got {written!r})",
                                                     "cost_usd is not a number >= 0 (got 'abc')"]


ODD_TIMES = ["2026-03-01T09+05:30", "2026-03-01T09Z", "2026-03-01 09Z", "2026-03-01T09:00+0530", "2026-03-01T09:00:00+05",
             "2026-03-01t09:00:00z", "2026-03-01T09:00:00,25Z", "2026-03-01T09:00:00.Z", "2026-03-01T09:00:00 Z",
             "2026-03-01T09:00:00.1234567891Z", "2026-03-01T24:00:00Z", "2026-02-29T09:00:00Z", "2026-03-01T09:00:60Z",
             "2026-03-01T09:00:00+99:00", "+2026-03-01T09:00:00Z", "20260301T090000Z", "2026-03-01", "2026-03-01T09:00",
             "2026-03-01T09:00:00+05:30:00", "1899-12-31T23:00:00Z", "2261-12-30T00:00:00Z", " 2026-03-01T09:00:00Z "]


@pytest.mark.parametrize("given", ODD_TIMES)
def test_a_timestamp_reads_the_same_whatever_else_its_chunk_holds(given):
    """A column of timestamps that all parse goes through Arrow's parser; otherwise each value is
    checked as text first. Either way a value is the same instant, or quarantined for the same reason."""
    import numpy as np

    from roi.connectors.event_columns import RawTable, to_chunk

    def read(values: list[str]):
        columns = {"event_id": pa.array([f"e{i}" for i in range(len(values))]), "ts": pa.array(values)}
        chunk = to_chunk(RawTable(columns, np.arange(2, 2 + len(values)), "a.csv"), rows_read=len(values))
        kept = [row["ts"] for row in chunk.frame.to_pylist() if row["event_id"] == "e0"]
        return kept, [reject.reason for reject in chunk.rejects if reject.line == 2]

    alone = read([given])
    for company in ("2026-03-02T10:00:00Z", "yesterday", "", "2026-03-02T10:00:00"):
        assert read([given, company]) == alone


def test_a_decimal_comma_and_lower_case_t_and_z_are_iso_8601():
    """ISO 8601 allows a decimal comma and RFC 3339 a lower-case t and z, which Arrow's parser refuses."""
    import numpy as np

    from roi.connectors.event_columns import RawTable, to_chunk

    values = ["2026-03-01t09:00:00,25z", "2026-03-01T09:00:00.25Z"]
    columns = {"event_id": pa.array(["e1", "e2"]), "ts": pa.array(values)}
    chunk = to_chunk(RawTable(columns, np.arange(2, 4), "a.csv"), rows_read=2)
    assert chunk.rejects == []
    first, second = chunk.frame.column("ts").to_pylist()
    assert first == second and (first.hour, first.microsecond) == (9, 250_000)


def test_a_row_that_holds_nothing_is_no_row_in_any_format(project):
    """`,,,` in CSV, `{}` or an object of nulls and empty texts in JSON Lines, a row of nulls in Parquet:
    a blank line's twin, skipped and not counted (pandas writes such a JSON line for a row of NaN)."""
    import pyarrow.parquet as pq

    good = {"event_id": "a", "ts": "2026-03-01T09:00:00Z", "tenant": "t", "input_tokens": 1}
    blank_objects = [{}, {"event_id": None, "ts": None, "tenant": None, "input_tokens": None},
                     {"event_id": "", "ts": "", "tenant": "", "input_tokens": None}]
    jsonl = project.write_data("a.jsonl", "\n".join(json.dumps(row) for row in [good, *blank_objects, good | {"event_id": "b"}]) + "\n")
    csv = project.write_data("a.csv", 'event_id,ts,tenant,input_tokens,other\na,2026-03-01T09:00:00Z,t,1,\n,,,,\n"","","",,\n,,,,5\n'
                                       "b,2026-03-01T09:00:00Z,t,1,\n")
    parquet = project.root / "data" / "a.parquet"
    pq.write_table(pa.table({"event_id": ["a", None, "", "b"], "ts": ["2026-03-01T09:00:00Z", None, "", "2026-03-01T09:00:00Z"],
                             "tenant": ["t", None, "", "t"], "input_tokens": [1, None, None, 1]}), parquet)
    for path in (jsonl, csv, parquet):
        frame, rejects, read = only(read_all(project, str(path)))
        assert (list(frame["event_id"]), rejects, read) == (["a", "b"], [], 2), path.name
    # Arrow's JSON reader ignores keys it does not know, so a block with such an object is the line reader's
    from roi.connectors import json_lines

    assert json_lines._by_arrow(str(jsonl), jsonl.read_bytes(), 1) is None


def test_a_json_object_of_other_keys_only_is_a_row_without_event_id_never_dropped(project):
    """{"eventId": ...} holds nothing in the events columns, but it is no blank line: a file written with
    other key names must show up in the quarantine, not ingest as nothing (DESIGN: never dropped silently)."""
    from roi.connectors import json_lines

    path = project.write_data("a.jsonl", '{"eventId": "e1", "timestamp": "2026-03-01T00:00Z"}\n{"other": 5}\n'
                                         '{"event_id": null, "note": "x"}\n')
    _, rejects, read = only(read_all(project, str(path)))
    assert reasons(rejects) == [(line, "event_id is missing; ts is missing") for line in (1, 2, 3)]
    assert read == 3
    block = path.read_bytes()
    assert json_lines._by_arrow(str(path), block, 1) is None  # (Arrow's reader, which ignores other keys, leaves it to the line reader)


def test_a_nul_gets_the_same_reasons_in_csv_and_json_lines(project):
    """A NUL in a JSON string had the line refused with that reason alone; it is judged as in CSV."""
    rows = [{"event_id": "a\x00", "ts": "2026-03-01T09:00:00Z", "tenant": "t", "outcome": ""},  # an id may hold one
            {"event_id": "", "ts": "2026-03-01T09:00:00Z", "tenant": "t\x00", "outcome": ""},
            {"event_id": "c", "ts": "2026-03-01T09:00:00Z", "tenant": "t", "outcome": "resolved\x00"},
            {"event_id": "d", "ts": "2026-03-01T09:00:00Z\x00", "tenant": "t", "outcome": ""}]
    names = list(rows[0])
    csv = project.write_data("a.csv", ",".join(names) + "\n" + "".join(",".join(row.values()) + "\n" for row in rows))
    jsonl = project.write_data("a.jsonl", "".join(json.dumps(row) + "\n" for row in rows))
    (csv_frame, csv_rejects, _), (json_frame, json_rejects, _) = only(read_all(project, str(csv))), \
        only(read_all(project, str(jsonl)))
    assert list(json_frame["event_id"]) == list(csv_frame["event_id"]) == ["a\x00"]
    assert [reject.reason for reject in json_rejects] == [reject.reason for reject in csv_rejects]
    assert [reject.reason for reject in csv_rejects][0] == "event_id is missing; tenant holds a NUL character"


@pytest.mark.parametrize("ending", ["\n", "\r\n", "\r"])
def test_a_truncated_json_line_gets_one_reason_whatever_ends_it(project, ending):
    """The line break is no part of the line json.loads reads: "Unterminated string", not "Invalid control
    character" (LF) or another column (CRLF)."""
    path = project.root / "data" / "a.jsonl"
    path.write_bytes(ending.join(['{"event_id": "4", "ts": "2026-', '{"event_id": "5", "ts": "2026-03-01T10:00:00Z"}']).encode()
                     + ending.encode())
    _, rejects, read = only(read_all(project, str(path)))
    assert reasons(rejects) == [(1, "not a JSON object: Unterminated string starting at: line 1 column 25 (char 24)")]
    assert read == 2


def test_a_json_count_a_float_would_round_is_read_as_written(project):
    """9007199254740993.0 is no float: json.loads made it ...992, a count the file does not hold."""
    rows = [("1", "9007199254740993.0"), ("2", "1e16"), ("3", "9007199254740993"), ("4", "412.0")]
    path = project.write_data("a.jsonl", "".join(
        f'{{"event_id": "{event}", "ts": "2026-03-01T10:00:00Z", "input_tokens": {count}}}\n' for event, count in rows))
    frame, rejects, _ = only(read_all(project, str(path)))
    assert reasons(rejects) == [(1, "input_tokens is not a whole number >= 0 (got '9007199254740993.0')")]
    assert list(frame["input_tokens"]) == [10**16, 9007199254740993, 412]
