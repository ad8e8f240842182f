from tuiapp.cli import main

# Guarded: the engine's helper processes (multiprocessing "spawn") import this
# module again, and must not start another tuiapp.
if __name__ == "__main__":
    raise SystemExit(main())
