# syntax=docker/dockerfile:1
# The k8s-watch-policy image: the CLI (webhook, controller, inject, elect, certs) on Node 24.
#
# Where a registry is reachable (docker, podman or buildah), from source on node:24-slim:
#   docker build -t ghcr.io/deepflowio/k8s-watch-policy:0.1.0 .
# BASE replaces node:24-slim by any image with Node 24 as `node` on PATH (and npm, for the build
# stages). Without a registry or a network, `npm run image` (docs/image.md) builds the `runtime`
# stage below on a local base (mmdebstrap + the Node binary of the npm package `node`), then adds
# the app prepared outside the build with Dockerfile.prebuilt: no stage that runs npm is built.
ARG BASE=node:24-slim

# Build: compile TypeScript. --ignore-scripts: the devDependency `node` (a Node binary for the
# npm scripts) is neither downloaded nor needed; tsc runs on the image's own node.
FROM ${BASE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN node node_modules/typescript/bin/tsc -p tsconfig.build.json

# Production dependencies only (no devDependencies: no `node` package, no TypeScript, no jest).
FROM ${BASE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

# What the image is, apart from the app: Node, /app, not root, the CLI as entrypoint. Also the base
# of Dockerfile.prebuilt (npm run image offline). COPY leaves files owned by root whatever USER
# says, so the app is read-only to the process.
FROM ${BASE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
# Not root; numeric so that Kubernetes can verify runAsNonRoot (the chart runs it as 65532).
USER 65532:65532
ENTRYPOINT ["node", "/app/dist/cli/main.js"]
CMD ["--help"]

# The image (the default, last target): the app built from source above.
FROM runtime
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY --from=build /src/dist ./dist
