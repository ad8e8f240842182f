from tuiapp.cli import main

# Guarded: a process started with multiprocessing's "spawn" imports this
# module again, and must not start another tuiapp.
if __name__ == "__main__":
    raise SystemExit(main())
