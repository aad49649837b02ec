"""`python -m kaiwa`."""

from kaiwa.entry import main

main()
