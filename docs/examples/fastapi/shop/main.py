"""The shop's FastAPI app: gunicorn serves it as shop.main:app."""

import logging
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI, HTTPException, Request

from shop import stock

# uvicorn's worker class sends this logger to gunicorn's log: these lines show
# which process runs each half of the lifespan.
log = logging.getLogger("uvicorn.error")


@asynccontextmanager
async def lifespan(app):
    # Startup: each worker, before it serves its first request.
    app.state.stock = stock.open_stock()
    log.info("shop: stock opened")
    yield
    # Shutdown: each worker, when it stops gracefully.
    app.state.stock.close()
    log.info("shop: stock closed")


app = FastAPI(lifespan=lifespan)


def current_stock(request: Request):
    """The dependency: the stock that this worker's lifespan opened."""
    return request.app.state.stock


@app.get("/health")
def health():
    # A sync endpoint: FastAPI runs it in a thread of its pool.
    return {"status": "ok"}


@app.get("/items/{name}")
async def item(name: str, shop_stock: stock.Stock = Depends(current_stock)):
    # An async endpoint: it runs on the event loop, and waits in the middle.
    count = await shop_stock.count(name)
    if count is None:
        raise HTTPException(status_code=404, detail=f"no {name} here")
    if count == 0:
        return {"item": name, "available": False}
    return {"item": name, "available": True, "count": count}
