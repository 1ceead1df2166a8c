"""Column mapping: flags > YAML config > known export > synonyms (SPEC §1, EXPORTS.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from retcalc.errors import InputError, UsageError
from retcalc.io.frames import LoadOptions, load_orders
from retcalc.io.load import open_table
from retcalc.io.mapping import (
    config_columns,
    detect_export,
    load_config,
    require,
    resolve,
    suggest,
)
from retcalc.schema import Kind, normalize


def mapped(headers: list[str], **flags: str | None) -> dict[str, str]:
    """canonical -> source header for an orders file with these headers."""
    result = resolve(headers, Kind.orders, name="f.csv", flags=flags, config={})
    return {k: v.source for k, v in result.columns.items()}


# Synonyms.


@pytest.mark.parametrize(
    "header",
    ["CustomerID", "Customer ID", "customer_id", "client_id", "user_id", "email", "CUSTOMER-ID"],
)
def test_customer_synonyms(header: str) -> None:
    result = resolve([header, "order_date"], Kind.orders, name="f", flags={}, config={})
    assert result.get("customer_id") == header
    assert result.columns["customer_id"].reason == "synonym"


@pytest.mark.parametrize(
    "header", ["InvoiceDate", "created_at", "date", "purchase_date", "Order Date", "CREATED AT"]
)
def test_order_date_synonyms(header: str) -> None:
    assert mapped(["customer_id", header])["order_date"] == header


@pytest.mark.parametrize("header", ["total", "revenue", "order_total", "Order Total", "Amount"])
def test_amount_synonyms(header: str) -> None:
    assert mapped(["customer_id", "order_date", header])["amount"] == header


def test_synonyms_follow_their_priority() -> None:
    """An id column is preferred over an email when both exist."""
    assert mapped(["email", "user_id", "date"])["customer_id"] == "user_id"


def test_normalize_ignores_case_and_punctuation() -> None:
    assert normalize("Customer ID") == normalize("customer_id") == normalize("CustomerID")


# Flag > config > synonym.

HEADERS = ["customer_id", "client_id", "user_id", "order_date"]


def test_synonym_when_nothing_is_given() -> None:
    result = resolve(HEADERS, Kind.orders, name="f", flags={}, config={})
    assert result.get("customer_id") == "customer_id"


def test_config_beats_synonym() -> None:
    result = resolve(HEADERS, Kind.orders, name="f", flags={}, config={"customer_id": "client_id"})
    assert result.get("customer_id") == "client_id"
    assert result.columns["customer_id"].reason == "config"


def test_flag_beats_config() -> None:
    result = resolve(
        HEADERS,
        Kind.orders,
        name="f",
        flags={"customer_id": "user_id"},
        config={"customer_id": "client_id"},
    )
    assert result.get("customer_id") == "user_id"
    assert result.columns["customer_id"].reason == "flag"


def test_flag_matches_headers_loosely() -> None:
    assert (
        mapped(["Client Ref", "order_date"], customer_id="client ref")["customer_id"]
        == "Client Ref"
    )


def test_unknown_flag_column_suggests_close_names() -> None:
    with pytest.raises(InputError) as info:
        resolve(
            ["Customer", "order_date"],
            Kind.orders,
            name="f.csv",
            flags={"customer_id": "Custmer"},
            config={},
        )
    message = info.value.message
    assert "f.csv" in message and "'Custmer'" in message and "'Customer'" in message


def test_unknown_config_column_is_an_error() -> None:
    with pytest.raises(InputError) as info:
        resolve(HEADERS, Kind.orders, name="f.csv", flags={}, config={"customer_id": "client_ids"})
    assert "'client_ids'" in info.value.message and "'client_id'" in info.value.message


def test_flag_beats_config_end_to_end(tmp_path: Path) -> None:
    path = tmp_path / "o.csv"
    path.write_text("customer_id,client_id,user_id,order_date\nA,B,C,2024-01-01\n")
    config = {"orders": {"columns": {"customer_id": "client_id"}}}
    via_config = load_orders(str(path), LoadOptions(config=config))
    assert via_config.frame["customer_id"].to_list() == ["B"]
    via_flag = load_orders(
        str(path), LoadOptions(config=config, order_flags={"customer_id": "user_id"})
    )
    assert via_flag.frame["customer_id"].to_list() == ["C"]


# The YAML config.


def test_config_file_shapes(tmp_path: Path) -> None:
    path = tmp_path / "retcalc.yaml"
    path.write_text("orders:\n  columns:\n    customer_id: Client\n    order_date: When\n")
    config = load_config(path)
    assert config_columns(config, Kind.orders) == {"customer_id": "Client", "order_date": "When"}
    path.write_text("orders:\n  customer_id: Client\n")
    assert config_columns(load_config(path), Kind.orders) == {"customer_id": "Client"}
    path.write_text("columns:\n  customer_id: Client\n")
    assert config_columns(load_config(path), Kind.orders) == {"customer_id": "Client"}
    path.write_text("customers:\n  columns:\n    signup_date: Joined\n")
    assert config_columns(load_config(path), Kind.customers) == {"signup_date": "Joined"}


def test_default_config_is_read_from_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert load_config(None) == {}
    (tmp_path / "retcalc.yaml").write_text("columns:\n  customer_id: Client\n")
    assert load_config(None) == {"columns": {"customer_id": "Client"}}


def test_empty_config_is_no_mapping(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("")
    assert load_config(path) == {}


@pytest.mark.parametrize(
    "text",
    [
        "orders: !!python/object:collections.OrderedDict {{}}\n",
        "orders: !!python/object/apply:os.mkdir [{target}]\n",
        "!!python/object/new:pathlib.Path [{target}]\n",
    ],
    ids=["object", "object-apply", "object-new"],
)
def test_python_tags_are_refused_not_executed(tmp_path: Path, text: str) -> None:
    target = tmp_path / "pwned"
    path = tmp_path / "evil.yaml"
    path.write_text(text.format(target=str(target)))
    with pytest.raises(UsageError) as info:
        load_config(path)
    assert "evil.yaml" in info.value.message
    assert not target.exists()


def test_invalid_yaml_and_wrong_shape(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("orders: [unclosed\n")
    with pytest.raises(UsageError):
        load_config(path)
    path.write_text("- a\n- b\n")
    with pytest.raises(UsageError) as info:
        load_config(path)
    assert "mapping" in info.value.message


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(UsageError) as info:
        load_config(tmp_path / "nope.yaml")
    assert "nope.yaml" in info.value.message


def test_config_with_an_unknown_canonical_name() -> None:
    with pytest.raises(UsageError) as info:
        config_columns({"orders": {"columns": {"custmer_id": "x"}}}, Kind.orders)
    assert "custmer_id" in info.value.message and "customer_id" in info.value.message


# Missing required columns.


@pytest.mark.parametrize(
    ("headers", "canonical", "close", "flag"),
    [
        (["custmer", "order_date"], "customer_id", "'custmer'", "--customer-col"),
        (["cust_no", "purchase_dt", "amount"], "customer_id", "'cust_no'", "--customer-col"),
        (["customer_id", "orderdate_local"], "order_date", "'orderdate_local'", "--date-col"),
    ],
)
def test_missing_required_column_suggests_close_names(
    headers: list[str], canonical: str, close: str, flag: str
) -> None:
    mapping = resolve(headers, Kind.orders, name="f.csv", flags={}, config={})
    with pytest.raises(InputError) as info:
        require(mapping, ["customer_id", "order_date"], headers, name="f.csv")
    message = info.value.message
    assert "f.csv" in message
    assert canonical in message
    assert close in message
    assert flag in message


def test_suggest_is_empty_when_nothing_is_close() -> None:
    assert suggest("customer_id", ["zzz", "qqq"]) == ""


def test_missing_amount_only_when_needed(tmp_path: Path) -> None:
    path = tmp_path / "o.csv"
    path.write_text("customer_id,order_date\nA,2024-01-01\n")
    assert load_orders(str(path), LoadOptions()).frame.height == 1
    with pytest.raises(InputError) as info:
        load_orders(str(path), LoadOptions(), need_amount=True)
    assert "amount" in info.value.message and "--amount-col" in info.value.message


# Amount from unit price x quantity.


def test_amount_is_price_times_quantity(tmp_path: Path) -> None:
    path = tmp_path / "o.csv"
    path.write_text(
        "customer_id,order_date,price,quantity\nA,2024-01-01,2.50,4\nB,2024-01-02,10,-1\n"
    )
    loaded = load_orders(str(path), LoadOptions(), need_amount=True)
    assert loaded.frame.sort("_retcalc_row")["amount"].to_list() == [10.0, -10.0]
    assert "unit_price" not in loaded.frame.columns


def test_amount_column_wins_over_price_times_quantity(tmp_path: Path) -> None:
    path = tmp_path / "o.csv"
    path.write_text("customer_id,order_date,price,quantity,total\nA,2024-01-01,2.50,4,9\n")
    loaded = load_orders(str(path), LoadOptions(), need_amount=True)
    assert loaded.frame["amount"].to_list() == [9.0]


def test_money_text_is_cleaned(tmp_path: Path) -> None:
    path = tmp_path / "o.csv"
    path.write_text(
        'customer_id,order_date,total\nA,2024-01-01,$9.00\nB,2024-01-02,-$0.95\nC,2024-01-03,"1,234.50"\n'
    )
    loaded = load_orders(str(path), LoadOptions(), need_amount=True)
    assert loaded.frame.sort("_retcalc_row")["amount"].to_list() == [9.0, -0.95, 1234.5]


def test_bad_amount_names_line_and_value(tmp_path: Path) -> None:
    path = tmp_path / "o.csv"
    path.write_text("customer_id,order_date,total\nA,2024-01-01,9\nB,2024-01-02,n/a\n")
    with pytest.raises(InputError) as info:
        load_orders(str(path), LoadOptions(), need_amount=True)
    message = info.value.message
    assert (
        "o.csv" in message and "'total'" in message and "line 3" in message and "'n/a'" in message
    )


# Known exports, recognised by a subset of their headers.

SHOPIFY = (
    "Name,Email,Financial Status,Paid at,Fulfillment Status,Fulfilled at,Accepts Marketing,"
    "Currency,Subtotal,Shipping,Taxes,Total,Discount Code,Discount Amount,Shipping Method,"
    "Created at,Lineitem quantity,Lineitem name,Lineitem price,Lineitem compare at price,"
    "Lineitem sku,Cancelled at,Payment Method,Payment Reference,Refunded Amount,Vendor,Id,Tags,"
    "Risk Level,Source,Lineitem discount"
)
STRIPE_OLD = (
    "id,Description,Seller Message,Created (UTC),Amount,Amount Refunded,Currency,Converted Amount,"
    "Converted Amount Refunded,Fee,Taxes On Fee,Converted Currency,Status,Statement Descriptor,"
    "Customer ID,Customer Description,Customer Email,Captured,Card ID,Invoice ID,Transfer"
)
STRIPE_NEW = (
    "id,Created date (UTC),Amount,Amount Refunded,Currency,Captured,Converted Amount,"
    "Converted Amount Refunded,Converted Currency,Decline Reason,Description,Fee,"
    "Refunded date (UTC),Statement Descriptor,Status,Seller Message,Taxes On Fee,Card ID,"
    "Customer ID,Customer Description,Customer Email,Invoice ID,Transfer"
)
WOOCOMMERCE = (
    "Order Number,Order Status,Order Date,First Name (Billing),Last Name (Billing),"
    "Email (Billing),Phone (Billing),Item #,Item Name,Quantity (- Refund),Item Cost,Coupon Code,"
    "Order Subtotal Amount,Order Refund Amount,Order Total Amount,Order Total Tax Amount"
)
UCI_1 = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country"
UCI_2 = "\ufeffInvoice,StockCode,Description,Quantity,InvoiceDate,Price,Customer ID,Country"
ETSY = (
    "Sale Date,Order ID,Buyer User ID,Full Name,First Name,Last Name,Number of Items,"
    "Payment Method,Date Shipped,Currency,Order Value,Coupon Code,Coupon Details,Discount Amount,"
    "Shipping Discount,Shipping,Sales Tax,Order Total,Status,Card Processing Fees,Order Net,Buyer,SKU"
)
SQUARE = (
    "Date,Time,Time Zone,Category,Item,Qty,Price Point Name,SKU,Modifiers Applied,Gross Sales,"
    "Discounts,Net Sales,Tax,Transaction ID,Payment ID,Device Name,Notes,Details,Event Type,"
    "Location,Dining Option,Customer ID,Customer Name,Customer Reference ID"
)

EXPORT_CASES = [
    ("shopify", SHOPIFY, "shopify", "Email", "Created at"),
    ("stripe-older", STRIPE_OLD, "stripe", "Customer ID", "Created (UTC)"),
    ("stripe-newer", STRIPE_NEW, "stripe", "Customer ID", "Created date (UTC)"),
    ("woocommerce", WOOCOMMERCE, "woocommerce", "Email (Billing)", "Order Date"),
    ("uci-1", UCI_1, "uci-online-retail", "CustomerID", "InvoiceDate"),
    ("uci-2-bom", UCI_2, "uci-online-retail", "Customer ID", "InvoiceDate"),
    ("etsy", ETSY, "etsy", "Buyer User ID", "Sale Date"),
    ("square", SQUARE, "square", "Customer ID", "Date"),
]


@pytest.mark.parametrize(
    ("header", "export", "customer", "date"),
    [case[1:] for case in EXPORT_CASES],
    ids=[case[0] for case in EXPORT_CASES],
)
def test_exports_are_recognised_from_a_header_only_file(
    tmp_path: Path, header: str, export: str, customer: str, date: str
) -> None:
    path = tmp_path / "export.csv"
    path.write_bytes((header + "\n").encode("utf-8"))
    headers = list(open_table(str(path)).columns)
    found = detect_export(headers)
    assert found is not None and found.name == export
    mapping = resolve(headers, Kind.orders, name="export.csv", flags={}, config={})
    assert mapping.export == export
    assert mapping.get("customer_id") == customer
    assert mapping.get("order_date") == date
    assert mapping.columns["customer_id"].reason == f"export:{export}"


@pytest.mark.parametrize(
    ("header", "export"),
    [(case[1], case[2]) for case in EXPORT_CASES],
    ids=[case[0] for case in EXPORT_CASES],
)
def test_exports_are_recognised_whatever_the_column_order(header: str, export: str) -> None:
    headers = list(reversed(header.lstrip("\ufeff").split(",")))
    found = detect_export(headers)
    assert found is not None and found.name == export


def test_export_with_columns_users_did_not_choose_is_not_recognised() -> None:
    assert detect_export(["customer_id", "order_date", "amount"]) is None


def test_export_order_and_refund_columns() -> None:
    shopify = resolve(SHOPIFY.split(","), Kind.orders, name="f", flags={}, config={})
    assert shopify.get("order_id") == "Name"
    assert shopify.get("refund_amount") == "Refunded Amount"
    woo = resolve(WOOCOMMERCE.split(","), Kind.orders, name="f", flags={}, config={})
    assert woo.get("order_id") == "Order Number"
    assert woo.get("refund_amount") == "Order Refund Amount"
    uci = resolve(UCI_1.split(","), Kind.orders, name="f", flags={}, config={})
    assert uci.get("order_id") == "InvoiceNo"
    assert uci.get("unit_price") == "UnitPrice"
    assert uci.get("quantity") == "Quantity"


def test_flag_beats_a_recognised_export() -> None:
    mapping = mapped(SHOPIFY.split(","), customer_id="Id")
    assert mapping["customer_id"] == "Id"


def test_source_forces_an_export_and_unknown_source_is_refused() -> None:
    headers = ["Customer ID", "Created (UTC)", "Amount"]
    forced = resolve(headers, Kind.orders, name="f", flags={}, config={}, source="stripe")
    assert forced.export == "stripe"
    assert forced.get("order_date") == "Created (UTC)"
    with pytest.raises(UsageError) as info:
        resolve(headers, Kind.orders, name="f", flags={}, config={}, source="amazon")
    assert "'amazon'" in info.value.message and "shopify" in info.value.message


def test_uci_file_reads_with_no_flags(tmp_path: Path) -> None:
    path = tmp_path / "online_retail.csv"
    path.write_text(
        UCI_1
        + "\n"
        + "536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,12/1/10 8:26,2.55,17850.0,United Kingdom\n"
        + "536366,22633,HAND WARMER UNION JACK,6,12/13/10 8:28,1.85,17850.0,United Kingdom\n"
        + "C536379,D,Discount,-1,12/1/10 9:41,27.50,14527.0,United Kingdom\n"
        + "536414,22139,,56,12/1/10 11:52,0,,United Kingdom\n"
    )
    loaded = load_orders(str(path), LoadOptions(), need_amount=True)
    assert loaded.mapping.export == "uci-online-retail"
    frame = loaded.frame.sort("_retcalc_row")
    assert frame["customer_id"].to_list() == ["17850", "17850", "14527"]
    assert frame["amount"].to_list() == pytest.approx([15.3, 11.1, -27.5])
    assert frame["order_id"].to_list() == ["536365", "536366", "C536379"]
    assert any("1 rows have no customer id" in w for w in loaded.warnings)
