# syntax=docker/dockerfile:1
# The k8s-watch-policy image: the CLI (webhook, controller, inject, elect, certs) on Node 24.
#   docker build -t ghcr.io/deepflowio/k8s-watch-policy:0.1.0 .

# Build: compile TypeScript. --ignore-scripts: the devDependency `node` (a Node binary for the
# npm scripts) is neither downloaded nor needed; tsc runs on the image's own node.
FROM node:24-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN node node_modules/typescript/bin/tsc -p tsconfig.build.json

# Production dependencies only (no devDependencies: no `node` package, no TypeScript, no jest).
FROM node:24-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

FROM node:24-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY package.json ./
# Not root; numeric so that Kubernetes can verify runAsNonRoot (the chart runs it as 65532).
USER 65532:65532
ENTRYPOINT ["node", "/app/dist/cli/main.js"]
CMD ["--help"]
