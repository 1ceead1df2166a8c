"""Real exports end to end (issue 26): row meanings, order-level amounts, customer
identity and each export's specifics, on small hand-made files in the layouts of
EXPORTS.md, with the customers, orders and revenue of each month computed by hand.

Each rule is shown to matter: the figures differ when it is switched off (the
status map removed, ``--amount-level line``...)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from retcalc.io.load import ENGINE_VARIABLE
from tests.cli.test_cli_contract import fails_cleanly, invoke, ok


@pytest.fixture(autouse=True)
def _isolated_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run in an empty directory so a ./retcalc.yaml of the checkout cannot change results."""
    monkeypatch.chdir(tmp_path)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def kpis(path: Path, *args: str) -> tuple[dict[str, dict[str, Any]], str]:
    """``kpis --period month`` rows by month start, and stderr."""
    result = ok(invoke(["kpis", str(path), "--period", "month", "-f", "json", *args]))
    return {r["period_start"]: r for r in json.loads(result.stdout)}, result.stderr


def figures(rows: dict[str, dict[str, Any]]) -> dict[str, tuple[int, int, float]]:
    """Customers, orders and revenue of each month."""
    return {
        month: (r["customers"], r["orders"], pytest.approx(r["revenue"]))
        for month, r in rows.items()
    }


# Shopify: #1001 (Bob, two lines, the second without status or Total), #1002 (Bob again,
# other case and a trailing space); #1003 Ann's pending order (its second line has no
# status: it takes the order's). Feb: #1004 partially refunded 40 - 15, #1005 refunded
# in full (a purchase of 0), #1006 Bob.
#   Jan: customers 1 (bob), orders 2, revenue 30 + 20 = 50
#   Feb: customers 3 (cat, dan, bob), orders 3, revenue 25 + 0 + 10 = 35
SHOPIFY = """\
Name,Email,Financial Status,Paid at,Fulfillment Status,Currency,Subtotal,Shipping,Taxes,Total,Created at,Lineitem quantity,Lineitem name,Lineitem price,Lineitem sku,Cancelled at,Refunded Amount,Id,Source
#1001,Bob@Example.com,paid,2024-01-05 10:00:00 -0500,fulfilled,USD,28.00,2.00,0.00,30.00,2024-01-05 10:00:00 -0500,1,Mug,20.00,MUG-1,,0.00,5001,web
#1001,Bob@Example.com,,,,,,,,,2024-01-05 10:00:00 -0500,1,Tea,8.00,TEA-1,,,,
#1002,bob@example.com ,paid,2024-01-20 10:00:00 -0500,fulfilled,USD,18.00,2.00,0.00,20.00,2024-01-20 10:00:00 -0500,1,Tea,18.00,TEA-1,,0.00,5002,web
#1003,ann@example.com,pending,,,USD,48.00,2.00,0.00,50.00,2024-01-10 10:00:00 -0500,1,Pot,40.00,POT-1,,0.00,5003,web
#1003,ann@example.com,,,,,,,,,2024-01-10 10:00:00 -0500,1,Lid,8.00,LID-1,,,,
#1004,cat@example.com,partially_refunded,2024-02-03 10:00:00 -0500,fulfilled,USD,38.00,2.00,0.00,40.00,2024-02-03 10:00:00 -0500,1,Pot,38.00,POT-1,,15.00,5004,web
#1005,dan@example.com,refunded,2024-02-10 10:00:00 -0500,,USD,58.00,2.00,0.00,60.00,2024-02-10 10:00:00 -0500,1,Set,58.00,SET-1,,60.00,5005,web
#1006,BOB@example.com,paid,2024-02-15 10:00:00 -0500,fulfilled,USD,8.00,2.00,0.00,10.00,2024-02-15 10:00:00 -0500,1,Tea,8.00,TEA-1,,0.00,5006,web
"""


