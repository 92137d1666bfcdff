"""A small FastAPI service instrumented with fastprom.

    uvicorn fastapi_app:app --app-dir examples          # then: curl localhost:8000/metrics

Under several worker processes (``PROMETHEUS_MULTIPROC_DIR`` set), ``/metrics`` serves the merge
of every worker's files: see ``gunicorn.conf.py``, ``uvicorn_workers.py`` and docs/deployment.md.

Endpoints: ``GET /items/{item_id}``, ``GET /api/v1/users/{user_id}`` (router prefix),
``GET /reports/{report_id}`` (mounted sub-application), ``GET /countdown`` (streamed) and
``POST /orders`` (counts orders in an application metric next to the HTTP ones).
"""

import asyncio
from collections.abc import AsyncIterator

from fastapi import APIRouter, FastAPI
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from fastprom import Counter
from fastprom.fastapi import instrument

ORDERS = Counter("shop_orders", "Orders placed, by product.", ["product"])

app = FastAPI(title="fastprom example")


@app.get("/items/{item_id}")
async def get_item(item_id: int) -> dict[str, object]:
    return {"id": item_id, "name": f"item-{item_id}"}


class Order(BaseModel):
    product: str
    quantity: int = 1


@app.post("/orders")
async def place_order(order: Order) -> dict[str, object]:
    ORDERS.labels(order.product).inc(order.quantity)
    return {"accepted": True, **order.model_dump()}


@app.get("/countdown")
async def countdown() -> StreamingResponse:
    async def lines() -> AsyncIterator[str]:
        for n in range(3, 0, -1):
            yield f"{n}\n"
            await asyncio.sleep(0.1)
        yield "liftoff\n"

    return StreamingResponse(lines(), media_type="text/plain")


users = APIRouter(prefix="/api/v1")


@users.get("/users/{user_id}")
async def get_user(user_id: int) -> dict[str, int]:
    return {"id": user_id}


app.include_router(users)

reports = FastAPI()


@reports.get("/{report_id}")
async def get_report(report_id: str) -> dict[str, str]:
    return {"report": report_id}


app.mount("/reports", reports)


# The middleware and GET /metrics, in one call. Under several workers (gunicorn -w N,
# uvicorn --workers N, with PROMETHEUS_MULTIPROC_DIR set) /metrics serves the merged view of
# every worker's files.
instrument(app)
