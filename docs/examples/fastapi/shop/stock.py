"""What the shop sells: the logic that the endpoints call.

A real shop would keep its stock in a database; this one keeps it in memory,
but is opened, awaited and closed as a database pool would be.
"""

import asyncio


class Stock:
    def __init__(self):
        self.counts = {"apple": 3, "pear": 0}
        self.is_open = True

    async def count(self, name):
        # Gives the event loop a turn, as a query to a database would.
        await asyncio.sleep(0)
        return self.counts.get(name)

    def close(self):
        self.is_open = False


def open_stock():
    return Stock()
