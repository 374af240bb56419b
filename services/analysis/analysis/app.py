"""The analysis service: stateless reading of cart exports and CPET/lactate computation behind a thin FastAPI layer."""
from fastapi import FastAPI

from servicekit.fastapi import install

from .api import router


def create_app() -> FastAPI:
    app = FastAPI(
        title="VO2max Report — analysis",
        description="Reads cart exports into one normalized table and computes VO2max, thresholds, zones, FATmax.",
        version="1.0.0",
        openapi_url="/openapi.json",
        docs_url=None,
        redoc_url=None,
    )
    install(app, "analysis")  # nothing to be ready for: the service owns no data
    app.include_router(router)
    return app


app = create_app()
