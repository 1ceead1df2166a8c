"""Tests for the sample data generator (retcalc.sample)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from typer.testing import CliRunner

from retcalc.cli.app import app
from retcalc.errors import RetcalcError, UsageError
from retcalc.sample import SampleData, _write_atomically, generate, write_sample

START = date(2023, 1, 1)
END = date(2026, 1, 1)  # START + 3 years, exclusive

ORDER_SCHEMA = pl.Schema(
    {
        "order_id": pl.String,
        "customer_id": pl.String,
        "order_date": pl.Datetime("us"),
        "product_id": pl.String,
        "quantity": pl.Int64,
        "amount": pl.Float64,
        "status": pl.String,
        "channel": pl.String,
    }
)
CUSTOMER_SCHEMA = pl.Schema(
    {
        "customer_id": pl.String,
        "signup_date": pl.Date,
        "churn_date": pl.Date,
        "segment": pl.String,
        "cost_to_serve": pl.Float64,
    }
)
RETURN_SCHEMA = pl.Schema(
    {
        "order_id": pl.String,
        "customer_id": pl.String,
        "return_date": pl.Date,
        "product_id": pl.String,
        "quantity": pl.Int64,
        "amount": pl.Float64,
    }
)


@pytest.fixture(scope="module")
def data() -> SampleData:
    """The shipped sample: 3,000 customers, seed 42, 2023-2025."""
    return generate(customers=3000, seed=42)


@pytest.fixture(scope="module")
def sales(data: SampleData) -> pl.DataFrame:
    """Sale lines (completed and cancelled), without the return lines."""
    return data.orders.filter(pl.col("status") != "returned")


@pytest.fixture(scope="module")
def purchases(data: SampleData) -> pl.DataFrame:
    """One row per completed order."""
    return (
        data.orders.filter(pl.col("status") == "completed")
        .group_by("order_id")
        .agg(pl.col("customer_id", "order_date").first())
    )


# --- determinism ----------------------------------------------------------------


def test_same_seed_gives_identical_frames() -> None:
    a = generate(customers=400, seed=7)
    b = generate(customers=400, seed=7)
    assert_frame_equal(a.customers, b.customers, check_exact=True)
    assert_frame_equal(a.orders, b.orders, check_exact=True)
    assert_frame_equal(a.returns, b.returns, check_exact=True)


def test_different_seed_gives_different_data() -> None:
    a = generate(customers=400, seed=7)
    b = generate(customers=400, seed=8)
    assert not a.orders.equals(b.orders)
    assert not a.customers.equals(b.customers)


def test_written_files_are_byte_identical(tmp_path: Path) -> None:
    first = write_sample(generate(customers=300, seed=3), tmp_path / "a")
    second = write_sample(generate(customers=300, seed=3), tmp_path / "b")
    for p, q in zip(first, second, strict=True):
        assert p.name == q.name
        assert p.read_bytes() == q.read_bytes(), p.name


# --- schema and ranges ----------------------------------------------------------


def test_schemas(data: SampleData) -> None:
    assert data.orders.schema == ORDER_SCHEMA
    assert data.customers.schema == CUSTOMER_SCHEMA
    assert data.returns.schema == RETURN_SCHEMA


def test_id_formats_and_categories(data: SampleData) -> None:
    orders, customers = data.orders, data.customers
    assert orders["order_id"].str.contains(r"^O\d{6}$").all()
    assert orders["customer_id"].str.contains(r"^C\d{5}$").all()
    assert orders["product_id"].str.contains(r"^P\d{4}$").all()
    assert customers["customer_id"].is_unique().all()
    assert customers["customer_id"].to_list()[:2] == ["C00001", "C00002"]
    assert set(orders["status"]) == {"completed", "cancelled", "returned"}
    assert set(orders["channel"]) == {"web", "app", "store"}
    assert set(customers["segment"]) == {"consumer", "small_business", "enterprise"}
    assert 100 <= orders["product_id"].n_unique() <= 200


@pytest.mark.parametrize(
    ("start", "years", "end"),
    [
        (START, 3.0, END),
        (date(2020, 3, 1), 1.5, date(2021, 8, 31)),  # + round(0.5 * 365.25) days
        (date(2024, 2, 29), 1.0, date(2025, 2, 28)),
    ],
    ids=["default", "fractional", "leap-day"],
)
def test_everything_lies_in_the_window(start: date, years: float, end: date) -> None:
    d = generate(customers=600, seed=11, start=start, years=years)
    start_dt = datetime.combine(start, datetime.min.time())
    end_dt = datetime.combine(end, datetime.min.time())
    assert start_dt <= d.orders["order_date"].min() < start_dt + timedelta(days=30)
    assert end_dt - timedelta(days=30) <= d.orders["order_date"].max() < end_dt
    assert d.returns["return_date"].max() < end
    for col in ("signup_date", "churn_date"):
        assert d.customers[col].min() >= start
        assert d.customers[col].max() < end


def test_orders_are_in_shop_hours(data: SampleData) -> None:
    hours = data.orders["order_date"].dt.hour()
    assert hours.min() >= 8
    assert hours.max() <= 21


def test_rows_sorted_by_date_then_order_id(data: SampleData) -> None:
    assert_frame_equal(data.orders.sort("order_date", "order_id", maintain_order=True), data.orders)
    assert data.customers["customer_id"].is_sorted()


def test_zero_customers_gives_empty_frames_with_the_schema() -> None:
    d = generate(customers=0, seed=1)
    assert d.orders.is_empty()
    assert d.customers.is_empty()
    assert d.orders.schema == ORDER_SCHEMA
    assert d.customers.schema == CUSTOMER_SCHEMA
    assert d.returns.schema == RETURN_SCHEMA


@pytest.mark.parametrize(
    "kwargs",
    [{"customers": -1, "seed": 1}, {"customers": 10, "seed": 1, "years": 0}],
    ids=["negative-customers", "zero-years"],
)
def test_bad_arguments(kwargs: dict[str, int]) -> None:
    with pytest.raises(UsageError):
        generate(**kwargs)


# --- invariants ------------------------------------------------------------------


def test_lines_of_an_order_share_customer_date_channel_status(sales: pl.DataFrame) -> None:
    per_order = sales.group_by("order_id").agg(
        pl.col("customer_id", "order_date", "channel", "status").n_unique()
    )
    assert (per_order.drop("order_id") == 1).select(pl.all().all()).row(0) == (True,) * 4
    # a product appears at most once in an order
    assert sales.select("order_id", "product_id").is_unique().all()


def test_amount_is_quantity_times_a_fixed_unit_price(data: SampleData) -> None:
    prices = data.orders.with_columns(price=pl.col("amount") / pl.col("quantity"))
    per_product = prices.group_by("product_id").agg(
        lo=pl.col("price").min(), hi=pl.col("price").max(), price=pl.col("price").first()
    )
    assert (per_product["hi"] - per_product["lo"]).max() < 1e-9
    assert per_product["price"].min() >= 4.99 - 1e-9
    assert per_product["price"].max() <= 199.99 + 1e-9
    check = prices.join(per_product.select("product_id", unit="price"), on="product_id")
    expected = (check["quantity"] * check["unit"]).round(2)
    assert ((check["amount"] - expected).abs() < 1e-9).all()
    assert (data.orders["amount"].round(2) == data.orders["amount"]).all()


def test_quantities_and_amounts_have_the_right_sign(data: SampleData) -> None:
    o = data.orders
    returned = pl.col("status") == "returned"
    assert (
        o.filter(returned)
        .select((pl.col("quantity") < 0) & (pl.col("amount") < 0))
        .to_series()
        .all()
    )
    assert (
        o.filter(~returned)
        .select((pl.col("quantity") > 0) & (pl.col("amount") > 0))
        .to_series()
        .all()
    )


def test_return_lines_reference_a_completed_sale(data: SampleData, sales: pl.DataFrame) -> None:
    returns = data.orders.filter(pl.col("status") == "returned")
    sold = sales.select(
        "order_id",
        "customer_id",
        "product_id",
        sold_qty="quantity",
        sold_at="order_date",
        sale_status="status",
    )
    joined = returns.join(sold, on=["order_id", "product_id"], how="left")
    assert joined["sold_qty"].null_count() == 0
    assert (joined["customer_id"] == joined["customer_id_right"]).all()
    assert (joined["sale_status"] == "completed").all()
    assert (-joined["quantity"] <= joined["sold_qty"]).all()
    # one return per line
    assert returns.select("order_id", "product_id").is_unique().all()
    days = (joined["order_date"].dt.date() - joined["sold_at"].dt.date()).dt.total_days()
    assert days.min() >= 3
    assert days.max() <= 40


def test_returns_export_matches_the_negative_lines(data: SampleData) -> None:
    from_orders = data.orders.filter(pl.col("status") == "returned").select(
        "order_id",
        "customer_id",
        return_date=pl.col("order_date").dt.date(),
        product_id="product_id",
        quantity=-pl.col("quantity"),
        amount=-pl.col("amount"),
    )
    assert_frame_equal(data.returns, from_orders, check_exact=True)
    assert data.returns.height > 0


def test_signup_before_first_order_and_churn_after_last(data: SampleData) -> None:
    activity = data.orders.group_by("customer_id").agg(
        first=pl.col("order_date").filter(pl.col("status") != "returned").min().dt.date(),
        last=pl.col("order_date").max().dt.date(),  # includes return dates
    )
    c = data.customers.join(activity, on="customer_id", how="left")
    assert (c["signup_date"] <= c["first"]).all()
    churned = c.filter(pl.col("churn_date").is_not_null())
    assert (churned["churn_date"] >= churned["last"]).all()
    assert (churned["churn_date"] >= churned["signup_date"]).all()
    assert set(data.orders["customer_id"]) <= set(data.customers["customer_id"])


def test_most_first_orders_are_on_the_signup_day(data: SampleData, purchases: pl.DataFrame) -> None:
    first = purchases.group_by("customer_id").agg(first=pl.col("order_date").min().dt.date())
    c = data.customers.join(first, on="customer_id")
    assert 0.6 <= (c["first"] == c["signup_date"]).mean() < 1


# --- realism ---------------------------------------------------------------------


def test_volume(data: SampleData, sales: pl.DataFrame) -> None:
    assert 8_000 <= data.orders.height <= 20_000
    assert 1.1 <= sales.height / sales["order_id"].n_unique() <= 2.0


def test_repeat_buying_is_realistic(purchases: pl.DataFrame) -> None:
    per_customer = purchases.group_by("customer_id").agg(n=pl.len())["n"]
    assert 0.55 <= (per_customer == 1).mean() <= 0.70
    assert per_customer.quantile(0.95) >= 5
    assert per_customer.max() >= 30


def test_gaps_vary_and_some_customers_lapse_and_come_back(purchases: pl.DataFrame) -> None:
    days = purchases.select("customer_id", day=pl.col("order_date").dt.date()).unique()
    gaps = (
        days.sort("customer_id", "day")
        .select(
            "customer_id",
            gap=(pl.col("day") - pl.col("day").shift().over("customer_id")).dt.total_days(),
        )
        .drop_nulls()
    )
    assert gaps["gap"].median() < gaps["gap"].mean()  # right skew
    assert gaps["gap"].min() == 1
    comebacks = gaps.filter(pl.col("gap") > 365)["customer_id"].n_unique()
    assert comebacks >= 0.02 * days["customer_id"].n_unique()


def test_new_customers_arrive_throughout_with_a_year_end_peak(data: SampleData) -> None:
    signups = data.customers["signup_date"]
    per_quarter = signups.dt.truncate("1q").value_counts()
    assert per_quarter.height == 12
    assert per_quarter["count"].min() >= 100
    by_month = signups.dt.month().value_counts().sort(signups.name)["count"]
    assert by_month[10] > 1.2 * by_month.mean() and by_month[11] > 1.2 * by_month.mean()


def test_some_customers_never_buy(data: SampleData) -> None:
    buyers = data.orders["customer_id"].n_unique()
    assert 0.01 * data.customers.height <= data.customers.height - buyers
    assert data.customers.height - buyers <= 0.10 * data.customers.height


def test_cancellations_and_returns(data: SampleData, sales: pl.DataFrame) -> None:
    orders = sales.group_by("order_id").agg(pl.col("status").first())
    assert 0.01 <= (orders["status"] == "cancelled").mean() <= 0.03
    assert 0.05 <= data.returns.height / sales.height <= 0.08
    returned = data.orders.filter(pl.col("status") == "returned").join(
        sales.select("order_id", sold_at="order_date").unique(), on="order_id"
    )
    later_month = returned["order_date"].dt.truncate("1mo") > returned["sold_at"].dt.truncate("1mo")
    assert later_month.sum() >= 0.2 * returned.height


def test_churn_dates(data: SampleData) -> None:
    assert 0.30 <= data.customers["churn_date"].is_not_null().mean() <= 0.40


def test_segments_channels_and_products_are_skewed(data: SampleData, sales: pl.DataFrame) -> None:
    seg = data.customers["segment"].value_counts(normalize=True).sort("proportion")
    assert seg["segment"].to_list() == ["enterprise", "small_business", "consumer"]
    per_order = sales.unique("order_id")
    channel = per_order["channel"].value_counts(normalize=True).sort("proportion")
    assert channel["channel"].to_list() == ["store", "app", "web"]
    top5 = sales["product_id"].value_counts().sort("count", descending=True)["count"].head(5)
    assert top5.sum() >= 0.15 * sales.height  # a few bestsellers
    orders_per_customer = (
        per_order.filter(pl.col("status") == "completed")
        .join(data.customers, on="customer_id")
        .group_by("segment")
        .agg(n=pl.len() / pl.col("customer_id").n_unique())
    )
    n = dict(orders_per_customer.iter_rows())
    assert n["enterprise"] > n["small_business"] > n["consumer"]


def test_cost_to_serve_is_high_relative_to_revenue_for_small_businesses(
    data: SampleData,
) -> None:
    revenue = (
        data.orders.filter(pl.col("status") != "cancelled")
        .group_by("customer_id")
        .agg(revenue=pl.col("amount").sum())
    )
    years_since_signup = (pl.lit(END) - pl.col("signup_date")).dt.total_days() / 365.25
    ratio = dict(
        data.customers.join(revenue, on="customer_id", how="left")
        .group_by("segment")
        .agg((pl.col("cost_to_serve") * years_since_signup).sum() / pl.col("revenue").sum())
        .iter_rows()
    )
    assert ratio["small_business"] > 0.4
    assert ratio["small_business"] > ratio["enterprise"] > ratio["consumer"]
    assert (data.customers["cost_to_serve"] > 0).all()


# --- writing ---------------------------------------------------------------------


def test_write_sample_writes_four_files_that_round_trip(tmp_path: Path) -> None:
    d = generate(customers=500, seed=5)
    target = tmp_path / "new" / "dir"
    paths = write_sample(d, target)
    assert [p.name for p in paths] == [
        "customers.csv",
        "orders.csv",
        "orders.parquet",
        "returns.csv",
    ]
    assert sorted(p.name for p in target.iterdir()) == sorted(
        p.name for p in paths
    )  # no temp files
    headers = {p.name: p.read_text().splitlines()[0] for p in paths if p.suffix == ".csv"}
    assert headers == {
        "customers.csv": "customer_id,signup_date,churn_date,segment,cost_to_serve",
        "orders.csv": "order_id,customer_id,order_date,product_id,quantity,amount,status,channel",
        "returns.csv": "order_id,customer_id,return_date,product_id,quantity,amount",
    }
    assert (target / "orders.csv").read_text().splitlines()[1].count(":") == 2  # HH:MM:SS
    for name, frame in [
        ("customers.csv", d.customers),
        ("orders.csv", d.orders),
        ("returns.csv", d.returns),
    ]:
        assert_frame_equal(
            pl.read_csv(target / name, try_parse_dates=True), frame, check_exact=True
        )
    assert_frame_equal(pl.read_parquet(target / "orders.parquet"), d.orders, check_exact=True)


def test_write_sample_refuses_a_directory_holding_its_files(tmp_path: Path) -> None:
    (tmp_path / "orders.csv").write_text("the user's orders\n")
    (tmp_path / "returns.csv").write_text("the user's returns\n")
    (tmp_path / "notes.txt").write_text("other\n")
    message = "refusing to overwrite orders.csv, returns.csv in .*; pass --force"
    with pytest.raises(UsageError, match=message):
        write_sample(generate(customers=50, seed=1), tmp_path)
    assert (tmp_path / "orders.csv").read_text() == "the user's orders\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt", "orders.csv", "returns.csv"]


def test_write_sample_refuses_a_dangling_link_too(tmp_path: Path) -> None:
    (tmp_path / "customers.csv").symlink_to(tmp_path / "elsewhere.csv")
    with pytest.raises(UsageError, match=r"refusing to overwrite customers\.csv"):
        write_sample(generate(customers=50, seed=1), tmp_path)
    assert not (tmp_path / "elsewhere.csv").exists()


def test_write_sample_replaces_existing_files_with_force(tmp_path: Path) -> None:
    (tmp_path / "orders.csv").write_text("old\n")
    write_sample(generate(customers=50, seed=1), tmp_path, force=True)
    assert (tmp_path / "orders.csv").read_text().startswith("order_id,")


def test_failed_write_leaves_the_old_file_and_no_temp_file(tmp_path: Path) -> None:
    target = tmp_path / "orders.csv"
    target.write_text("old\n")

    def half_write(sink: object) -> None:
        sink.write(b"order_id,cust")  # type: ignore[attr-defined]
        raise OSError(28, "No space left on device")

    with pytest.raises(RetcalcError, match=r"cannot write .*orders.csv: No space left on device"):
        _write_atomically(target, half_write)
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["orders.csv"]


# --- the command -------------------------------------------------------------------


def test_sample_command_refuses_to_overwrite_then_force_replaces(tmp_path: Path) -> None:
    cli = CliRunner()
    folder = tmp_path / "data"
    args = ["sample", "--output", str(folder), "--customers", "40", "--seed", "3"]
    first = cli.invoke(app, args)
    assert first.exit_code == 0, first.stderr
    written = {p.name: p.read_bytes() for p in folder.iterdir()}
    assert sorted(written) == ["customers.csv", "orders.csv", "orders.parquet", "returns.csv"]
    (folder / "customers.csv").write_text("edited by hand\n")

    again = cli.invoke(app, [*args[:-1], "4"])
    assert again.exit_code == 2
    assert again.stderr == (
        "retcalc: error: refusing to overwrite customers.csv, orders.csv, orders.parquet, "
        f"returns.csv in {folder}; pass --force to replace them, or choose another --output\n"
    )
    assert (folder / "customers.csv").read_text() == "edited by hand\n"
    assert (folder / "orders.csv").read_bytes() == written["orders.csv"]

    forced = cli.invoke(app, [*args, "--force"])
    assert forced.exit_code == 0, forced.stderr
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == written  # same seed
