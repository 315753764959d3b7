"""``python -m lookalike``: the same command line as the ``lookalike`` script."""

from lookalike.cli import app

if __name__ == "__main__":
    app(prog_name="lookalike")