def test_shopify(tmp_path: Path) -> None:
    path = write(tmp_path, "orders_export_1.csv", SHOPIFY)
    rows, stderr = kpis(path)
    assert figures(rows) == {"2024-01-01": (1, 2, 50.0), "2024-02-01": (3, 3, 35.0)}
    assert "does not know" not in stderr
    # The rule matters: mapped as a sale, Ann's pending order adds a customer and 50.
    rows, _ = kpis(path, "--status-map", "pending=paid")
    assert figures(rows)["2024-01-01"] == (2, 3, 100.0)
    # A refunded order without a refund figure is still a purchase of 0.
    path.write_text(SHOPIFY.replace(",,60.00,5005,", ",,,5005,"))
    rows, _ = kpis(path)
    assert figures(rows)["2024-02-01"] == (3, 3, 35.0)
    # ...and its refund is what takes the revenue away: mapped as paid it counts 60.
    rows, _ = kpis(path, "--status-map", "refunded=paid")
    assert figures(rows)["2024-02-01"] == (3, 3, 95.0)


# WooCommerce Advanced Order Export: 2001 has two lines with the order's total on each;
# 2002 Pending payment and 2003 Failed are no sales; 2004 nets a refund of 10.
#   Jan: customers 1, orders 1, revenue 50
#   Feb: customers 2, orders 2, revenue (30 - 10) + 25 = 45
WOOCOMMERCE = """\
Order Number,Order Status,Order Date,First Name (Billing),Last Name (Billing),Email (Billing),Phone (Billing),Item #,Item Name,Quantity (- Refund),Item Cost,Coupon Code,Order Subtotal Amount,Order Refund Amount,Order Total Amount,Order Total Tax Amount
2001,Completed,2024-01-05 10:00,Ann,Lee,ann@example.com,555,1,Mug,1,30.00,,45.00,0.00,50.00,0.00
2001,Completed,2024-01-05 10:00,Ann,Lee,ann@example.com,555,2,Tea,1,15.00,,45.00,0.00,50.00,0.00
2002,Pending payment,2024-01-07 10:00,Bo,Chan,bo@example.com,556,1,Tea,1,15.00,,15.00,0.00,15.00,0.00
2003,Failed,2024-01-08 10:00,Cy,Diaz,cy@example.com,557,1,Mug,1,20.00,,20.00,0.00,20.00,0.00
2004,Completed,2024-02-02 10:00,Ann,Lee,ann@example.com,555,1,Tea,2,15.00,,30.00,10.00,30.00,0.00
2005,wc-processing,2024-02-09 10:00,Bo,Chan,bo@example.com,556,1,Mug,1,25.00,,25.00,0.00,25.00,0.00
"""


def test_woocommerce(tmp_path: Path) -> None:
    path = write(tmp_path, "orders-2024-03-01.csv", WOOCOMMERCE)
    rows, stderr = kpis(path)
    assert figures(rows) == {"2024-01-01": (1, 1, 50.0), "2024-02-01": (2, 2, 45.0)}
    assert "does not know" not in stderr
    # Counted on every line, 2001 would be 100 (and 2004's refund twice is still one line).
    rows, _ = kpis(path, "--amount-level", "line")
    assert figures(rows)["2024-01-01"] == (1, 1, 100.0)
    rows, _ = kpis(path, "--status-map", "pending payment=paid", "--status-map", "failed=paid")
    assert figures(rows)["2024-01-01"] == (3, 3, 85.0)


def test_woocommerce_product_is_the_item_name(tmp_path: Path) -> None:
    path = write(tmp_path, "orders-2024-03-01.csv", WOOCOMMERCE)
    result = ok(
        invoke(["kpis", str(path), "--period", "month", "--by", "product_id", "-f", "json"])
    )
    products = {r["product_id"] for r in json.loads(result.stdout)}
    assert products == {"Mug", "Tea"}  # not Item # (1, 2)


# A generic file whose amount is the order's total on each of its lines (3 orders of
# several lines): Jan o1 30 + o2 20 = 50; Feb o3 40 + o4 15 = 55. Counted per line:
# Jan 100, Feb 95.
REPEATED = """\
customer_id,order_id,order_date,amount,product
c1,o1,2024-01-05,30,A
c1,o1,2024-01-05,30,B
c2,o2,2024-01-10,20,A
c2,o2,2024-01-10,20,C
c1,o3,2024-02-01,40,B
c1,o3,2024-02-01,40,C
c3,o4,2024-02-05,15,A
"""
# The same orders with real per-line amounts: Jan 10 + 20 + 5 + 15, Feb 25 + 15 + 15.
PER_LINE = """\
customer_id,order_id,order_date,amount,product
c1,o1,2024-01-05,10,A
c1,o1,2024-01-05,20,B
c2,o2,2024-01-10,5,A
c2,o2,2024-01-10,15,C
c1,o3,2024-02-01,25,B
c1,o3,2024-02-01,15,C
c3,o4,2024-02-05,15,A
"""


