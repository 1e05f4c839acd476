"""roi: cost and value of production AI systems."""
