# syntax=docker/dockerfile:1
# The hapi hub in a container: `docker build -t hapi-hub . && docker run -d --name hapi-hub
#   -p 127.0.0.1:3737:3737 -p 127.0.0.1:3738:3738 -v hapi-data:/data hapi-hub`
# The owner token is printed once on the first start (`docker logs hapi-hub`) and kept in the
# volume (/data/hub-owner-token). Put it behind a TLS proxy (deploy/) before exposing it further.

# Build stage: dev dependencies (esbuild, TypeScript) and the toolchain for the native addons
# (better-sqlite3 and node-pty build from source here), then only the runtime dependencies kept.
FROM node:20-bookworm-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

# Runtime stage: node, the built CLI and its runtime dependencies; no compiler, no sources.
FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    HAPI_HOME=/data \
    HAPI_HUB_HOST=0.0.0.0 \
    HAPI_HUB_GRPC_PORT=3737 \
    HAPI_HUB_HTTP_PORT=3738
WORKDIR /app
COPY --from=build /src/package.json ./package.json
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY --from=build /src/proto ./proto
COPY --from=build /src/gen/descriptors.binpb ./gen/descriptors.binpb
# A user of its own: the hub never runs as root; HAPI_HOME is private to it (0700).
RUN groupadd --system --gid 10001 hapi \
 && useradd --system --uid 10001 --gid hapi --home-dir /data --shell /usr/sbin/nologin hapi \
 && mkdir -p /data && chown hapi:hapi /data && chmod 700 /data
USER hapi:hapi
# The database, the owner token, sign-ins: everything the hub keeps lives in HAPI_HOME.
VOLUME ["/data"]
EXPOSE 3737 3738
# Healthy while the hub answers on its HTTP port: /healthz where the hub has it (200 healthy,
# 503 not); any other answer below 500 still proves the server is up.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.HAPI_HUB_HTTP_PORT || 3738) + '/healthz').then((r) => process.exit(r.status < 500 ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "/app/dist/hapi.cjs"]
CMD ["hub"]