def test_generic_order_total_repeated_on_lines_counts_once(tmp_path: Path) -> None:
    path = write(tmp_path, "orders.csv", REPEATED)
    rows, stderr = kpis(path)
    assert figures(rows) == {"2024-01-01": (2, 2, 50.0), "2024-02-01": (2, 2, 55.0)}
    assert "column 'amount' (amount) is the same on every line" in stderr
    assert "--amount-level line" in stderr
    rows, stderr = kpis(path, "--amount-level", "line")
    assert figures(rows) == {"2024-01-01": (2, 2, 100.0), "2024-02-01": (2, 2, 95.0)}
    assert "same on every line" not in stderr


def test_generic_per_line_amounts_are_not_deduplicated(tmp_path: Path) -> None:
    path = write(tmp_path, "orders.csv", PER_LINE)
    rows, stderr = kpis(path)
    assert figures(rows) == {"2024-01-01": (2, 2, 50.0), "2024-02-01": (2, 2, 55.0)}
    assert "same on every line" not in stderr


def test_two_repeated_orders_are_too_few_to_tell(tmp_path: Path) -> None:
    # Only o1 and o2 have several lines: not enough to read the amount as a total.
    path = write(tmp_path, "orders.csv", "\n".join(REPEATED.splitlines()[:5]) + "\n")
    rows, stderr = kpis(path)
    assert figures(rows) == {"2024-01-01": (2, 2, 100.0)}
    assert "same on every line" not in stderr


# A German shop: c1 paid 10 (Jan), c2 storniert 20, c3 ausstehend 30 + 5 (Jan),
# c1 erstattet 40 (Feb), c2 paid 25 (Feb).
GERMAN = """\
customer_id,order_id,order_date,amount,status
c1,o1,2024-01-05,10,paid
c2,o2,2024-01-06,20,storniert
c3,o3,2024-01-07,30,ausstehend
c3,o4,2024-01-20,5,ausstehend
c1,o5,2024-02-03,40,erstattet
c2,o6,2024-02-04,25,paid
"""
GERMAN_MAP = [
    "--status-map",
    "storniert=cancelled",
    "--status-map",
    "erstattet=refunded",
    "--status-map",
    "ausstehend=pending",
]
# Mapped: Jan only c1 (10); Feb c1's refunded purchase (0) and c2 (25).
GERMAN_MAPPED = {"2024-01-01": (1, 1, 10.0), "2024-02-01": (2, 2, 25.0)}


def test_unknown_statuses_are_named_and_counted_as_paid(tmp_path: Path) -> None:
    path = write(tmp_path, "orders.csv", GERMAN)
    rows, stderr = kpis(path)
    assert figures(rows) == {"2024-01-01": (3, 4, 65.0), "2024-02-01": (2, 2, 65.0)}
    text = " ".join(stderr.split())
    assert (
        "'ausstehend' (2 rows), 'erstattet' (1 row), 'storniert' (1 row); counted as paid" in text
    )
    assert "--status-map" in text


def test_status_map_flags(tmp_path: Path) -> None:
    path = write(tmp_path, "orders.csv", GERMAN)
    rows, stderr = kpis(path, *GERMAN_MAP)
    assert figures(rows) == GERMAN_MAPPED
    assert "does not know" not in stderr
    # Leaving one out brings it back as a sale, and names it.
    rows, stderr = kpis(path, *GERMAN_MAP[:4])
    assert figures(rows)["2024-01-01"] == (2, 3, 45.0)
    assert "'ausstehend' (2 rows)" in stderr


