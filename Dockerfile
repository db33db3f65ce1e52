# syntax=docker/dockerfile:1
# Multi-stage: build with the dev dependencies, ship only dist/ and the production ones, as non-root.
#   docker build -t mountstorm .
# On Kubernetes use deploy/kubernetes (the DaemonSet mounts /proc and /sys under /host).
# BASE: any image with Node 20 (node and npm on PATH, /bin/sh); the official one by default. The
# tests build with a base assembled from this machine's Debian packages (no registry is reachable).
ARG BASE=node:20.20-bookworm-slim
FROM ${BASE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
COPY test ./test
RUN npm run build && npm prune --omit=dev

FROM ${BASE}
LABEL org.opencontainers.image.title="mountstorm" \
      org.opencontainers.image.description="Prometheus exporter that sees Linux mount storms coming" \
      org.opencontainers.image.source="https://github.com/mountstorm/mountstorm" \
      org.opencontainers.image.licenses="Apache-2.0"
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build --chown=root:root /src/package.json ./
COPY --from=build --chown=root:root /src/node_modules ./node_modules
COPY --from=build --chown=root:root /src/dist/src ./dist/src
# nobody: the base DaemonSet runs non-root; the tracefs overlay overrides this with root + CAP_SYS_ADMIN.
USER 65534:65534
EXPOSE 9866
ENTRYPOINT ["node", "/app/dist/src/cli.js"]
CMD ["serve"]
