"""kaiwa's entry point: `uv run chat.py --input "こんにちは"` (see `uv run chat.py --help`)."""

from kaiwa.entry import main

if __name__ == "__main__":
    main()
