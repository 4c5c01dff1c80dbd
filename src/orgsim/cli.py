"""orgsim command line (serve, login)."""


def main() -> None:
    raise SystemExit("orgsim: not built yet")
