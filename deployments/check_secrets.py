"""Refuse to start the compose stack with placeholder, default, short or shared secrets.

Run by the ``check-secrets`` service, which every other service waits for
(``service_completed_successfully``); stdlib only, so any Python image can run it. Exit 0 and
one line when every secret is real; exit 1 and one line naming each bad variable otherwise.

    python deployments/check_secrets.py        # checks the secrets in its environment
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

MIN_LENGTH = 12
SECRET_MARKERS = ("PASSWORD", "SECRET", "AUTH_STRING", "API_KEY", "WEBHOOK")  # a webhook URL carries its token
PLACEHOLDER = "change-me"
KNOWN_DEFAULTS = {"password", "password1234", "minioadmin", "admin", "postgres", "secret", "changeme"}


def secret_names(env: Mapping[str, str]) -> list[str]:
    """The variables that hold secrets, by name."""
    return sorted(k for k in env if any(m in k.upper() for m in SECRET_MARKERS))


def problems(env: Mapping[str, str]) -> list[str]:
    """One short reason per bad secret (empty: all good)."""
    found: list[str] = []
    seen: dict[str, str] = {}
    for name in secret_names(env):
        value = env[name]
        if name.upper().endswith("AUTH_STRING"):  # user:password
            value = value.partition(":")[2]
        if PLACEHOLDER in value.lower():
            found.append(f"{name} is the placeholder from .env.example")
        elif value.lower() in KNOWN_DEFAULTS:
            found.append(f"{name} is a well-known default")
        elif len(value) < MIN_LENGTH:
            found.append(f"{name} is shorter than {MIN_LENGTH} characters")
        elif value in seen:
            found.append(f"{name} repeats {seen[value]} (each role needs its own secret)")
        else:
            seen[value] = name
    return found


def main(env: Mapping[str, str] | None = None) -> int:
    env = os.environ if env is None else env
    bad = problems(env)
    if bad:
        print(f"refusing to start: {'; '.join(bad)}. Set real secrets in .env.", file=sys.stderr)
        return 1
    print(f"secrets: {len(secret_names(env))} checked, none is a placeholder, default or shared")
    return 0


if __name__ == "__main__":
    sys.exit(main())
