# evalbot's GitHub Action image. GitHub mounts the workspace as the working
# directory and runs the container as root, so there is no WORKDIR or USER.
# Exact version tag. Add the image digest (`@sha256:…`) when cutting a release
# from a machine that can reach the registry; this repo's CI is offline.
FROM python:3.11.7-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# Dependencies first, in their own layer, so source changes rebuild fast.
COPY requirements-action.txt /evalbot/requirements-action.txt
RUN pip install --no-cache-dir -r /evalbot/requirements-action.txt

# Then evalbot itself, non-editable, with its templates.
COPY pyproject.toml README.md /evalbot/
COPY evalbot /evalbot/evalbot
COPY templates /evalbot/templates
RUN pip install --no-cache-dir --no-deps /evalbot

ENTRYPOINT ["evalbot", "action"]
