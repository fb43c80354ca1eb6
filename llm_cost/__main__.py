"""`python -m llm_cost` runs the command-line interface."""

from llm_cost.cli import main

if __name__ == "__main__":
    main()
