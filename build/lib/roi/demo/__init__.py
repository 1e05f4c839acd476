"""The demo company (Northwind Commerce): its data, its upstream servers, and `roi demo`."""

from .run import run_demo

__all__ = ["run_demo"]
