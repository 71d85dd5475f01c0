"""What the /orders route runs: plain Python that takes real time per request.

lib.py's functions are one line each, so a request to /foo spends its time in
Flask and gunicorn, code coverage does not measure. A request to /orders spends
most of it here, in measured code: the two routes show what measuring costs a
server whose requests run little of its own code, and one whose requests run a lot.
"""

CUSTOMERS = ["ada", "grace", "linus", "guido", "barbara"]
PRICES = {"apple": 0.5, "bread": 2.25, "cheese": 4.0, "dates": 3.1, "eggs": 0.3}


def make_orders(count):
    """The same `count` orders every time, without randomness."""
    orders = []
    items = list(PRICES)
    for n in range(count):
        lines = []
        for k in range(1 + n % 4):
            item = items[(n + k) % len(items)]
            lines.append((item, 1 + (n * k) % 5))
        orders.append({"customer": CUSTOMERS[n % len(CUSTOMERS)], "lines": lines})
    return orders


def total(order):
    amount = 0.0
    for item, quantity in order["lines"]:
        price = PRICES[item]
        if quantity >= 3:
            price *= 0.9  # Three or more of a kind: 10% off.
        amount += price * quantity
    return round(amount, 2)


def summary(count=1000):
    """Each customer's number of orders and total spent, one line each."""
    spent = {}
    orders = {}
    for order in make_orders(count):
        customer = order["customer"]
        spent[customer] = spent.get(customer, 0.0) + total(order)
        orders[customer] = orders.get(customer, 0) + 1
    return "\n".join(
        f"{customer}: {orders[customer]} orders, {spent[customer]:.2f}"
        for customer in sorted(spent)
    ) + "\n"
