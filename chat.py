"""kaiwa's entry point: `uv run chat.py --input "こんにちは"` (see `uv run chat.py --help`)."""

from kaiwa.cli import run

if __name__ == "__main__":
    run()
