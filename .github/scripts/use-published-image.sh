#!/usr/bin/env bash
# Point an action.yml at a published image instead of the Dockerfile.
#
#   use-published-image.sh IMAGE [ACTION_YML]
#
# IMAGE is a registry reference such as ghcr.io/owner/evalbot:v1.2.3 (Docker
# wants it lowercase). The release workflow runs this on the release tag's
# commit, so `uses: owner/evalbot@v1.2.3` pulls the image the workflow just
# pushed (seconds) instead of building the Dockerfile on every run (tens of
# seconds); the repository's own CI and branches keep `image: Dockerfile`.
set -euo pipefail

image="${1:?usage: use-published-image.sh IMAGE [ACTION_YML]}"
file="${2:-action.yml}"

name="${image%:*}"
if [[ "$name" != "${name,,}" ]]; then
  echo "use-published-image: the image name must be lowercase: $name" >&2
  exit 2
fi
if [[ ! "$image" =~ ^[a-z0-9.-]+(:[0-9]+)?/[a-z0-9._/-]+:[A-Za-z0-9._-]+$ ]]; then
  echo "use-published-image: not a registry/name:tag reference: $image" >&2
  exit 2
fi
count="$(grep -c '^  image: Dockerfile$' "$file" || true)"
if [[ "$count" != 1 ]]; then
  echo "use-published-image: $file must have exactly one '  image: Dockerfile' line, found $count" >&2
  exit 2
fi
sed -i "s|^  image: Dockerfile\$|  image: docker://${image}|" "$file"
