"""Connector options are checked with the config: typos, missing secrets, bad combinations."""

from __future__ import annotations

import pytest

from roi.errors import ConfigError

from .conftest import add_source


def problems(project) -> str:
    with pytest.raises(ConfigError) as caught:
        project.settings()
    return str(caught.value)


def test_an_unknown_option_is_refused_with_its_key_path(project, monkeypatch):
    monkeypatch.setenv("LITELLM_KEY", "sk-1234567890")
    add_source(project, "gateway", "litellm", "http://127.0.0.1:9", 'api_key = "${LITELLM_KEY}"\npagesize = 10')
    assert f"{project.config_path}: sources[1].pagesize: unknown key" in problems(project)


def test_a_secret_from_an_unset_variable_is_refused(project, monkeypatch):
    monkeypatch.delenv("OPENAI_ADMIN_KEY", raising=False)
    add_source(project, "openai", "openai_usage", "http://127.0.0.1:9", 'admin_key = "${OPENAI_ADMIN_KEY}"')
    assert "environment variable OPENAI_ADMIN_KEY is not set" in problems(project)


def test_zendesk_needs_one_way_to_authenticate(project):
    add_source(project, "helpdesk", "zendesk", "http://127.0.0.1:9", 'email = "a@example.com"')
    assert "give either email and api_token, or oauth_token" in problems(project)


def test_zendesk_subdomain_gives_the_base_url(project):
    project.config_path.write_text(project.config_path.read_text() + """
[[sources]]
name = "helpdesk"
type = "zendesk"
subdomain = "acme"
oauth_token = "tok-1234567890"
""")
    from roi.connectors import registry

    settings = project.settings()
    options = registry.validate_options(settings.source("helpdesk"), settings.base_dir)
    assert options.base_url == "https://acme.zendesk.com"
    assert "tok-1234567890" not in repr(options)


def test_a_base_url_must_be_http(project):
    add_source(project, "inbox", "intercom", "ftp://example.com", 'access_token = "t-123456789"')
    assert "sources[1].base_url: 'ftp://example.com' is not an http:// or https:// URL" in problems(project)


def test_a_dimension_mapping_names_a_known_dimension(project):
    add_source(project, "inbox", "intercom", "http://127.0.0.1:9", 'access_token = "t-123456789"',
               dimensions='customer = "custom_attributes.tenant"')
    assert "sources[1].dimensions.customer" in problems(project)
