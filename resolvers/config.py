"""Configuration that the service layer needs, injected by the composition root.

app.py reads the environment and calls `configure()`; resolvers read `get_config()`.
Keeping it here (not in app.py) preserves the import direction models ← resolvers ← app.
"""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Config:
    """Service-layer settings. Thresholds default to 人社部令第40号 and SPEC.md."""

    secret_key: str
    debug: bool = False
    quorum_share: tuple[int, int] = (2, 3)
    pass_share: tuple[int, int] = (2, 3)
    external_share: tuple[int, int] = (1, 3)
    youth_floor_percent: int = 20
    committee_min_roster: int = 5
    argon2_profile: str = "default"  # "cheapest" in tests only
    # Where uploaded evidence files live, outside the web root (app.Settings.var_dir).
    var_dir: str = "var"
    # Shared counters (resolvers/throttle.py): Redis when set, else the database.
    redis_url: str = ""
    redis_prefix: str = "pingshen:"
    # GraphQL cost (estimated nodes, schema/limits.py) a partner token may spend a minute.
    token_cost_per_minute: int = 100_000
    extra: dict[str, str] = field(default_factory=dict)


_config: Config | None = None


def configure(config: Config) -> None:
    """Install the configuration (called by app.create_app and the CLI)."""
    global _config
    _config = config
    from resolvers import personal

    personal.reset_keys()


def get_config() -> Config:
    if _config is None:
        raise RuntimeError("resolvers.config.configure() has not been called")
    return _config
