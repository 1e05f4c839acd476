"""The config contract (DESIGN section 5): strict keys, exact error texts, paths, env, references."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from roi.cli import main
from roi.errors import ConfigError
from roi.services.validation import load_checked_config as load_config

HEAD = """
[service]
database_url = "sqlite:///roi.db"
models_dir = "models"
"""
SOURCE = """
[[sources]]
name = "bot"
type = "events"
path = "data/*.csv"
"""
CATCH_ALL = """
[[assignments]]
match = {}
model = "support"
"""


def write(project, *parts: str) -> Path:
    return project.write_config(body="\n".join(textwrap.dedent(part) for part in parts))


def problems(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return caught.value.problems


def check_in(project, monkeypatch, runner):
    """`roi config check` run from the project folder with --config roi.toml, as a user would."""
    monkeypatch.chdir(project.root)
    return runner.invoke(main, ["--config", "roi.toml", "config", "check"])


# ------------------------------------------------------------------ strict keys


@pytest.mark.parametrize(
    ("snippet", "expected"),
    [
        ("bogus = 1\n" + HEAD + SOURCE + CATCH_ALL, "bogus: unknown key"),
        # names load_config fills in itself are no keys of the file either
        ('path = "data/*.csv"\n' + HEAD + SOURCE + CATCH_ALL, "path: unknown key"),
        (HEAD + "colour = 'red'\n" + SOURCE + CATCH_ALL, "service.colour: unknown key"),
        (HEAD + "[store]\ndims = ['tenant']\n" + SOURCE + CATCH_ALL, "store.dims: unknown key"),
        (HEAD + "[report]\ngroupby = ['tenant']\n" + SOURCE + CATCH_ALL, 'report.groupby: unknown key; did you mean "group_by"?'),
        (HEAD + SOURCE + "pathh = 'x'\n" + CATCH_ALL, 'sources[0].pathh: unknown key; did you mean "path"?'),
        (HEAD + SOURCE + CATCH_ALL + "modle = 'x'\n", 'assignments[0].modle: unknown key; did you mean "model"?'),
        (
            HEAD + SOURCE + CATCH_ALL + "[[fixed_costs]]\nname = 'db'\namount = 1.0\nallocate = 'requests'\n",
            'fixed_costs[0].allocate: unknown key; did you mean "allocate_by"?',
        ),
        (HEAD + SOURCE + CATCH_ALL + "[pricing]\noverride = {}\n", 'pricing.override: unknown key; did you mean "overrides"?'),
        (
            HEAD + SOURCE + CATCH_ALL
            + "[pricing.overrides]\n'openai/x' = { input_per_mtok = 1, output_per_mtok = 2, cache = 3 }\n",
            "pricing.overrides.openai/x.cache: unknown key",
        ),
        (HEAD + SOURCE + CATCH_ALL + "[api]\nport = 1\n", "api.port: unknown key"),
        (
            HEAD + SOURCE + CATCH_ALL
            + "[api]\ntokens = [{ name = 'f', token = '0123456789abcdef', role = 'reader', scope = 'x' }]\n",
            "api.tokens[0].scope: unknown key",
        ),
    ],
)
def test_unknown_keys_are_refused_at_every_level(project, snippet, expected):
    path = write(project, snippet)
    assert problems(path) == [f"{path}: {expected}"]


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        (
            "name = 'support'\ncolour = 'red'\n[[versions]]\neffective_from = 2025-01-01\nvalue_per_resolution = 1\n",
            "colour: unknown key",
        ),
        (
            "name = 'support'\n[[versions]]\neffective_from = 2025-01-01\nvalue_per_resolution = 1\nvalue = 2\n",
            "versions[0].value: unknown key",
        ),
        ("name = 'support'\n", "versions: required key is missing"),
        (
            "name = 'support'\n[[versions]]\neffective_from = 2025-01-01\nvalue_per_resolution = -1\n",
            "versions[0].value_per_resolution: Input should be greater than or equal to 0",
        ),
        (
            "name = 'support'\n[[versions]]\neffective_from = 2025-01-01\nvalue_per_resolution = 1\n"
            "[[versions]]\neffective_from = 2025-01-01\nvalue_per_resolution = 2\n",
            "versions: two versions share an effective_from date",
        ),
        (
            "name = 'support'\n[[versions]]\neffective_from = 2025-01-01\n"
            "value_per_resolution = { low = 7, mode = 6.5, high = 8 }\n",
            "versions[0].value_per_resolution: needs low <= mode <= high, got low 7, mode 6.5, high 8",
        ),
        (
            "name = 'support'\n[[versions]]\neffective_from = 2025-01-01\nvalue_per_resolution = 1\n"
            "escalation_cost = { mean = 2, sd = -0.5 }\n",
            "versions[0].escalation_cost: sd: Input should be greater than or equal to 0",
        ),
        (
            "name = 'support'\n[[versions]]\neffective_from = 2025-01-01\nvalue_per_resolution = 1\n"
            "reopen_cost = { mean = inf, sd = 1 }\n",
            "versions[0].reopen_cost: mean: inf is not allowed; give a finite number",
        ),
        (
            "name = 'support'\n[[versions]]\neffective_from = 2025-01-01\n"
            "value_per_resolution = { low = 5, mode = 6 }\n",
            "versions[0].value_per_resolution: high: required key of a triangular range (low, mode, high) is missing",
        ),
        (
            "name = 'support'\n[[versions]]\neffective_from = 2025-01-01\n"
            "value_per_resolution = { min = 5, max = 6 }\n",
            "versions[0].value_per_resolution: a table here is { low, mode, high } (triangular) or { mean, sd } "
            "(normal, truncated at 0)",
        ),
        (
            "name = 'support'\n[[versions]]\neffective_from = 2025-01-01\nvalue_per_resolution = '6.5'\n",
            "versions[0].value_per_resolution: '6.5' is a string; write a number without quotes",
        ),
    ],
)
def test_value_model_errors_name_the_model_file_and_key(project, model, expected):
    model_path = project.write_model("support", model)
    path = write(project, HEAD, SOURCE, CATCH_ALL)
    assert problems(path) == [f"{model_path}: {expected}"]


def test_value_model_that_is_not_toml(project):
    model_path = project.write_model("support", "name = \n")
    path = write(project, HEAD, SOURCE, CATCH_ALL)
    (found,) = problems(path)
    assert found.startswith(f"{model_path}: not valid TOML: ")
    assert "line 1" in found


def test_value_model_currency_must_match_the_service(project):
    project.write_model("support", "name = 'support'\ncurrency = 'USD'\n"
                        "[[versions]]\neffective_from = 2025-01-01\nvalue_per_resolution = 1\n")
    path = write(project, HEAD.replace('models_dir', 'currency = "EUR"\nmodels_dir'), SOURCE, CATCH_ALL)
    model_path = project.root / "models" / "support.toml"
    assert problems(path) == [f"{model_path}: currency: 'USD' differs from the service currency 'EUR'"]


def test_two_model_files_with_one_name(project):
    other = project.write_model(
        "zz_copy", "name = 'support'\n[[versions]]\neffective_from = 2025-01-01\nvalue_per_resolution = 1\n"
    )
    path = write(project, HEAD, SOURCE, CATCH_ALL)
    first = project.root / "models" / "support.toml"
    assert problems(path) == [f"{other}: name: 'support' is already defined by {first}"]


# ------------------------------------------------------------------ files


def test_missing_config_file(tmp_path):
    path = tmp_path / "nowhere.toml"
    assert problems(path) == [f"{path}: file not found"]


def test_config_that_is_not_toml(project):
    path = write(project, HEAD, "[[sources]\nname = 'x'\n")
    (found,) = problems(path)
    assert found.startswith(f"{path}: not valid TOML: ")
    assert "line" in found


def test_config_that_is_a_folder_is_a_config_error(tmp_path):
    assert problems(tmp_path) == [f"{tmp_path}: cannot read the file: Is a directory"]


def test_config_that_is_not_utf8_is_a_config_error(tmp_path):
    path = tmp_path / "roi.toml"
    path.write_bytes(b'[service]\ncurrency = "caf\xe9"\n')
    assert problems(path) == [f"{path}: not valid TOML: not UTF-8 text (invalid continuation byte at byte 25)"]


def test_model_file_that_is_a_folder_names_it(project):
    path = write(project, HEAD, SOURCE, CATCH_ALL)
    folder = project.root / "models" / "broken.toml"
    folder.mkdir()
    assert problems(path) == [f"{folder}: cannot read the file: Is a directory"]


def test_missing_models_dir_names_the_config_and_key(project):
    path = write(project, HEAD.replace('"models"', '"no-such-folder"'), SOURCE, CATCH_ALL)
    folder = project.root / "no-such-folder"
    assert problems(path) == [f"{path}: service.models_dir: {folder} is not a folder"]


def test_config_path_from_environment(project, monkeypatch, runner):
    monkeypatch.setenv("ROI_CONFIG", str(project.config_path))
    monkeypatch.chdir(project.root.parent)
    result = runner.invoke(main, ["config", "check"])
    assert result.exit_code == 0, result.output
    assert f"config {project.config_path}: ok" in result.stdout


# ------------------------------------------------------------------ env and paths


def test_environment_variables_are_interpolated(project, monkeypatch):
    monkeypatch.setenv("ROI_TEST_TOKEN", "s3cret-token-0123456789")
    monkeypatch.setenv("ROI_TEST_TZ", "Europe/Paris")
    path = write(
        project,
        HEAD.replace("models_dir", 'timezone = "${ROI_TEST_TZ}"\nmodels_dir'),
        SOURCE,
        CATCH_ALL,
        "[api]\ntokens = [{ name = 'finance', token = 'x-${ROI_TEST_TOKEN}', role = 'reader' }]\n",
    )
    settings = load_config(path)
    assert settings.service.timezone == "Europe/Paris"
    assert settings.api.tokens[0].token.get_secret_value() == "x-s3cret-token-0123456789"
    # a secret never shows in the settings' text
    assert "s3cret" not in repr(settings)


def test_unset_environment_variable(project, monkeypatch):
    monkeypatch.delenv("ROI_TEST_UNSET", raising=False)
    path = write(
        project, HEAD, SOURCE, CATCH_ALL,
        "[api]\ntokens = [{ name = 'finance', token = '${ROI_TEST_UNSET}', role = 'reader' }]\n",
    )
    assert problems(path) == [f"{path}: api.tokens[0].token: environment variable ROI_TEST_UNSET is not set"]


def test_relative_paths_resolve_against_the_config_folder(project, tmp_path, monkeypatch):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    path = write(
        project,
        '[service]\ndatabase_url = "sqlite:///store/roi.db"\nmodels_dir = "models"\nreports_dir = "out"\n',
        SOURCE, CATCH_ALL,
    )
    settings = load_config(path)
    root = project.root.resolve()
    assert settings.service.database_url == f"sqlite:///{root / 'store' / 'roi.db'}"
    assert Path(settings.service.models_dir) == root / "models"
    assert Path(settings.service.reports_dir) == root / "out"
    assert settings.base_dir.resolve() == root
    from roi.connectors import registry

    connector = registry.create(settings.source("bot"), settings.base_dir)
    assert Path(connector.options.path) == root / "data" / "*.csv"


def test_default_paths_follow_the_config_folder_without_a_service_table(project, tmp_path, monkeypatch):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    path = write(project, SOURCE, CATCH_ALL)  # no [service]: every path is a default
    settings = load_config(path)
    root = project.root.resolve()
    assert settings.service.database_url == f"sqlite:///{root / 'roi.db'}"
    assert Path(settings.service.models_dir) == root / "models"
    assert Path(settings.service.reports_dir) == root / "reports"


def test_absolute_paths_are_kept(project, tmp_path):
    models = tmp_path / "abs-models"
    models.mkdir()
    (models / "support.toml").write_text(
        "name = 'support'\n[[versions]]\neffective_from = 2025-01-01\nvalue_per_resolution = 1\n"
    )
    path = write(project, f'[service]\ndatabase_url = "sqlite:///{tmp_path}/x.db"\nmodels_dir = "{models}"\n',
                 SOURCE, CATCH_ALL)
    settings = load_config(path)
    assert settings.service.models_dir == str(models)
    assert settings.service.database_url == f"sqlite:///{tmp_path}/x.db"


# ------------------------------------------------------------------ exact messages


def test_bad_cron_exact_text(project, monkeypatch, runner):
    write(
        project, HEAD, SOURCE,
        """
        [[sources]]
        name = "bot2"
        type = "events"
        path = "data/*.jsonl"
        schedule = "*/75 * * * *"
        """,
        CATCH_ALL,
    )
    result = check_in(project, monkeypatch, runner)
    assert result.exit_code == 2
    assert result.stderr == 'error: roi.toml: sources[1].schedule: "*/75 * * * *" is not a valid cron expression\n'
    assert result.stdout == ""


def test_bad_report_schedule(project, monkeypatch, runner):
    write(project, HEAD, '[report]\nschedule = "every day"\n', SOURCE, CATCH_ALL)
    result = check_in(project, monkeypatch, runner)
    assert result.exit_code == 2
    assert result.stderr == 'error: roi.toml: report.schedule: "every day" is not a valid cron expression\n'


def test_group_by_outside_stored_dimensions(project, monkeypatch, runner):
    write(project, HEAD, "[store]\ndimensions = ['tenant']\n[report]\ngroup_by = ['tenant', 'channel']\n",
          SOURCE, CATCH_ALL)
    result = check_in(project, monkeypatch, runner)
    assert result.exit_code == 2
    assert result.stderr == "error: roi.toml: report.group_by[1]: 'channel' is not a stored dimension\n"


def test_match_keys_outside_stored_dimensions(project, monkeypatch, runner):
    write(
        project, HEAD, "[store]\ndimensions = ['tenant', 'model']\n", SOURCE,
        "[[assignments]]\nmatch = { channel = 'voice' }\nmodel = 'support'\n", CATCH_ALL,
        "[[fixed_costs]]\nname = 'db'\namount = 10.0\nmatch = { topic = 'billing' }\n",
        "[report]\ngroup_by = ['tenant']\n",
    )
    result = check_in(project, monkeypatch, runner)
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "error: roi.toml: assignments[0].match.channel: 'channel' is not a stored dimension "
        "(store.dimensions: tenant, model)",
        "error: roi.toml: fixed_costs[0].match.topic: 'topic' is not a stored dimension "
        "(store.dimensions: tenant, model)",
    ]


def test_match_on_a_name_that_is_no_dimension(project, monkeypatch, runner):
    write(project, HEAD, SOURCE, "[[assignments]]\nmatch = { region = 'eu' }\nmodel = 'support'\n", CATCH_ALL)
    result = check_in(project, monkeypatch, runner)
    assert result.exit_code == 2
    assert result.stderr == (
        "error: roi.toml: assignments[0].match.region: 'region' is not allowed; expected 'tenant', 'channel', "
        "'topic', 'language', 'plan_tier', 'provider' or 'model'\n"
    )


def test_assignment_to_unknown_model(project, monkeypatch, runner):
    write(project, HEAD, SOURCE, "[[assignments]]\nmatch = { channel = 'voice' }\nmodel = 'voice'\n", CATCH_ALL)
    result = check_in(project, monkeypatch, runner)
    assert result.exit_code == 2
    assert result.stderr == "error: roi.toml: assignments[0].model: no value model named 'voice' (models: support)\n"


def test_no_catch_all_rule(project, monkeypatch, runner):
    write(project, HEAD, SOURCE, "[[assignments]]\nmatch = { channel = 'voice' }\nmodel = 'support'\n")
    result = check_in(project, monkeypatch, runner)
    assert result.exit_code == 2
    assert result.stderr == (
        "error: roi.toml: assignments: no rule has match = {}, so a cell that fits no rule would have no value "
        "model; end the list with a catch-all rule\n"
    )


def test_no_assignments_at_all(project):
    path = write(project, HEAD, SOURCE)
    assert problems(path) == [
        f"{path}: assignments: no rule has match = {{}}, so a cell that fits no rule would have no value model; "
        "end the list with a catch-all rule"
    ]


def test_duplicate_names(project, monkeypatch, runner):
    write(
        project, HEAD, SOURCE, SOURCE, CATCH_ALL,
        "[[fixed_costs]]\nname = 'db'\namount = 1.0\n[[fixed_costs]]\nname = 'db'\namount = 2.0\n",
    )
    result = check_in(project, monkeypatch, runner)
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "error: roi.toml: sources[1].name: 'bot' is used by another source",
        "error: roi.toml: fixed_costs[1].name: 'db' is used by another fixed cost",
    ]


@pytest.mark.parametrize(
    ("snippet", "expected"),
    [
        ("[service]\ncurrency = 'usd'\n", "service.currency: 'usd' is not an ISO 4217 currency code such as USD"),
        ("[service]\ntimezone = 'Mars/Base'\n",
         "service.timezone: 'Mars/Base' is not an IANA timezone such as UTC or Europe/Paris"),
        ("[service]\ntimezone = 'Factory'\n",
         "service.timezone: 'Factory' is not a timezone of a place; give one such as UTC or Europe/Paris"),
        ("[service]\ntimezone = 'right/Europe/Paris'\n",
         "service.timezone: 'right/Europe/Paris' is not a timezone of a place; give one such as UTC or Europe/Paris"),
        ("[service]\ntimezone = 'posix/Mars/Base'\n",  # refused by its name, found or not
         "service.timezone: 'posix/Mars/Base' is not a timezone of a place; give one such as UTC or Europe/Paris"),
        ("[service]\ntimezone = 'localtime'\n",  # whatever this machine is set to
         "service.timezone: 'localtime' is not a timezone of a place; give one such as UTC or Europe/Paris"),
        ("[store]\ndimensions = ['tenant', 'tenant']\n", "store.dimensions: a dimension is listed twice"),
        ("[store]\ndimensions = ['region']\n",
         "store.dimensions[0]: 'region' is not allowed; expected 'tenant', 'channel', 'topic', 'language', "
         "'plan_tier', 'provider' or 'model'"),
        ("[[fixed_costs]]\nname = 'db'\namount = -1.0\n",
         "fixed_costs[0].amount: Input should be greater than or equal to 0"),
        ("[[fixed_costs]]\nname = 'db'\namount = 1.0\nallocate_by = 'tokens'\n",
         "fixed_costs[0].allocate_by: 'tokens' is not allowed; expected 'requests', 'cases', 'resolved' or "
         "'token_cost'"),
        ("[pricing.overrides]\n'gpt-4o' = { input_per_mtok = 1, output_per_mtok = 2 }\n",
         "pricing.overrides: 'gpt-4o' is not \"provider/model\", e.g. \"openai/gpt-4o-mini\""),
        ("[api]\ntokens = [{ name = 'f', token = 'short', role = 'reader' }]\n",
         "api.tokens[0].token: a token must be at least 16 characters"),
        ("[[sources]]\nname = 'x'\ntype = 'events'\n", "sources[1].path: required key is missing"),
        ("[[sources]]\nname = 'bad name'\ntype = 'events'\npath = 'x'\n",
         "sources[1].name: 'bad name' is not a source name (letters, digits, '_', '-', '.')"),
    ],
)
def test_other_exact_messages(project, snippet, expected):
    # the snippet's tables go last so that they do not swallow the base tables' keys
    base = HEAD if not snippet.startswith("[service]") else ""
    extra = snippet if not snippet.startswith("[service]") else snippet + 'models_dir = "models"\n'
    path = write(project, base, SOURCE, CATCH_ALL, extra)
    assert problems(path) == [f"{path}: {expected}"]


def test_unknown_connector_type(project):
    from roi.connectors import registry

    path = write(project, HEAD, SOURCE, CATCH_ALL, "[[sources]]\nname = 'x'\ntype = 'kafka'\n")
    available = registry.available()
    assert "events" in available
    assert problems(path) == [f"{path}: sources[1].type: 'kafka' is not a connector; available: {', '.join(available)}"]


def test_every_problem_is_reported_at_once(project):
    path = write(
        project, HEAD, SOURCE, SOURCE,
        "[[assignments]]\nmatch = { channel = 'voice' }\nmodel = 'voice'\n",
    )
    assert problems(path) == [
        f"{path}: assignments[0].model: no value model named 'voice' (models: support)",
        f"{path}: assignments: no rule has match = {{}}, so a cell that fits no rule would have no value model; "
        "end the list with a catch-all rule",
        f"{path}: sources[1].name: 'bot' is used by another source",
    ]


# ------------------------------------------------------------------ config check


def test_config_check_prints_what_it_found(project, monkeypatch, runner):
    project.write_model(
        "voice",
        """
        name = "voice"
        description = "Voice calls."
        [[versions]]
        effective_from = 2025-01-01
        value_per_resolution = 9.0
        [[versions]]
        effective_from = 2026-02-15
        value_per_resolution = 11.5
        escalation_cost = 3.0
        """,
    )
    write(
        project, HEAD, SOURCE.replace('path = "data/*.csv"', 'path = "data/*.csv"\nschedule = "*/15 * * * *"\nreprice = true'),
        "[[assignments]]\nmatch = { channel = 'voice' }\nmodel = 'voice'\n", CATCH_ALL,
        "[[fixed_costs]]\nname = 'vector-db'\namount = 1200.0\nallocate_by = 'requests'\nmatch = { channel = 'web' }\n",
    )
    project.write_data("day1.csv", "event_id,ts\n")
    result = check_in(project, monkeypatch, runner)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.startswith("config roi.toml: ok (hash ")
    assert "sources (1):" in out
    assert "bot: events, schedule */15 * * * * reprice [path=" in out
    assert "value models (2):" in out
    assert "from 2025-01-01: value/resolution 9, escalation 0" in out
    assert "from 2026-02-15: value/resolution 11.5, escalation 3" in out
    assert "from 2025-01-01: value/resolution 6.5, escalation 2, reopen 9, abandonment 0.5, review/hour 45" in out
    assert "assignment rules (2, first match wins):" in out
    assert "1. channel=voice -> voice" in out
    assert "2. (every cell) -> support" in out
    assert "vector-db: 1,200.00 USD/month by requests, over channel=web" in out
    assert result.stderr == ""


def test_config_check_lists_every_error_and_exits_2(project, monkeypatch, runner):
    write(project, HEAD, SOURCE, SOURCE, "[[assignments]]\nmatch = { channel = 'voice' }\nmodel = 'support'\n")
    result = check_in(project, monkeypatch, runner)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "error: roi.toml: assignments: no rule has match = {}, so a cell that fits no rule would have no value "
        "model; end the list with a catch-all rule",
        "error: roi.toml: sources[1].name: 'bot' is used by another source",
    ]


def test_config_hash_follows_figures_not_schedules(project):
    base = [HEAD, SOURCE, CATCH_ALL]
    first = load_config(write(project, *base)).config_hash
    scheduled = load_config(write(project, HEAD, SOURCE + 'schedule = "0 * * * *"\n', CATCH_ALL)).config_hash
    costly = load_config(write(project, *base, "[[fixed_costs]]\nname = 'db'\namount = 5.0\n")).config_hash
    assert first == scheduled
    assert first != costly


def test_a_relative_config_path_keeps_working_from_another_folder(project, tmp_path, monkeypatch):
    """Paths follow the config file's folder, not the working directory of the moment."""
    from roi import services
    from roi.services import ingest as ingesting

    project.write_data("a.csv", "event_id,ts,outcome\ne1,2026-01-10T10:00:00Z,resolved\n")
    monkeypatch.chdir(project.root)
    settings = load_config("roi.toml")
    assert settings.base_dir == project.root.resolve()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    store = services.store_for(settings)
    (run,) = ingesting.ingest(settings, store)
    store.engine.dispose()
    assert (run.errors, run.stored) == ([], 1)


def test_every_timezone_the_config_accepts_is_one_the_ingest_can_bucket_days_in():
    """The zone database's files that ZoneInfo loads but Arrow's engine refuses are refused by the config."""
    from zoneinfo import available_timezones

    import pyarrow as pa

    from roi.config import ServiceSection
    from roi.ingestion import _local_days

    instants = pa.array([0, 2_200_000_000_000_000], pa.timestamp("us", tz="UTC"))  # 1970, 2039
    refused = []
    for name in sorted(available_timezones() | {"Factory", "posixrules", "posix/Europe/Paris", "right/UTC",
                                                 "localtime"}):
        try:
            ServiceSection(timezone=name)
        except ValueError:
            refused.append(name)
            continue
        assert len(_local_days(instants, name)) == 2, name
    assert {"Factory", "posixrules", "posix/Europe/Paris", "right/UTC", "localtime"} <= set(refused)