def test_statuses_in_the_config(tmp_path: Path) -> None:
    path = write(tmp_path, "orders.csv", GERMAN)
    config = write(
        tmp_path,
        "mine.yaml",
        "statuses:\n  Storniert: cancelled\n  erstattet: refunded\n  ausstehend: pending\n",
    )
    rows, stderr = kpis(path, "--config", str(config))
    assert figures(rows) == GERMAN_MAPPED
    assert "does not know" not in stderr
    # --status-map beats the config.
    rows, _ = kpis(path, "--config", str(config), "--status-map", "ausstehend=paid")
    assert figures(rows)["2024-01-01"] == (2, 3, 45.0)


def test_strict_refuses_unknown_statuses(tmp_path: Path) -> None:
    path = write(tmp_path, "orders.csv", GERMAN)
    stderr = fails_cleanly(invoke(["kpis", str(path), "--strict"]))
    assert "'storniert' (1 row)" in stderr and "--strict" in stderr
    ok(invoke(["kpis", str(path), "--strict", *GERMAN_MAP]))


@pytest.mark.parametrize("item", ["storniert", "storniert=weg"])
def test_a_bad_status_map_is_a_usage_error(tmp_path: Path, item: str) -> None:
    path = write(tmp_path, "orders.csv", GERMAN)
    stderr = fails_cleanly(invoke(["kpis", str(path), "--status-map", item]))
    assert "--status-map" in stderr


def test_inspect_lists_statuses(tmp_path: Path) -> None:
    path = write(tmp_path, "orders.csv", GERMAN)
    result = ok(invoke(["inspect", str(path), "--json", "--status-map", "erstattet=refunded"]))
    statuses = {s["status"]: s for s in json.loads(result.stdout)["statuses"]}
    assert statuses["ausstehend"] == {
        "status": "ausstehend",
        "rows": 2,
        "meaning": "paid",
        "from": "unknown",
    }
    assert statuses["erstattet"]["meaning"] == "refunded"
    assert statuses["erstattet"]["from"] == "user"
    assert statuses["paid"]["from"] == "built-in"


# Placeholders: seven rows with no customer; c1 (Jan, Feb) and c2 (Jan) are customers.
PLACEHOLDERS = """\
customer_id,order_date,amount
c1,2024-01-05,10
Guest,2024-01-06,11
N/A,2024-01-07,12
-,2024-01-08,13
NULL,2024-01-09,14
unknown,2024-01-10,15
ANONYMOUS,2024-01-11,16
,2024-01-12,17
c2,2024-01-13,20
c1,2024-02-01,5
"""


def test_placeholder_ids_are_no_customer(tmp_path: Path) -> None:
    path = write(tmp_path, "orders.csv", PLACEHOLDERS)
    rows, stderr = kpis(path)
    assert figures(rows) == {"2024-01-01": (2, 2, 30.0), "2024-02-01": (1, 1, 5.0)}
    assert "7 rows have no customer id" in " ".join(stderr.split())


# Stripe, newer header. ch_2 is not captured, ch_3 failed, ch_4 refunded 15 of 40.
#   Mar: customers 1 (cus_A), orders 2, revenue 50 + 25 = 75;  Apr: cus_B 10.
STRIPE = """\
id,Created date (UTC),Amount,Amount Refunded,Currency,Captured,Converted Amount,Converted Amount Refunded,Converted Currency,Decline Reason,Description,Fee,Refunded date (UTC),Statement Descriptor,Status,Seller Message,Taxes On Fee,Card ID,Customer ID,Customer Description,Customer Email,Invoice ID,Transfer
ch_1,2024-03-01 10:00:00,50.00,0.00,usd,true,50.00,0.00,usd,,Order,1.75,,ACME,Paid,Payment complete.,0,card_1,cus_A,,a@example.com,,
ch_2,2024-03-05 10:00:00,30.00,0.00,usd,false,30.00,0.00,usd,,Order,0,,ACME,Paid,Authorized only.,0,card_2,cus_B,,b@example.com,,
ch_3,2024-03-07 10:00:00,20.00,0.00,usd,true,20.00,0.00,usd,card_declined,Order,0,,ACME,Failed,Your card was declined.,0,card_3,cus_C,,c@example.com,,
ch_4,2024-03-10 10:00:00,40.00,15.00,usd,true,40.00,15.00,usd,,Order,1.45,2024-03-12 09:00:00,ACME,Refunded,Payment complete.,0,card_1,cus_A,,a@example.com,,
ch_5,2024-04-02 10:00:00,10.00,0.00,usd,true,10.00,0.00,usd,,Order,0.59,,ACME,Paid,Payment complete.,0,card_2,cus_B,,b@example.com,,
"""


