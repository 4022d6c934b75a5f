"""Secrets never reach the logs. Marked `last`: it runs after every other test (also the
disruptive ones) and greps every file under $STATE/logs for every credential the suite sent
(helpers.SECRETS_USED: API tokens, session cookies, JWTs) plus the stack's own tokens and the
JWT secret. Run alone, it still checks the stack's tokens and the JWT secret."""

import pytest

import helpers


def needles(value):
    """What would count as a leak of `value`: the whole value, and for an API token also its
    hex part and either half of it (128 bits is still a secret)."""
    out = {value}
    if value.startswith("ops_") and len(value) == 68:
        hex_part = value[4:]
        out |= {hex_part, hex_part[:32], hex_part[32:]}
    return {n for n in out if len(n) >= 16}


@pytest.mark.last
def test_no_token_or_secret_appears_in_any_log(stack, tokens):
    secrets = set(helpers.SECRETS_USED) | set(tokens.values())
    for key in ("OPS_JWT_HS256_SECRET", "OPS_SESSION_SECRET"):
        if stack.env.get(key):
            secrets.add(stack.env[key])
    files = sorted(p for p in stack.log_dir.rglob("*") if p.is_file())
    assert files, f"no log files under {stack.log_dir}"
    all_needles = sorted({n for s in secrets for n in needles(s)}, key=len, reverse=True)
    leaks = []
    for path in files:
        data = path.read_bytes()
        present = [n for n in all_needles if n.encode() in data]
        if not present:
            continue
        for line in data.splitlines():
            if any(n.encode() in line for n in present):
                shown = line.decode("utf-8", "replace")
                for needle in all_needles:  # the report must not leak them either
                    shown = shown.replace(needle, "<SECRET>")
                leaks.append(f"{path.name}: {shown[:300]}")
    assert not leaks, (f"{len(leaks)} secret(s) found in the logs ({len(secrets)} credentials checked "
                       f"in {len(files)} files):\n  " + "\n  ".join(leaks))
