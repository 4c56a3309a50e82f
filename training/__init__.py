"""training package of changewatch (see the issues that build it)."""

__all__: list[str] = []
