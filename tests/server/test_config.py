"""Settings: defaults → config.yaml → IVR_* env → overrides, and errors with positions."""

from __future__ import annotations

from pathlib import Path

import pytest

from ivr.config import ConfigError, Settings, load_settings
from tests.conftest import ROOT

GOOD = 'emergency_number: "+15551230000"\n'


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_shipped_config_yaml_loads_and_documents_every_setting() -> None:
    s = load_settings(str(ROOT / "config.yaml"), environ={})
    assert s.emergency_number.startswith("+") and s.validate_signatures
    text = (ROOT / "config.yaml").read_text()
    for name in Settings.__dataclass_fields__:
        assert f"{name}:" in text, name


def test_precedence_defaults_file_env_overrides(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD + "call_ttl: 100\nflows_dir: from-file\nclock: ''\n")
    env = {"IVR_CALL_TTL": "200", "IVR_TWILIO__AUTH_TOKEN": "tok", "IVR_BEHIND_PROXY": "true"}
    s = load_settings(path, {"flows_dir": "from-override"}, env)
    assert (s.call_ttl, s.flows_dir, s.twilio.auth_token, s.behind_proxy) == \
        (200, "from-override", "tok", True)
    assert s.redis_db_path == "var/ivr.db"  # default


def test_sdk_and_heroku_conventions(tmp_path: Path) -> None:
    env = {"TWILIO_AUTH_TOKEN": "sdk", "TWILIO_ACCOUNT_SID": "AC1", "REDIS_URL": "redis://r"}
    s = load_settings(write(tmp_path, GOOD), environ=env)
    assert (s.twilio.auth_token, s.twilio.account_sid, s.redis_url) == ("sdk", "AC1", "redis://r")
    env["IVR_TWILIO__AUTH_TOKEN"] = "ivr"
    assert load_settings(write(tmp_path, GOOD), environ=env).twilio.auth_token == "ivr"


def test_config_path_from_env(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD + "call_ttl: 42\n")
    assert load_settings(environ={"IVR_CONFIG": path}).call_ttl == 42


def test_unknown_key_has_position_and_suggestion(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD + "call_tl: 3\n")
    with pytest.raises(ConfigError) as err:
        load_settings(path, environ={})
    p = err.value.problems[0]
    assert (p.file, p.line, p.col) == (path, 2, 1) and "call_ttl" in p.hint
    assert f"{path}:2:1" in str(err.value)


def test_yaml_syntax_error_has_position(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD + "flows_dir: [oops\n")
    with pytest.raises(ConfigError) as err:
        load_settings(path, environ={})
    assert err.value.problems[0].file == path and err.value.problems[0].line >= 2


def test_wrong_type_is_reported(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD + "call_ttl: soon\n")
    with pytest.raises(ConfigError, match="call_ttl.*must be a whole number"):
        load_settings(path, environ={})
    with pytest.raises(ConfigError, match="validate_signatures"):
        load_settings(write(tmp_path, GOOD), environ={"IVR_VALIDATE_SIGNATURES": "maybe"})


def test_emergency_number_must_be_e164(tmp_path: Path) -> None:
    path = write(tmp_path, 'emergency_number: "555-1234"\n')
    with pytest.raises(ConfigError) as err:
        load_settings(path, environ={})
    assert err.value.problems[0].line == 1 and "E.164" in err.value.problems[0].message


def test_clock_is_checked_and_fixes_now(tmp_path: Path) -> None:
    s = load_settings(write(tmp_path, GOOD + "clock: '2026-11-20T14:05:00-05:00'\n"),
                      environ={})
    now = s.now()
    assert now is not None and now.hour == 14
    with pytest.raises(ConfigError, match="clock"):
        load_settings(write(tmp_path, GOOD + "clock: tomorrow\n"), environ={})


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config"):
        load_settings(str(tmp_path / "nope.yaml"), environ={})


def test_not_a_mapping(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="mapping"):
        load_settings(write(tmp_path, "- a\n- b\n"), environ={})


def test_ops_users_and_secret_key_from_file_and_env(tmp_path: Path) -> None:
    cfg = tmp_path / "config.yaml"
    cfg.write_text('ops_users: {ana: "pbkdf2:sha256:1$x$y"}\nsecret_key: s3\n'
                   'emergency_number: "+15559990000"\n')
    s = load_settings(str(cfg), environ={})
    assert s.ops_users == {"ana": "pbkdf2:sha256:1$x$y"} and s.secret_key == "s3"
    s = load_settings(str(cfg), environ={"IVR_OPS_USERS": '{"bo": "h"}'})
    assert s.ops_users == {"bo": "h"}
    with pytest.raises(ConfigError, match="ops_users"):
        load_settings(str(cfg), environ={"IVR_OPS_USERS": "not json"})


