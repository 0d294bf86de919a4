from __future__ import annotations

from pathlib import Path

import pytest

from skyferry.app import load_setup
from skyferry.config import ConfigurationError, load_settings
from skyferry.services.books.settings import BooksSettings


def test_defaults_are_the_embedded_laptop_setup() -> None:
    settings = load_settings()
    assert settings.database_url == "sqlite:///.skyferry/skyferry.db"
    assert settings.dbos_system_url == "sqlite:///.skyferry/skyferry.dbos.db"
    assert settings.blob_url == "file://./.skyferry/blobs"
    assert settings.migrate_on_start is True
    assert settings.services is None
    # skyferry's own app loads every installed service, a team's app none unless it asks
    assert {s.name for s in load_setup(default_services=None).services} == {
        "demo",
        "inventory",
        "books",
        "library",
        "datasets",
        "tours",
    }
    assert load_setup(default_services=()).services == []


def test_postgres_url_gets_the_psycopg_driver_and_shares_the_database_with_dbos(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SKYFERRY_DATABASE_URL", "postgresql://app@db:5432/shop")
    settings = load_settings()
    assert settings.sqlalchemy_url == "postgresql+psycopg://app@db:5432/shop"
    assert settings.dbos_system_url == "postgresql://app@db:5432/shop"
    assert settings.migrate_on_start is False


def test_lists_accept_commas_or_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SKYFERRY_CORS_ORIGINS", "https://a.example, https://b.example")
    monkeypatch.setenv("SKYFERRY_SERVICES", '["demo", "books"]')
    monkeypatch.setenv("SKYFERRY_API_KEYS", "k1,k2")
    settings = load_settings()
    assert settings.cors_origins == ["https://a.example", "https://b.example"]
    assert settings.services == ["demo", "books"]
    assert [key.get_secret_value() for key in settings.api_keys] == ["k1", "k2"]


def test_nested_service_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SKYFERRY_BOOKS__PROVIDER", "openai")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:5000")
    settings = load_setup(default_services=["books"]).settings
    assert settings.of(BooksSettings).provider == "openai"
    assert settings.aws_endpoint_url == "http://127.0.0.1:5000"


def test_overrides_reach_a_services_settings() -> None:
    settings = load_settings(books={"provider": "openai", "openai_model": "m-1"})
    own = load_setup(settings, default_services=["books"]).settings.of(BooksSettings)
    assert (own.provider, own.openai_model) == ("openai", "m-1")


def test_settings_of_a_service_not_loaded_say_so() -> None:
    settings = load_setup(default_services=["demo"]).settings
    with pytest.raises(ConfigurationError, match="BooksSettings"):
        settings.of(BooksSettings)


def test_env_file_is_read() -> None:
    with open(".env", "w") as env:
        env.write("SKYFERRY_LOG_LEVEL=DEBUG\n")
    assert load_settings().log_level == "DEBUG"


