"""Stage tool for contributors and parity work: dump every stage's intermediate output as .npy.

Usage: python -m stepaudio_engine.stages <command> --help
Each command lives in its own module of this package and registers itself in COMMANDS.
"""
