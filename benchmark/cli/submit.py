"""(being written)"""


def register(subparsers) -> None:  # filled in by its issue
    return None