def test_stripe(tmp_path: Path) -> None:
    path = write(tmp_path, "unified_payments.csv", STRIPE)
    rows, stderr = kpis(path)
    assert figures(rows) == {"2024-03-01": (1, 2, 75.0), "2024-04-01": (1, 1, 10.0)}
    assert rows["2024-04-01"]["new_customers"] == 1  # cus_B's uncaptured charge was nothing
    assert "does not know" not in stderr
    # The Failed status alone keeps ch_3 out: mapped as a sale, cus_C counts.
    rows, _ = kpis(path, "--status-map", "failed=paid")
    assert figures(rows)["2024-03-01"] == (2, 3, 95.0)


# Square Item Sales: P1 (Jan 30, two lines 10 + 5) is refunded 5 on Feb 2 (its own
# Transaction ID T9, the sale's Payment ID P1); P2 is Bo's sale in February.
#   Jan: revenue 15 - 5 = 10; Feb: 8.
SQUARE = """\
Date,Time,Time Zone,Category,Item,Qty,Price Point Name,SKU,Modifiers Applied,Gross Sales,Discounts,Net Sales,Tax,Transaction ID,Payment ID,Device Name,Notes,Details,Event Type,Location,Dining Option,Customer ID,Customer Name,Customer Reference ID
2024-01-30,09:15:00,Eastern Time (US & Canada),Food,Cake,1,Regular,CAK-1,,$10.00,$0.00,$10.00,$0.80,T1,P1,iPad,,,Payment,Main St,,CUST1,Ann,
2024-01-30,09:15:00,Eastern Time (US & Canada),Coffee,Mocha,1,Regular,MOC-1,,$5.00,$0.00,$5.00,$0.40,T1,P1,iPad,,,Payment,Main St,,CUST1,Ann,
2024-02-02,11:00:00,Eastern Time (US & Canada),Coffee,Mocha,-1,Regular,MOC-1,,-$5.00,$0.00,-$5.00,-$0.40,T9,P1,iPad,,,Refund,Main St,,CUST1,Ann,
2024-02-10,08:00:00,Eastern Time (US & Canada),Coffee,Latte,2,Regular,LAT-1,,$8.00,$0.00,$8.00,$0.64,T2,P2,iPad,,,Payment,Main St,,CUST2,Bo,
"""


def test_square_refund_nets_in_the_sales_month(tmp_path: Path) -> None:
    path = write(tmp_path, "items-2024-01-01-2024-03-01.csv", SQUARE)
    churn = ok(invoke(["churn", str(path), "-w", "1mo", "-f", "json"]))
    revenue = {r["period_start"]: r["revenue"] for r in json.loads(churn.stdout)}
    assert revenue == {"2024-01-01": pytest.approx(10.0), "2024-02-01": pytest.approx(8.0)}
    rows, _ = kpis(path)
    # Ann's refund is no February purchase: February has Bo only.
    assert figures(rows) == {"2024-01-01": (1, 1, 10.0), "2024-02-01": (1, 1, 8.0)}


# Returns: o1 paid 2 x 10, o2 pending 30, o3 failed 40, o4 cancelled 50, o5 refunded 25.
STATUSES = """\
customer_id,order_id,order_date,product_id,quantity,amount,status
c1,o1,2024-01-05,P1,2,20.00,paid
c2,o2,2024-01-06,P1,1,30.00,pending
c3,o3,2024-01-07,P2,1,40.00,failed
c4,o4,2024-01-08,P2,1,50.00,cancelled
c5,o5,2024-01-09,P3,1,25.00,refunded
"""