def test_cache_sizes_must_hold_at_least_one_entry(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_settings(write(tmp_path, GOOD + "draft_cache_size: 0\n"), environ={})
    p = err.value.problems[0]
    assert "draft_cache_size must be at least 1" in p.message and (p.line, p.col) == (2, 1)
    assert load_settings(write(tmp_path, GOOD), environ={}).compiled_cache_size == 64


def test_each_bad_size_is_reported_at_its_own_line(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD + "call_ttl: 100\nmax_body: 0\n")
    with pytest.raises(ConfigError) as err:
        load_settings(path, environ={})
    (p,) = err.value.problems
    assert (p.line, p.message) == (3, "max_body must be positive, not 0")


def test_a_setting_left_unset_says_where_to_set_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_settings(write(tmp_path, "call_ttl: 100\n"), environ={})
    (p,) = err.value.problems
    assert p.file == "defaults" and p.message == "emergency_number is not set"
    assert "IVR_EMERGENCY_NUMBER" in p.hint


def test_types_are_named_in_words(tmp_path: Path) -> None:
    for text, words in (("validate_signatures: maybe\n", "true or false"),
                        ("redis_timeout: slow\n", "a number"),
                        ("job_retry_intervals: [a]\n", "a list of whole seconds")):
        with pytest.raises(ConfigError, match=f"must be {words}"):
            load_settings(write(tmp_path, GOOD + text), environ={})


def test_environment_problems_name_the_variable() -> None:
    from ivr.config import check_environment

    problems = check_environment({"IVR_TWILIO__AUTH_TOKN": "x", "IVR_CALL_TTL": "soon",
                                  "IVR_CONFIG": "x.yaml", "HOME": "/root"})
    assert sorted(p.message for p in problems) == [
        "IVR_CALL_TTL (setting 'call_ttl') must be a whole number, not 'soon'",
        "unknown IVR_TWILIO__AUTH_TOKN (setting 'twilio.auth_tokn')"]
    assert check_environment({"IVR_CALL_TTL": "60"}) == []


def test_a_reading_command_needs_no_emergency_number(tmp_path: Path) -> None:
    path = write(tmp_path, "archive_url: postgresql://db/ivr\n")
    assert load_settings(path, environ={}, serving=False).archive_url == "postgresql://db/ivr"
    with pytest.raises(ConfigError, match="not an E.164"):
        load_settings(write(tmp_path, 'emergency_number: "911"\n'), environ={}, serving=False)


# --- Redis topologies --------------------------------------------------------------------

def _problems(**over: object) -> list[str]:
    from ivr.config import ConfigError

    base = {"emergency_number": "+15551230000"}
    try:
        load_settings(None, {**base, **over}, environ={})
    except ConfigError as exc:
        return [p.message for p in exc.problems]
    return []


def test_cluster_without_a_jobs_redis_is_a_start_up_error_naming_the_setting() -> None:
    got = _problems(redis_cluster=True, redis_cluster_nodes=["127.0.0.1:7000"])
    assert len(got) == 1 and "jobs_redis_url" in got[0] and "RQ" in got[0]
    assert _problems(redis_cluster=True, redis_cluster_nodes=["127.0.0.1:7000"],
                     jobs_redis_url="redis://127.0.0.1:6379/0") == []
    assert _problems(redis_cluster=True, redis_cluster_nodes=["127.0.0.1:7000"],
                     jobs_redis_sentinels=["127.0.0.1:26379"],
                     jobs_redis_sentinel_master="jobs") == []


@pytest.mark.parametrize(("over", "needle"), [
    ({"redis_cluster": True, "jobs_redis_url": "redis://x"}, "redis_cluster_nodes"),
    ({"redis_sentinels": ["a:26379"]}, "redis_sentinel_master is not set"),
    ({"redis_sentinel_master": "m"}, "redis_sentinels is not set"),
    ({"redis_sentinels": ["a:26379"], "redis_sentinel_master": "m",
      "redis_url": "redis://x"}, "redis_sentinels and redis_url"),
    ({"redis_sentinels": ["a"], "redis_sentinel_master": "m"}, "'a' is not host:port"),
    ({"redis_cluster_nodes": ["a:1"]}, "redis_cluster is off"),
    ({"jobs_redis_url": "redis://x", "jobs_redis_sentinels": ["a:1"],
      "jobs_redis_sentinel_master": "m"}, "both set"),
    ({"redis_connect_timeout": 0}, "redis_connect_timeout"),
])
def test_bad_topologies_are_refused_with_the_setting(over: dict[str, object],
                                                     needle: str) -> None:
    got = _problems(**over)
    assert any(needle in m for m in got), got


def test_address_lists_from_the_environment() -> None:
    env = {"IVR_REDIS_SENTINELS": "10.0.0.5:26379, 10.0.0.6:26379",
           "IVR_REDIS_SENTINEL_MASTER": "calls",
           "IVR_JOBS_REDIS_SENTINELS": '["10.0.0.7:26379"]',
           "IVR_JOBS_REDIS_SENTINEL_MASTER": "jobs", "IVR_EMERGENCY_NUMBER": "+15551230000"}
    s = load_settings(None, None, environ=env)
    assert s.redis_sentinels == ["10.0.0.5:26379", "10.0.0.6:26379"]
    assert s.jobs_redis_sentinels == ["10.0.0.7:26379"]
    assert (s.redis_connect_timeout, s.redis_timeout) == (0.5, 1.0)