def test_bad_values_name_the_variable_and_what_it_expects(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SKYFERRY_DATABASE_URL", "mysql://x")
    monkeypatch.setenv("SKYFERRY_BLOB_URL", "ftp://x")
    with pytest.raises(ConfigurationError) as error:
        load_settings()
    message = str(error.value)
    assert "SKYFERRY_DATABASE_URL: Value error, expected sqlite:///path or postgresql://" in message
    assert "SKYFERRY_BLOB_URL: Value error, expected file://path, memory:// or s3://" in message


def test_services_are_checked_against_what_is_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SKYFERRY_SERVICES", "demo,weather")
    with pytest.raises(ConfigurationError) as error:
        load_setup(default_services=None)
    assert "SKYFERRY_SERVICES names ['weather'], which no installed package provides" in str(
        error.value
    )


def test_bad_service_values_name_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SKYFERRY_INVENTORY__BACKEND", "mongo")
    with pytest.raises(ConfigurationError) as error:
        load_setup(default_services=["inventory"])
    assert "SKYFERRY_INVENTORY__BACKEND: Input should be 'sql' or 'dynamodb'" in str(error.value)


def test_secrets_are_never_echoed_in_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SKYFERRY_API_KEYS", '[{"not": "a string"}]')
    with pytest.raises(ConfigurationError) as error:
        load_settings()
    assert "SKYFERRY_API_KEYS" in str(error.value)
    assert "not" not in str(error.value).split("SKYFERRY_API_KEYS", 1)[1]


def test_the_short_postgres_scheme_heroku_sets_is_postgresql(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SKYFERRY_DATABASE_URL", "postgres://u:s3cret@h/db")
    monkeypatch.setenv("SKYFERRY_SYSTEM_DATABASE_URL", "postgres://u:s3cret@h/dbos")
    settings = load_settings()
    assert settings.database_url == "postgresql://u:s3cret@h/db"
    assert settings.is_postgres
    assert settings.sqlalchemy_url == "postgresql+psycopg://u:s3cret@h/db"
    assert settings.dbos_system_url == "postgresql://u:s3cret@h/dbos"
    assert settings.migrate_on_start is False


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("SKYFERRY_DATABASE_URL", "mysql://u:s3cret@h/db"),
        ("SKYFERRY_DATABASE_URL", "postgresql+asyncpg://u:s3cret@h:5432/db"),
        ("SKYFERRY_DATABASE_URL", "mysql://u:s3c@r/et@h/db"),  # unescaped '@' and '/'
        ("SKYFERRY_SYSTEM_DATABASE_URL", "mssql://h/db?user=u&password=s3cret"),
        ("SKYFERRY_BLOB_URL", "ftp://u:s3cret@h/blobs"),
    ],
)
def test_a_refused_url_is_shown_without_its_password(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigurationError) as error:
        load_settings()
    message = str(error.value)
    assert f"{variable}: Value error, expected" in message
    assert "s3c" not in message
    assert "://u:***@" in message or "password=***" in message


def test_a_dotenv_file_with_core_settings_loads_the_services_too(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # `heroku local` and honcho read .env too: it holds core and service settings side by side
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("SKYFERRY_LOG_LEVEL=WARNING\nSKYFERRY_DEMO__MAX_STEPS=7\n")
    monkeypatch.setenv("SKYFERRY_SERVICES", "demo")
    setup = load_setup(default_services=None)
    assert setup.settings.log_level == "WARNING"
    demo = setup.services[0]
    assert demo.settings is not None
    assert setup.settings.of(demo.settings).max_steps == 7


# the original services' variable names, read below skyferry's own


def test_s3_bucket_is_the_blob_store_unless_skyferry_blob_url_is_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("S3_BUCKET", "their-files")
    assert load_settings().blob_url == "s3://their-files"
    monkeypatch.setenv("SKYFERRY_BLOB_URL", "s3://ours/prefix")
    assert load_settings().blob_url == "s3://ours/prefix"


def test_dataset_bucket_is_the_blob_store_and_two_buckets_are_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DATASET_BUCKET", "their-parquet")
    assert load_settings().blob_url == "s3://their-parquet"
    monkeypatch.setenv("S3_BUCKET", "their-parquet")  # one bucket named twice is one
    assert load_settings().blob_url == "s3://their-parquet"
    monkeypatch.setenv("S3_BUCKET", "their-files")
    with pytest.raises(ConfigurationError, match="SKYFERRY_BLOB_URL"):
        load_settings()
    monkeypatch.setenv("SKYFERRY_BLOB_URL", "s3://one/store")
    assert load_settings().blob_url == "s3://one/store"


def test_table_name_is_the_inventory_table_unless_skyferry_names_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from skyferry.services.inventory.settings import InventorySettings

    monkeypatch.setenv("SKYFERRY_SERVICES", "inventory")
    monkeypatch.setenv("SKYFERRY_INVENTORY__BACKEND", "dynamodb")
    monkeypatch.setenv("TABLE_NAME", "their-items")
    inventory = load_setup(default_services=None).settings.of(InventorySettings)
    assert (inventory.backend, inventory.dynamodb_table) == ("dynamodb", "their-items")
    monkeypatch.setenv("SKYFERRY_INVENTORY__DYNAMODB_TABLE", "ours")
    inventory = load_setup(default_services=None).settings.of(InventorySettings)
    assert inventory.dynamodb_table == "ours"


def test_aws_endpoint_url_is_read_and_skyferrys_own_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://minio:9000")
    assert load_settings().aws_endpoint_url == "http://minio:9000"
    monkeypatch.setenv("SKYFERRY_AWS_ENDPOINT_URL", "http://moto:5000")
    assert load_settings().aws_endpoint_url == "http://moto:5000"
