"""`roi config check`: the config validated and what it holds, secrets masked."""

from __future__ import annotations

import re

import click

from ..connectors import registry
from ..estimates import describe
from ..services.validation import source_warnings
from .context import Context, handle_errors


@click.group()
def config() -> None:
    """Inspect the config."""


@config.command("check")
@click.pass_obj
@handle_errors
def config_check(obj: Context) -> None:
    """Validate the config and its value models; print what was found."""
    settings = obj.settings
    for warning in source_warnings(settings):
        click.echo(f"warning: {warning}", err=True)
    click.echo(f"config {settings.path}: ok (hash {settings.config_hash})")
    service = settings.service
    click.echo(f"  currency {service.currency}, timezone {service.timezone}")
    click.echo(f"  dimensions: {', '.join(settings.dimensions)}")
    click.echo(f"  report: group_by {', '.join(settings.report.group_by) or '(none)'}, schedule {settings.report.schedule}")
    click.echo(f"sources ({len(settings.sources)}):")
    for source in settings.sources:
        state = "" if source.enabled else " (disabled)"
        schedule = f", schedule {source.schedule}" if source.schedule else ""
        # validated options: secrets are SecretStr there and print as '**********'
        validated = registry.validate_options(source, settings.base_dir).model_dump(exclude_defaults=True)
        options = ", ".join(f"{key}={_without_password(value)}" for key, value in sorted(validated.items()))
        click.echo(f"  {source.name}: {source.type}{schedule}{' reprice' if source.reprice else ''}{state} [{options}]")
    click.echo(f"value models ({len(settings.value_models)}):")
    for model in settings.value_models.values():
        click.echo(f"  {model.name}: {model.description}")
        for version in model.versions:
            click.echo(
                f"    from {version.effective_from}: value/resolution {describe(version.value_per_resolution)}, "
                f"escalation {describe(version.escalation_cost)}, reopen {describe(version.reopen_cost)}, "
                f"abandonment {describe(version.abandonment_cost)}, review/hour {describe(version.review_cost_per_hour)}"
            )
    click.echo(f"assignment rules ({len(settings.assignments)}, first match wins):")
    for index, rule in enumerate(settings.assignments):
        match = ", ".join(f"{k}={v}" for k, v in rule.match.items()) or "(every cell)"
        click.echo(f"  {index + 1}. {match} -> {rule.model}")
    click.echo(f"fixed costs ({len(settings.fixed_costs)}):")
    for cost in settings.fixed_costs:
        match = ", ".join(f"{k}={v}" for k, v in cost.match.items()) or "every cell"
        click.echo(f"  {cost.name}: {cost.amount:,.2f} {service.currency}/month by {cost.allocate_by}, over {match}")
    click.echo(f"pricing overrides: {len(settings.pricing.overrides)}; api tokens: {len(settings.api.tokens)}")


_URL_PASSWORD = re.compile(r"(://[^/?#@:\s]*:)[^@\s]*@")


def _without_password(value: object) -> str:
    """An option as shown: a password inside a URL (a sql source's url, a base_url) is a secret too."""
    return _URL_PASSWORD.sub(r"\1***@", str(value))
