# syntax=docker/dockerfile:1
# Production image of durable-handoff: one image, three processes (pick one with the command).
#   API (default):   node dist/src/api/server.js            (port 3000: /healthz /readyz /metrics)
#   Worker:          node dist/worker.js                    (port 8081: /healthz /readyz /status; 9464: /metrics)
#   Scripted model:  node dist/src/scripted-model/main.js   (port 4010: OpenAI-compatible test double, demo only)
# See docs/production.md.

ARG NODE_IMAGE=node:22-bookworm-slim

##### Build: compile TypeScript to dist/ and bundle the workflows #####
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
# tsc -p tsconfig.build.json (-> dist/) and tsx scripts/bundle-workflows.ts (-> dist/workflow-bundle.js)
RUN npm run build && test -f dist/workflow-bundle.js

##### Runtime: production dependencies, compiled code, bundled teams and data; runs as the non-root user "node" #####
FROM ${NODE_IMAGE} AS runtime
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY teams ./teams
COPY data ./data
# Compiled modules look up teams/ and data/ relative to their own folder (dist/src/...), so link them into dist/ too.
# DATA_DIR (default .data) must be writable by the runtime user.
RUN ln -s ../teams dist/teams \
 && ln -s ../data dist/data \
 && mkdir -p .data \
 && chown node:node .data
# The worker loads the prebuilt workflow bundle instead of bundling at start; HOST=0.0.0.0 so the ports are reachable
# from outside the container (the product default, 127.0.0.1, is for running on a workstation).
ENV NODE_ENV=production \
    WORKFLOW_BUNDLE_PATH=/app/dist/workflow-bundle.js \
    HOST=0.0.0.0
USER node
# 3000: API (PORT) | 8081: worker health (WORKER_HEALTH_PORT) | 9464: worker Prometheus metrics (WORKER_METRICS_PORT)
EXPOSE 3000 8081 9464
CMD ["node", "dist/src/api/server.js"]
