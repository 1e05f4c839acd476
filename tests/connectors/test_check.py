"""check() of each pulled connector: one authenticated request that passes, or a ConnectorError naming the source."""

from __future__ import annotations

import pytest

from roi.connectors import registry
from roi.errors import ConnectorError

from . import test_intercom, test_langfuse, test_litellm, test_openai_usage, test_zendesk
from .conftest import add_source

CASES = {
    "langfuse": (test_langfuse.serve_langfuse, test_langfuse.OBSERVATIONS,
                 f'public_key = "{test_langfuse.PUBLIC}"\nsecret_key = "${{SECRET}}"', test_langfuse.SECRET),
    "openai_usage": (lambda upstream, _: test_openai_usage.serve_openai(upstream), None,
                     'admin_key = "${SECRET}"', test_openai_usage.KEY),
    "litellm": (test_litellm.serve_litellm, [], 'api_key = "${SECRET}"', test_litellm.KEY),
    "zendesk": (test_zendesk.serve_zendesk, [], 'email = "agent@example.com"\napi_token = "${SECRET}"',
                test_zendesk.TOKEN),
    "intercom": (test_intercom.serve_intercom, [], 'access_token = "${SECRET}"\napi_version = "2.14"',
                 test_intercom.TOKEN),
}


@pytest.mark.parametrize("kind", sorted(CASES))
def test_check_passes_with_good_keys_and_names_the_source_with_bad_ones(kind, project, upstream, monkeypatch):
    serve, data, options, secret = CASES[kind]
    serve(upstream, data)
    add_source(project, "upstream-src", kind, upstream.url, options)
    monkeypatch.setenv("SECRET", secret)
    settings = project.settings()
    registry.create(settings.source("upstream-src"), settings.base_dir).check()
    assert upstream.seen, "check() sent no request"

    monkeypatch.setenv("SECRET", "not-the-secret-42")
    settings = project.settings()
    with pytest.raises(ConnectorError) as caught:
        registry.create(settings.source("upstream-src"), settings.base_dir).check()
    assert "source 'upstream-src'" in str(caught.value)
    assert "not-the-secret-42" not in str(caught.value)
