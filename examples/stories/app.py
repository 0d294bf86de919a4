"""The same story service on skyferry: each section is a checkpointed step of a durable job.

A story survives restarts and kills (a resumed job skips the sections already written), any
number of web and worker processes share the jobs through the database, and the routes keep
their paths and shapes.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, Field

import skyferry

SECONDS_PER_SECTION = float(os.environ.get("STORY_SECONDS_PER_SECTION", "3"))

app = FastAPI()
skyferry.install(app)


class StoryRequest(BaseModel):
    topic: str = Field(min_length=1, max_length=200)
    sections: int = Field(default=15, ge=1, le=100)


@skyferry.step(name="section")
async def write_section(topic: str, n: int) -> dict[str, Any]:
    """One slow model call (here: a sleep) that writes section ``n``."""
    await asyncio.sleep(SECONDS_PER_SECTION)
    return {"n": n, "text": f"Section {n} of a story about {topic}.", "pid": os.getpid()}


@skyferry.job("stories.write", params=StoryRequest)
async def write_story(ctx: skyferry.JobContext, request: StoryRequest) -> dict[str, Any]:
    sections = []
    for n in range(1, request.sections + 1):
        sections.append(await write_section(request.topic, n))
        await ctx.progress(n, request.sections)
    return {"sections": sections}


@app.post("/stories", status_code=202)
async def create_story(request: StoryRequest) -> Any:
    submission = await write_story.submit(request)
    return skyferry.accepted(submission, location=f"/stories/{submission.job.id}")


@app.get("/stories/{story_id}")
async def get_story(story_id: str) -> dict[str, Any]:
    job = await write_story.get(story_id)  # unknown ids: 404 problem+json
    done = job.status is skyferry.JobStatus.SUCCEEDED
    result = await write_story.result(story_id) if done else {"sections": []}
    return {"id": job.id, "status": job.status, "progress": job.progress, **result}
