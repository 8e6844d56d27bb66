import sys

from workbench.interfaces.cli import main

# The guard matters: vLLM's engine starts its workers with multiprocessing's "spawn", which re-imports this module.
if __name__ == "__main__":
    sys.exit(main())
