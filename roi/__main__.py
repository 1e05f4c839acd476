"""The `roi` command (and `python -m roi`): process-level tuning first (malloc arenas, BLAS threads), then the CLI."""

from __future__ import annotations


def main() -> None:
    from .process_tuning import limit_blas_threads, limit_malloc_arenas

    limit_malloc_arenas()  # before numpy and Arrow start threads: see roi.process_tuning
    limit_blas_threads()  # before numpy loads OpenBLAS
    from .cli import main as cli

    cli()


if __name__ == "__main__":
    main()
