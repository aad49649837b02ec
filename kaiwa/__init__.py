"""kaiwa: a terminal chat agent for models behind a LiteLLM proxy."""

__version__ = "0.1.0"
