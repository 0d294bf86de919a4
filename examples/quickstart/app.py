from fastapi import FastAPI
from pydantic import BaseModel

import skyferry

app = FastAPI()
skyferry.install(app)  # /jobs routes, lifespan (engine, storage), problem+json handlers


class Count(BaseModel):
    n: int


@skyferry.job("mine.count", params=Count)
async def count(ctx: skyferry.JobContext, params: Count) -> dict[str, int]:
    for i in range(params.n):
        await ctx.progress(i + 1, params.n)
    return {"n": params.n}


@app.post("/count")
async def start(params: Count):
    return skyferry.accepted(await count.submit(params))  # 202 + Location: /jobs/{id}
