"""A story service as teams first write it: FastAPI, and BackgroundTasks for the ~45 s job.

It works on a laptop. In production it loses every story being written when the process
restarts (a deploy, a dyno cycling, an OOM kill), keeps its stories in one process's memory, so
a second web process knows none of them, and ties the job to the web process that took it.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from typing import Any

from fastapi import BackgroundTasks, FastAPI, HTTPException
from pydantic import BaseModel, Field

SECONDS_PER_SECTION = float(os.environ.get("STORY_SECONDS_PER_SECTION", "3"))

app = FastAPI()
stories: dict[str, dict[str, Any]] = {}


class StoryRequest(BaseModel):
    topic: str = Field(min_length=1, max_length=200)
    sections: int = Field(default=15, ge=1, le=100)


async def write_section(topic: str, n: int) -> dict[str, Any]:
    """One slow model call (here: a sleep) that writes section ``n``."""
    await asyncio.sleep(SECONDS_PER_SECTION)
    return {"n": n, "text": f"Section {n} of a story about {topic}.", "pid": os.getpid()}


async def write_story(story_id: str, request: StoryRequest) -> None:
    story = stories[story_id]
    for n in range(1, request.sections + 1):
        story["sections"].append(await write_section(request.topic, n))
        story["progress"] = {"done": n, "total": request.sections}
    story["status"] = "succeeded"


@app.post("/stories", status_code=202)
async def create_story(request: StoryRequest, background: BackgroundTasks) -> dict[str, Any]:
    story_id = uuid.uuid4().hex
    stories[story_id] = {"id": story_id, "status": "running", "sections": [], "progress": {}}
    background.add_task(write_story, story_id, request)
    return stories[story_id]


@app.get("/stories/{story_id}")
async def get_story(story_id: str) -> dict[str, Any]:
    if story_id not in stories:
        raise HTTPException(404, "no such story")
    return stories[story_id]
