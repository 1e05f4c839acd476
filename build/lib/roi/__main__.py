"""The `roi` command (and `python -m roi`): process-level tuning first, then the CLI."""

from __future__ import annotations


def main() -> None:
    from .process_tuning import limit_malloc_arenas

    limit_malloc_arenas()  # before numpy and Arrow start threads: see roi.process_tuning
    from .cli import main as cli

    cli()


if __name__ == "__main__":
    main()