def test_returns_only_count_sales(tmp_path: Path) -> None:
    path = write(tmp_path, "orders.csv", STATUSES)
    result = ok(invoke(["returns", str(path), "--period", "month", "-f", "json"]))
    [row] = json.loads(result.stdout)
    assert (row["orders"], row["orders_returned"]) == (2, 1)
    assert (row["units_sold"], row["units_returned"]) == (3, 1)
    assert row["gross_sales"] == pytest.approx(45.0)
    assert row["refunded"] == pytest.approx(25.0)
    # Mapped as sales, pending and failed orders join the sales.
    mapped = ok(
        invoke(
            [
                "returns",
                str(path),
                "--period",
                "month",
                "-f",
                "json",
                "--status-map",
                "pending=paid",
                "--status-map",
                "failed=paid",
            ]
        )
    )
    [row] = json.loads(mapped.stdout)
    assert (row["orders"], row["gross_sales"]) == (4, pytest.approx(115.0))


# Etsy: the refund is Order Total - Adjusted Order Total, at most the Order Value (the
# totals include shipping). #2: 45 - 30 = 15 refunded of 40; #3 adjusted to 0: all 10 back;
# #4 canceled; #1 no adjustment.
#   Jan: customers 2, orders 2, revenue 20 + (40 - 15) = 45
#   Feb: customers 1 (ann: a refunded order is a purchase), orders 1, revenue 10 - 10 = 0
ETSY = """\
Sale Date,Order ID,Buyer User ID,Full Name,Number of Items,Currency,Order Value,Discount Amount,Shipping,Sales Tax,Order Total,Status,Adjusted Order Total
01/05/24,1,u1,Ann,1,USD,20.00,0,5.00,0,25.00,Completed,
01/20/24,2,u2,Bo,1,USD,40.00,0,5.00,0,45.00,Completed,30.00
02/03/24,3,u1,Ann,1,USD,10.00,0,5.00,0,15.00,Completed,0
02/04/24,4,u3,Cy,1,USD,10.00,0,5.00,0,15.00,Canceled,
"""


def test_etsy_refunds_through_the_adjusted_order_total(tmp_path: Path) -> None:
    path = write(tmp_path, "EtsySoldOrders2024.csv", ETSY)
    rows, _ = kpis(path)
    assert figures(rows) == {"2024-01-01": (2, 2, 45.0), "2024-02-01": (1, 1, 0.0)}
    # Without the adjusted totals, nothing is netted.
    plain = write(
        tmp_path, "plain.csv", "\n".join(line.rsplit(",", 1)[0] for line in ETSY.splitlines())
    )
    rows, _ = kpis(plain)
    assert figures(rows) == {"2024-01-01": (2, 2, 60.0), "2024-02-01": (1, 1, 10.0)}


# Every path: the same meanings in memory and read in batches (streaming).
PARITY = [
    ("orders.csv", GERMAN, ["kpis", "--period", "month", *GERMAN_MAP]),
    ("orders.csv", GERMAN, ["churn", "-w", "1mo"]),
    ("orders.csv", STATUSES, ["returns", "--period", "month"]),
    ("unified_payments.csv", STRIPE, ["kpis", "--period", "month"]),
    ("orders_export_1.csv", SHOPIFY, ["kpis", "--period", "month"]),
    ("orders-2024-03-01.csv", WOOCOMMERCE, ["churn", "-w", "1mo"]),
    ("orders.csv", REPEATED, ["kpis", "--period", "month"]),
    ("items-2024-01-01-2024-03-01.csv", SQUARE, ["churn", "-w", "1mo"]),
    ("EtsySoldOrders2024.csv", ETSY, ["kpis", "--period", "month"]),
]


@pytest.mark.parametrize(("name", "text", "command"), PARITY, ids=lambda p: str(p)[:20])
def test_streaming_reads_the_same_meanings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, text: str, command: list[str]
) -> None:
    from retcalc.io import batched

    path = write(tmp_path, name, text)
    args = [command[0], str(path), *command[1:], "-f", "json"]
    monkeypatch.setattr(batched, "BATCH_ROWS", 2)
    monkeypatch.setenv(ENGINE_VARIABLE, "in-memory")
    whole = ok(invoke(args))
    monkeypatch.setenv(ENGINE_VARIABLE, "streaming")
    split = ok(invoke(args))
    assert (split.stdout, split.stderr) == (whole.stdout, whole.stderr)
